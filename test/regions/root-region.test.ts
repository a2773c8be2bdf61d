// The root region (000000, 全国) is what a national-scope user sees first: it must read,
// list and update like any other region.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';

describe('the root region for a national-scope admin', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('when listing regions without parameters, then answers the root with a null parent', async () => {
    const response = await t.request('GET', '/api/regions', t.adminToken);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual([
      {
        code: '000000',
        name: '全国',
        level: 'country',
        parentCode: null,
        regionPath: ['000000'],
        lat: null,
        lng: null,
      },
    ]);
  });

  it('when reading /api/regions/000000 or listing ?level=country, then answers 200', async () => {
    const one = await t.request('GET', '/api/regions/000000', t.adminToken);
    expect(one.statusCode, one.body).toBe(200);
    expect(one.json()).toMatchObject({ code: '000000', parentCode: null });
    const level = await t.request('GET', '/api/regions?level=country', t.adminToken);
    expect(level.statusCode, level.body).toBe(200);
    expect(level.json()).toHaveLength(1);
  });

  it('when renaming the root, then answers the renamed region', async () => {
    const response = await t.request('PATCH', '/api/regions/000000', t.adminToken, { name: '本系统' });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ code: '000000', name: '本系统', parentCode: null, lat: null });
    const again = await t.request('GET', '/api/regions/000000', t.adminToken);
    expect(again.json().name).toBe('本系统');
    await t.request('PATCH', '/api/regions/000000', t.adminToken, { name: '全国' });
  });
});

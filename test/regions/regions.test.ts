import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('region tree', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it('when the national admin asks for their own region, then the root is listed (no coordinates), not a 500', async () => {
    const response = await t.request('GET', '/api/regions', t.adminToken);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual([
      expect.objectContaining({
        code: '000000',
        name: '全国',
        level: 'country',
        parentCode: null,
        lat: null,
        lng: null,
      }),
    ]);
  });

  it('builds the path of every region from the root, level by level', async () => {
    const response = await t.request('GET', `/api/regions/${TREE.villageA.code}`, t.adminToken);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      level: 'village',
      parentCode: TREE.townshipA.code,
      regionPath: ['000000', '440000', '440100', '440106', '440106001', '440106001001'],
    });
  });

  it('accepts 12-digit statistical codes for upper levels and shortens them', async () => {
    const response = await t.request('POST', '/api/regions', t.adminToken, {
      code: '440113000000',
      name: '番禺区',
      parentCode: TREE.city.code,
    });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ code: '440113', level: 'county' });
  });

  it('refuses a code that does not continue its parent’s code', async () => {
    const response = await t.request('POST', '/api/regions', t.adminToken, {
      code: '450102',
      name: '错位区',
      parentCode: TREE.city.code,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().field).toBe('code');
  });

  it('refuses a village code under a county (skipping the township)', async () => {
    const response = await t.request('POST', '/api/regions', t.adminToken, {
      code: '440106001002',
      name: '跳级村',
      parentCode: TREE.countyA.code,
    });
    expect(response.statusCode).toBe(400);
  });

  it('refuses a second region with the same code (409), keeping the first', async () => {
    const response = await t.request('POST', '/api/regions', t.adminToken, { ...TREE.villageA, name: '重名' });
    expect(response.statusCode).toBe(409);
    const kept = await t.request('GET', `/api/regions/${TREE.villageA.code}`, t.adminToken);
    expect(kept.json().name).toBe(TREE.villageA.name);
  });

  it('refuses a latitude without a longitude', async () => {
    const response = await t.request('PATCH', `/api/regions/${TREE.villageA.code}`, t.adminToken, { lat: 23.1 });
    expect(response.statusCode).toBe(400);
    const both = await t.request('PATCH', `/api/regions/${TREE.villageA.code}`, t.adminToken, {
      lat: 23.1,
      lng: 113.3,
    });
    expect(both.statusCode).toBe(200);
    expect(both.json()).toMatchObject({ lat: 23.1, lng: 113.3 });
  });

  it('shows a county user only their county: itself, its children and its subtree', async () => {
    const { token } = await t.userToken('editor', TREE.countyA.code);
    const own = await t.request('GET', '/api/regions', token);
    expect(own.json().map((r: { code: string }) => r.code)).toEqual([TREE.countyA.code]);
    const children = await t.request('GET', `/api/regions?parent=${TREE.countyA.code}`, token);
    expect(children.json().map((r: { code: string }) => r.code)).toEqual([TREE.townshipA.code]);
    const villages = await t.request('GET', '/api/regions?level=village', token);
    expect(villages.json().map((r: { code: string }) => r.code)).toEqual([TREE.villageA.code]);
    expect((await t.request('GET', `/api/regions?parent=${TREE.city.code}`, token)).statusCode).toBe(404);
    expect((await t.request('GET', `/api/regions/${TREE.villageB.code}`, token)).statusCode).toBe(404);
  });

  it('lets a city coordinator see both counties', async () => {
    const { token } = await t.userToken('coordinator', TREE.city.code);
    const counties = await t.request('GET', `/api/regions?parent=${TREE.city.code}`, token);
    expect(counties.json().map((r: { code: string }) => r.code)).toEqual(
      expect.arrayContaining([TREE.countyA.code, TREE.countyB.code]),
    );
  });

  it('lets a county admin create users only inside the county', async () => {
    const { token } = await t.userToken('admin', TREE.countyA.code);
    const inside = await t.request('POST', '/api/users', token, {
      username: 'insider',
      displayName: '区内',
      password: 'long-enough-password',
      role: 'officer',
      regionCode: TREE.villageA.code,
    });
    expect(inside.statusCode).toBe(201);
    const outside = await t.request('POST', '/api/users', token, {
      username: 'outsider2',
      displayName: '区外',
      password: 'long-enough-password',
      role: 'officer',
      regionCode: TREE.villageB.code,
    });
    expect(outside.statusCode).toBe(403);
    const list = await t.request('GET', '/api/users', token);
    const names = list.json().map((u: { username: string }) => u.username);
    expect(names).toContain('insider');
    expect(names).not.toContain('admin');
  });
});

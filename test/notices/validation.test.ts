import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoticeModel } from '../../src/notices/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { WANTED, noticeBody } from '../helpers/notices.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('notice input', () => {
  let t: TestApp;
  let editor: string;

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    editor = (await t.userToken('editor', TREE.countyA.code)).token;
  });
  afterAll(() => t.close());

  const create = (overrides: Record<string, unknown>) =>
    t.request('POST', '/api/notices', editor, noticeBody(overrides));

  it.each([
    ['an empty title', { title: '' }, 'title'],
    ['a whitespace-only title', { title: '   \n\t ' }, 'title'],
    ['an empty body', { body: '' }, 'body'],
    ['a whitespace-only body', { body: '  \n\n  ' }, 'body'],
    ['a body of 20,001 characters', { body: '警'.repeat(20_001) }, 'body'],
    ['an unknown category', { category: 'weather' }, 'category'],
    ['an unknown field', { author: 'x' }, 'author'],
    ['a bad hotline', { hotline: 'call me' }, 'hotline'],
    ['a picture that was never uploaded', { media: [{ sha256: 'a'.repeat(64) }] }, 'media.0.sha256'],
    ['a wanted-clue notice without its case fields', { category: 'wanted_clue' }, 'wanted'],
    [
      'an end of validity before its start',
      { validFrom: '2025-06-02T00:00:00Z', validUntil: '2025-06-01T00:00:00Z' },
      'validUntil',
    ],
  ])('refuses %s with a 400 in Chinese naming the field, writing nothing', async (_name, overrides, field) => {
    const before = await NoticeModel.countDocuments();
    const response = await create(overrides);
    expect(await NoticeModel.countDocuments()).toBe(before);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().field).toContain(field);
    expect(response.json().message).toMatch(/[\u4e00-\u9fff]/);
  });

  it('accepts a body of exactly 20,000 characters with emoji and rare characters', async () => {
    const body = `提醒😀𠮷𪚥${'防'.repeat(20_000 - 7)}`;
    expect(Array.from(body).length).toBeLessThanOrEqual(20_000);
    const response = await create({ body });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().content.body).toBe(body);
  });

  it('keeps {{…}} in a notice as text', async () => {
    const response = await create({ title: '{{constructor}} 标题', body: '{{#each x}}{{this}}{{/each}}' });
    expect(response.statusCode).toBe(201);
    expect(response.json().content.title).toBe('{{constructor}} 标题');
  });

  it('accepts a wanted-clue notice with its case fields', async () => {
    const response = await create({ category: 'wanted_clue', wanted: WANTED });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().content.wanted).toEqual({ ...WANTED, contactUserId: null, incident: null, radiusKm: null });
    expect(response.json().content.hotline).toBe('110');
  });

  it('refuses a region outside the author’s scope', async () => {
    const response = await create({ regionCode: TREE.countyB.code });
    expect(response.statusCode).toBe(404);
  });

  it('refuses an edit with no fields', async () => {
    const id = (await create({})).json().id;
    const response = await t.request('PATCH', `/api/notices/${id}`, editor, {});
    expect(response.statusCode).toBe(400);
  });
});

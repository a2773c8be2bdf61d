// A notice belongs to its issuing unit's region, chosen when it is written (the author's
// scope or below) and editable until it is first approved, so reviewers of that region see it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { noticeBody } from '../helpers/notices.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('notice region', () => {
  let t: TestApp;
  let countyReviewer: { token: string };
  let otherCountyReviewer: { token: string };

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    countyReviewer = await t.userToken('reviewer', TREE.countyA.code);
    otherCountyReviewer = await t.userToken('reviewer', TREE.countyB.code);
  });
  afterAll(() => t.close());

  const reviewList = async (token: string) =>
    ((await t.request('GET', '/api/notices?status=in_review', token)).json() as { id: string }[]).map((n) => n.id);

  it('when the national admin writes a notice for county A, then county A’s reviewer sees, and approves, it', async () => {
    const created = await t.request(
      'POST',
      '/api/notices',
      t.adminToken,
      noticeBody({ regionCode: TREE.countyA.code }),
    );
    expect(created.json()).toMatchObject({ regionCode: TREE.countyA.code });
    const id = created.json().id;
    expect((await t.request('POST', `/api/notices/${id}/submit`, t.adminToken)).statusCode).toBe(200);
    expect(await reviewList(countyReviewer.token)).toContain(id);
    expect(await reviewList(otherCountyReviewer.token)).not.toContain(id);
    const approved = await t.request('POST', `/api/notices/${id}/approve`, countyReviewer.token, {});
    expect(approved.statusCode, approved.body).toBe(200);
  });

  it('when a notice was written under 全国, then its author moves it to the county while a draft, and the county sees it', async () => {
    const created = await t.request('POST', '/api/notices', t.adminToken, noticeBody());
    expect(created.json().regionCode).toBe('000000');
    const id = created.json().id;
    expect((await t.request('GET', `/api/notices/${id}`, countyReviewer.token)).statusCode).toBe(404);
    const moved = await t.request('PATCH', `/api/notices/${id}`, t.adminToken, { regionCode: TREE.countyA.code });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json()).toMatchObject({ regionCode: TREE.countyA.code, status: 'draft', version: 1 });
    await t.request('POST', `/api/notices/${id}/submit`, t.adminToken);
    expect(await reviewList(countyReviewer.token)).toContain(id);
    expect((await t.request('GET', `/api/notices/${id}`, countyReviewer.token)).statusCode).toBe(200);
  });

  it('refuses a region outside the author’s scope, and leaves the notice where it was', async () => {
    const editor = await t.userToken('editor', TREE.countyA.code);
    const created = await t.request('POST', '/api/notices', editor.token, noticeBody());
    const id = created.json().id;
    const moved = await t.request('PATCH', `/api/notices/${id}`, editor.token, { regionCode: TREE.countyB.code });
    expect(moved.statusCode).toBe(404);
    expect((await t.request('GET', `/api/notices/${id}`, editor.token)).json().regionCode).toBe(TREE.countyA.code);
    const down = await t.request('PATCH', `/api/notices/${id}`, editor.token, { regionCode: TREE.townshipA.code });
    expect(down.json().regionCode).toBe(TREE.townshipA.code);
  });

  it('when a notice has been approved, then its region can no longer change (409, with the reason)', async () => {
    const created = await t.request(
      'POST',
      '/api/notices',
      t.adminToken,
      noticeBody({ regionCode: TREE.countyA.code }),
    );
    const id = created.json().id;
    await t.request('POST', `/api/notices/${id}/submit`, t.adminToken);
    await t.request('POST', `/api/notices/${id}/approve`, countyReviewer.token, {});
    const moved = await t.request('PATCH', `/api/notices/${id}`, t.adminToken, { regionCode: TREE.city.code });
    expect(moved.statusCode).toBe(409);
    expect(moved.json()).toMatchObject({ field: 'regionCode' });
    expect(moved.json().message).toContain('审核通过');
  });
});

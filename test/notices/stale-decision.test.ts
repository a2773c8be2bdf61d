import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { ClaimModel } from '../../src/db/claims.js';
import { NoticeModel } from '../../src/notices/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { noticeBody } from '../helpers/notices.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('a review whose reviewer died after claiming the change, before writing it', () => {
  const clock = fixedClock('2025-06-01T02:00:00Z');
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it('holds the notice while the claim is fresh, then lets the next reviewer decide, once', async () => {
    const editor = await t.userToken('editor', TREE.countyA.code);
    const deadReviewer = await t.userToken('reviewer', TREE.countyA.code);
    const nextReviewer = await t.userToken('reviewer', TREE.countyA.code);
    const notice = (await t.request('POST', '/api/notices', editor.token, noticeBody())).json();
    const inReview = (await t.request('POST', `/api/notices/${notice.id}/submit`, editor.token)).json();
    expect(inReview.status).toBe('in_review');
    // The state claim a reviewer's process wrote just before it was killed (db/claims.ts).
    const doc = await NoticeModel.findById(notice.id).lean();
    await ClaimModel.create({
      _id: `notice-state:${notice.id}#${doc!.revision + 1}`,
      owner: deadReviewer.id,
      at: clock.now(),
    });

    // While the claim is fresh its owner may still be writing: hands off.
    const early = await t.request('POST', `/api/notices/${notice.id}/approve`, nextReviewer.token, {});
    expect(early.statusCode).toBe(409);
    expect((await t.request('GET', `/api/notices/${notice.id}`, editor.token)).json().status).toBe('in_review');

    clock.advance(10 * 60_000);
    const late = await t.request('POST', `/api/notices/${notice.id}/reject`, nextReviewer.token, { reason: '晚了' });
    expect(late.statusCode, late.body).toBe(200);
    const final = (await t.request('GET', `/api/notices/${notice.id}`, editor.token)).json();
    expect(final).toMatchObject({ status: 'draft', approvedVersion: null, reviewNote: '晚了' });
    const twice = await t.request('POST', `/api/notices/${notice.id}/approve`, nextReviewer.token, {});
    expect(twice.statusCode).toBe(409);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { NoticeModel, ReviewDecisionModel } from '../../src/notices/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { noticeBody } from '../helpers/notices.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('a review decision whose reviewer died before applying it', () => {
  const clock = fixedClock('2025-06-01T02:00:00Z');
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it('is applied by the next reviewer once it is stale, and never applied twice', async () => {
    const editor = await t.userToken('editor', TREE.countyA.code);
    const deadReviewer = await t.userToken('reviewer', TREE.countyA.code);
    const nextReviewer = await t.userToken('reviewer', TREE.countyA.code);
    const notice = (await t.request('POST', '/api/notices', editor.token, noticeBody())).json();
    const inReview = (await t.request('POST', `/api/notices/${notice.id}/submit`, editor.token)).json();
    expect(inReview.status).toBe('in_review');
    // The claim a reviewer's process wrote just before it was killed.
    const doc = await NoticeModel.findById(notice.id).lean();
    await ReviewDecisionModel.create({
      noticeId: notice.id,
      revision: doc!.revision,
      version: 1,
      decision: 'approve',
      by: deadReviewer.id,
      at: clock.now(),
      note: null,
    });

    // While the claim is fresh its owner may still be applying it: hands off.
    const early = await t.request('POST', `/api/notices/${notice.id}/approve`, nextReviewer.token, {});
    expect(early.statusCode).toBe(409);
    expect((await t.request('GET', `/api/notices/${notice.id}`, editor.token)).json().status).toBe('in_review');

    clock.advance(10 * 60_000);
    const late = await t.request('POST', `/api/notices/${notice.id}/reject`, nextReviewer.token, { reason: '晚了' });
    expect(late.statusCode).toBe(409);
    const final = (await t.request('GET', `/api/notices/${notice.id}`, editor.token)).json();
    expect(final).toMatchObject({ status: 'approved', approvedVersion: 1 });
    expect(final.versions).toEqual([expect.objectContaining({ version: 1, approvedBy: deadReviewer.id })]);
  });
});

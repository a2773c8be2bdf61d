// POST /api/campaigns/review-batch (issue 21, Build 7: 审核 批量通过/驳回 for campaigns): each
// campaign goes through the single approval's service call — four eyes, the lifecycle check,
// the claim on its revision, the audit entry — and the answer says per campaign whether it was
// decided. A campaign approved together with others sends exactly as if approved alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { approvedNotice, audienceOf, type DeliveryWorld, runUntilIdle, startDeliveryWorld, wecomGroups } from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

// 10:00 Beijing time: outside the default quiet hours.
const clock = fixedClock('2026-11-29T02:00:00Z');
type Result = { id: string; name: string | null; ok: boolean; message: string | null };

describe('campaign review batch', { timeout: 120_000 }, () => {
  let w: DeliveryWorld;
  let noticeId: string;
  let groups: { id: string; key: string }[];
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock });
    noticeId = await approvedNotice(w);
    groups = await wecomGroups(w, 3);
  });
  afterAll(() => w.close());

  const post = (path: string, token: string, payload?: unknown) => w.t.request('POST', path, token, payload);
  async function submitted(title: string, groupIds: string[], schedule: object = { kind: 'now' }, author = w.editor): Promise<string> {
    const created = await post('/api/campaigns', author, { title, noticeId, audience: audienceOf([], groupIds), schedule });
    expect(created.statusCode, created.body).toBe(201);
    expect((await post(`/api/campaigns/${created.json().id}/submit`, author)).statusCode).toBe(200);
    return created.json().id;
  }
  const statusOf = async (id: string) => (await w.t.request('GET', `/api/campaigns/${id}`, w.reviewer)).json();

  it('when an admin approves several campaigns at once, then each is checked on its own: one already decided and one of their own are refused, the rest are approved, audited and send', async () => {
    const admin = (await w.t.userToken('admin', TREE.countyA.code)).token;
    const sendNow = await submitted('批量立即', [groups[0]!.id, groups[1]!.id]);
    const later = await submitted('批量定时', [groups[2]!.id], { kind: 'once', at: '2026-12-02T02:00:00Z' });
    const decided = await submitted('已被审核', [groups[2]!.id], { kind: 'once', at: '2026-12-03T02:00:00Z' });
    expect((await post(`/api/campaigns/${decided}/approve`, w.reviewer)).statusCode).toBe(200);
    const mine = await submitted('审核人自己的', [groups[2]!.id], { kind: 'once', at: '2026-12-03T02:00:00Z' }, admin);
    const missing = '0123456789abcdef01234567';

    const answer = await post('/api/campaigns/review-batch', admin, { ids: [sendNow, later, decided, mine, missing], decision: 'approve' });
    expect(answer.statusCode, answer.body).toBe(200);
    const body = answer.json() as { succeeded: number; failed: number; results: Result[] };
    expect(body).toMatchObject({ succeeded: 2, failed: 3 });
    expect(body.results.map((r) => [r.name, r.ok])).toEqual([
      ['批量立即', true],
      ['批量定时', true],
      [null, false],
      [null, false],
      [null, false],
    ]);
    expect(body.results[2]!.message).toBe('推送当前为“已通过”，不能审核');
    expect(body.results[3]!.message).toContain('不能审核自己创建的推送');
    expect(body.results[4]!.message).toBe('不存在或不在您的管辖范围内');

    expect((await statusOf(sendNow)).status).toBe('approved');
    expect((await statusOf(later)).status).toBe('approved');
    expect((await statusOf(mine)).status).toBe('in_review');
    // Approved in a batch, sent as when approved alone.
    await runUntilIdle(w);
    expect(w.doubles.received({ robot: groups[0]!.key })).toHaveLength(1);
    expect(w.doubles.received({ robot: groups[1]!.key })).toHaveLength(1);
    expect(w.doubles.received({ robot: groups[2]!.key })).toHaveLength(0);

    const audit = (await w.t.request('GET', '/api/audit?action=campaign.approve&limit=100', w.t.adminToken)).json() as { targetId: string }[];
    expect(audit.map((e) => e.targetId)).toEqual(expect.arrayContaining([sendNow, later]));
  });

  it('when a reviewer rejects several campaigns at once, then a reason is required and each goes back to draft with it', async () => {
    const a = await submitted('驳回甲', [groups[0]!.id], { kind: 'once', at: '2026-12-04T02:00:00Z' });
    const b = await submitted('驳回乙', [groups[1]!.id], { kind: 'once', at: '2026-12-04T02:00:00Z' });
    const noReason = await post('/api/campaigns/review-batch', w.reviewer, { ids: [a, b], decision: 'reject', reason: '  ' });
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().field).toBe('reason');
    expect((await statusOf(a)).status).toBe('in_review');

    const rejected = await post('/api/campaigns/review-batch', w.reviewer, { ids: [a, b], decision: 'reject', reason: '时间改到周一' });
    expect(rejected.json()).toMatchObject({ succeeded: 2, failed: 0 });
    for (const id of [a, b]) expect(await statusOf(id)).toMatchObject({ status: 'draft', reviewNote: '时间改到周一' });
  });

  it('when someone other than a reviewer sends a batch, or an empty one, then it is refused', async () => {
    const id = await submitted('编辑不能批量审核', [groups[0]!.id], { kind: 'once', at: '2026-12-05T02:00:00Z' });
    expect((await post('/api/campaigns/review-batch', w.editor, { ids: [id], decision: 'approve' })).statusCode).toBe(403);
    const empty = await post('/api/campaigns/review-batch', w.reviewer, { ids: [], decision: 'approve' });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().field).toBe('body.ids');
    const countyB = (await w.t.userToken('reviewer', TREE.countyB.code)).token;
    const outside = await post('/api/campaigns/review-batch', countyB, { ids: [id], decision: 'approve' });
    expect(outside.json().results[0]).toMatchObject({ ok: false, message: '不存在或不在您的管辖范围内' });
    expect((await statusOf(id)).status).toBe('in_review');
  });
});

// Campaign state changes on FerretDB: four eyes over everyone who edited or submitted,
// exclusive state changes, quiet hours and missed runs at every path, and edits that never
// send unreviewed content, lift a pause or re-send a finished campaign.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignModel } from '../../src/campaigns/model.js';
import { OccurrenceModel } from '../../src/engine/model.js';
import { createDueOccurrences } from '../../src/engine/tick.js';
import { fixedClock } from '../../src/lib/clock.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  campaignItems,
  type DeliveryWorld,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

// 10:00 Beijing time.
const clock = fixedClock('2026-11-29T02:00:00Z');
const settings = { timeZone: 'Asia/Shanghai', quietHours: { start: '22:00', end: '07:00' } };

describe('campaign state, four eyes and schedules', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  let groups: { id: string; key: string }[];
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    noticeId = await approvedNotice(w);
    groups = await wecomGroups(w, 2);
  });
  afterAll(() => w.close());

  const body = (overrides: Record<string, unknown> = {}) => ({
    title: '测试活动',
    noticeId,
    audience: audienceOf([], [groups[0]!.id]),
    schedule: { kind: 'now' },
    ...overrides,
  });
  const post = (path: string, token: string, payload?: unknown) => w.t.request('POST', path, token, payload);
  const received = (index: number) => w.doubles.received({ robot: groups[index]!.key }).length;

  it('refuses approval by anyone who edited or submitted the current revision, admins included', async () => {
    const created = (await post('/api/campaigns', w.editor, body())).json();
    await post(`/api/campaigns/${created.id}/submit`, w.editor);
    const admin = (await w.t.userToken('admin', TREE.countyA.code)).token;
    const edit = await w.t.request('PUT', `/api/campaigns/${created.id}`, admin, body({ title: '管理员改过' }));
    expect(edit.statusCode, edit.body).toBe(200);
    const own = await post(`/api/campaigns/${created.id}/approve`, admin);
    expect(own.statusCode).toBe(403);
    expect(own.json().message).toContain('修改或提交');
    // A submitter likewise.
    const draft = (await post('/api/campaigns', w.editor, body({ title: '他人提交' }))).json();
    const submitter = (await w.t.userToken('admin', TREE.countyA.code)).token;
    expect((await post(`/api/campaigns/${draft.id}/submit`, submitter)).statusCode).toBe(200);
    expect((await post(`/api/campaigns/${draft.id}/approve`, submitter)).statusCode).toBe(403);
    expect((await post(`/api/campaigns/${created.id}/approve`, w.reviewer)).statusCode).toBe(200);
    await post(`/api/campaigns/${created.id}/cancel`, w.editor);
    await post(`/api/campaigns/${draft.id}/cancel`, w.editor);
  });

  it('never lets an edit and an approval by the same person both land (the claim decides)', async () => {
    const admin = (await w.t.userToken('admin', TREE.countyA.code)).token;
    for (let round = 0; round < 3; round++) {
      const created = (await post('/api/campaigns', w.editor, body({ title: `并发${round}` }))).json();
      await post(`/api/campaigns/${created.id}/submit`, w.editor);
      await Promise.all([
        w.t.request('PUT', `/api/campaigns/${created.id}`, admin, body({ title: `改${round}` })),
        post(`/api/campaigns/${created.id}/approve`, admin),
      ]);
      const doc = await CampaignModel.findById(created.id).lean();
      if (doc!.status === 'approved') expect(doc!.editorIds).not.toContain(doc!.reviewerId);
      await post(`/api/campaigns/${created.id}/cancel`, w.editor);
    }
  });

  it('lets a resume and a cancel at the same moment win at most one after the other, and a cancelled campaign stays cancelled', async () => {
    for (let round = 0; round < 4; round++) {
      const id = await approvedCampaign(
        w,
        body({ title: `恢复取消${round}`, schedule: { kind: 'once', at: '2026-12-30T02:00:00Z' } }),
      );
      expect((await post(`/api/campaigns/${id}/pause`, w.editor)).statusCode).toBe(200);
      const [resume, cancel] = await Promise.all([
        post(`/api/campaigns/${id}/resume`, w.editor),
        post(`/api/campaigns/${id}/cancel`, w.editor),
      ]);
      // Both may win only one after the other (resumed, then cancelled); never neither.
      expect([resume.statusCode, cancel.statusCode].sort()).toContainEqual(200);
      for (const answer of [resume, cancel]) expect([200, 409]).toContain(answer.statusCode);
      const status = (await CampaignModel.findById(id).lean())!.status;
      expect(status).toBe(cancel.statusCode === 200 ? 'cancelled' : 'approved');
    }
  });

  it('makes one follow-up from two retractions at the same moment', async () => {
    const notice = await approvedNotice(w, { title: '双击撤回' });
    const id = await approvedCampaign(w, body({ title: '双击撤回', noticeId: notice, priority: 'urgent' }));
    await runUntilIdle(w);
    const followUpNotice = await approvedNotice(w, { title: '更正' });
    const answers = await Promise.all([
      post(`/api/campaigns/${id}/retract`, w.editor, { followUpNoticeId: followUpNotice }),
      post(`/api/campaigns/${id}/retract`, w.editor, { followUpNoticeId: followUpNotice }),
    ]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 409]);
    expect(await CampaignModel.countDocuments({ retractionOf: id })).toBe(1);
  });

  it('skips a daily 21:00 run missed while the service was down 20:00–23:30, instead of sending it in quiet hours', async () => {
    clock.set('2026-11-30T11:00:00Z'); // 19:00
    const id = await approvedCampaign(
      w,
      body({ title: '每晚九点', schedule: { kind: 'cron', cron: '0 21 * * *', endAt: '2026-12-05T00:00:00Z' } }),
    );
    const before = received(0);
    clock.set('2026-11-30T15:30:00Z'); // back at 23:30
    await runUntilIdle(w);
    expect(received(0)).toBe(before);
    const runs = await OccurrenceModel.find({ campaignId: id }).lean();
    expect(runs.map((r) => [r.status, r.runAt.toISOString()])).toEqual([['skipped', '2026-11-30T13:00:00.000Z']]);
    const campaign = (await w.t.request('GET', `/api/campaigns/${id}`, w.editor)).json();
    expect(campaign.nextRunAt).toBe('2026-12-01T13:00:00.000Z');
    await post(`/api/campaigns/${id}/cancel`, w.editor);
  });

  it('holds a one-off approved in quiet hours after its time until 07:00', async () => {
    clock.set('2026-12-01T13:45:00Z'); // 21:45
    const created = (
      await post(
        '/api/campaigns',
        w.editor,
        body({ title: '晚间定时', schedule: { kind: 'once', at: '2026-12-01T13:50:00Z' } }),
      )
    ).json();
    await post(`/api/campaigns/${created.id}/submit`, w.editor);
    clock.set('2026-12-01T14:30:00Z'); // approved at 22:30
    expect((await post(`/api/campaigns/${created.id}/approve`, w.reviewer)).statusCode).toBe(200);
    const before = received(0);
    await runUntilIdle(w);
    expect(received(0)).toBe(before);
    clock.set('2026-12-01T23:00:01Z'); // 07:00
    await runUntilIdle(w);
    expect(received(0)).toBe(before + 1);
  });

  it('holds a paused run resumed at 23:00 until 07:00', async () => {
    clock.set('2026-12-02T12:00:00Z'); // 20:00
    const id = await approvedCampaign(w, body({ title: '暂停到夜里' }));
    await w.scheduler.tick();
    expect((await post(`/api/campaigns/${id}/pause`, w.editor)).statusCode).toBe(200);
    clock.set('2026-12-02T15:00:00Z'); // 23:00
    expect((await post(`/api/campaigns/${id}/resume`, w.editor)).statusCode).toBe(200);
    const before = received(0);
    await runUntilIdle(w);
    expect(received(0)).toBe(before);
    expect((await campaignItems(id)).map((i) => i.status)).toEqual(['pending']);
    clock.set('2026-12-02T23:00:01Z');
    await runUntilIdle(w);
    expect(received(0)).toBe(before + 1);
  });

  it('sends a run created before an edit with what was approved for it, and only after the edit is approved', async () => {
    clock.set('2026-12-03T01:30:00Z'); // 09:30
    const id = await approvedCampaign(
      w,
      body({ title: '改前的运行', schedule: { kind: 'cron', cron: '0 10 * * *', endAt: '2026-12-06T00:00:00Z' } }),
    );
    clock.set('2026-12-03T02:00:05Z');
    expect(await createDueOccurrences(w.t.ctx.campaigns, settings, clock.now())).toBe(1);
    const edited = body({
      title: '改后的运行',
      audience: audienceOf([], [groups[1]!.id]),
      schedule: { kind: 'cron', cron: '0 10 * * *', endAt: '2026-12-06T00:00:00Z' },
    });
    expect((await w.t.request('PUT', `/api/campaigns/${id}`, w.editor, edited)).statusCode).toBe(200);
    const [first, second] = [received(0), received(1)];
    await runUntilIdle(w);
    expect([received(0), received(1)]).toEqual([first, second]); // in review: nothing goes
    expect((await campaignItems(id)).map((i) => i.groupId)).toEqual([groups[0]!.id]);
    expect((await post(`/api/campaigns/${id}/approve`, w.reviewer)).statusCode).toBe(200);
    await runUntilIdle(w);
    expect([received(0), received(1)]).toEqual([first + 1, second]);
    await post(`/api/campaigns/${id}/cancel`, w.editor);
  });

  it('refuses to edit a finished one-off campaign, so it can never run twice', async () => {
    clock.set('2026-12-04T02:00:00Z');
    const id = await approvedCampaign(w, body({ title: '只发一次' }));
    await runUntilIdle(w);
    expect((await w.t.request('GET', `/api/campaigns/${id}`, w.editor)).json().status).toBe('completed');
    expect((await post(`/api/campaigns/${id}/pause`, w.editor)).statusCode).toBe(200);
    const edit = await w.t.request('PUT', `/api/campaigns/${id}`, w.editor, body({ title: '再来一次' }));
    expect(edit.statusCode).toBe(409);
    expect((await post(`/api/campaigns/${id}/resume`, w.editor)).statusCode).toBe(200);
    await runUntilIdle(w);
    expect(await OccurrenceModel.countDocuments({ campaignId: id })).toBe(1);
  });
});

// Campaign rules through the API and the engine: approval by a second person only, pause,
// resume, cancel, quiet hours, cron with an end date, double ticks, retraction.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

// 10:00 Beijing time on a Sunday.
const clock = fixedClock('2026-11-29T02:00:00Z');

describe('campaign rules and the engine', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  let groups: { id: string; key: string }[];

  beforeAll(async () => {
    // Tokens must outlive the days this test moves its clock through.
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    noticeId = await approvedNotice(w);
    groups = await wecomGroups(w, 4);
  });
  afterAll(() => w.close());

  const base = () => ({
    title: '测试活动',
    noticeId,
    audience: audienceOf([TREE.countyA.code]),
    schedule: { kind: 'now' },
  });

  it('refuses approval by the campaign’s own author, and lets a second person approve', async () => {
    const admin = (await w.t.userToken('admin', TREE.countyA.code)).token;
    const created = (await w.t.request('POST', '/api/campaigns', admin, base())).json();
    await w.t.request('POST', `/api/campaigns/${created.id}/submit`, admin);
    const own = await w.t.request('POST', `/api/campaigns/${created.id}/approve`, admin);
    expect(own.statusCode).toBe(403);
    expect(own.json().message).toContain('自己');
    const other = await w.t.request('POST', `/api/campaigns/${created.id}/approve`, w.reviewer);
    expect(other.statusCode).toBe(200);
    expect(other.json().status).toBe('approved');
    await w.t.request('POST', `/api/campaigns/${created.id}/cancel`, admin);
  });

  it('lets exactly one of two reviewers approving at the same moment win', async () => {
    const created = (await w.t.request('POST', '/api/campaigns', w.editor, base())).json();
    await w.t.request('POST', `/api/campaigns/${created.id}/submit`, w.editor);
    const second = (await w.t.userToken('reviewer', TREE.countyA.code)).token;
    const answers = await Promise.all([
      w.t.request('POST', `/api/campaigns/${created.id}/approve`, w.reviewer),
      w.t.request('POST', `/api/campaigns/${created.id}/approve`, second),
    ]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 409]);
    await w.t.request('POST', `/api/campaigns/${created.id}/cancel`, w.editor);
  });

  it('refuses bad schedules, an empty audience and groups outside the scope with clear 4xx', async () => {
    const post = (body: unknown) => w.t.request('POST', '/api/campaigns', w.editor, body);
    const badCron = await post({
      ...base(),
      schedule: { kind: 'cron', cron: '61 * * * *', endAt: '2026-12-31T00:00:00Z' },
    });
    expect(badCron.statusCode).toBe(400);
    expect(badCron.json().message).toContain('周期表达式');
    const past = await post({ ...base(), schedule: { kind: 'once', at: '2026-11-01T00:00:00Z' } });
    expect(past.statusCode).toBe(400);
    const inverted = await post({
      ...base(),
      schedule: { kind: 'cron', cron: '0 9 * * *', startAt: '2026-12-10T00:00:00Z', endAt: '2026-12-01T00:00:00Z' },
    });
    expect(inverted.statusCode).toBe(400);
    const nobody = await post({ ...base(), audience: { ...audienceOf([]), tags: ['不存在的标签'] } });
    expect(nobody.statusCode).toBe(400);
    expect(nobody.json().message).toContain('受众为空');
    const outside = await post({ ...base(), audience: audienceOf([TREE.countyB.code]) });
    expect([403, 404]).toContain(outside.statusCode);
  });

  it('defers a normal send planned in quiet hours to 07:00, and sends an urgent one at once', async () => {
    clock.set('2026-11-29T15:30:00Z'); // 23:30 Beijing time
    const normal = await approvedCampaign(w, { ...base(), title: '夜间普通' });
    const urgent = await approvedCampaign(w, { ...base(), title: '夜间紧急', priority: 'urgent' });
    await runUntilIdle(w);
    expect((await campaignItems(urgent)).every((i) => i.status === 'sent')).toBe(true);
    expect((await campaignItems(normal)).every((i) => i.status === 'pending')).toBe(true);
    const occurrence = await OccurrenceModel.findOne({ campaignId: normal }).lean();
    expect(occurrence!.dueAt.toISOString()).toBe('2026-11-29T23:00:00.000Z');
    clock.set('2026-11-29T23:00:01Z');
    await runUntilIdle(w);
    expect((await campaignItems(normal)).every((i) => i.status === 'sent')).toBe(true);
  });

  it('runs a cron campaign on each date until its end date, then completes it', async () => {
    clock.set('2026-11-30T00:00:00Z');
    const id = await approvedCampaign(w, {
      ...base(),
      title: '每日提醒',
      schedule: { kind: 'cron', cron: '0 9 * * *', endAt: '2026-12-02T12:00:00Z' },
    });
    for (const day of ['2026-11-30', '2026-12-01', '2026-12-02', '2026-12-03']) {
      clock.set(`${day}T01:00:05Z`); // 09:00:05 Beijing time
      await runUntilIdle(w);
    }
    const runs = await OccurrenceModel.find({ campaignId: id }).sort({ runAt: 1 }).lean();
    expect(runs.map((r) => r.runAt.toISOString())).toEqual([
      '2026-11-30T01:00:00.000Z',
      '2026-12-01T01:00:00.000Z',
      '2026-12-02T01:00:00.000Z',
    ]);
    const campaign = (await w.t.request('GET', `/api/campaigns/${id}`, w.editor)).json();
    expect(campaign.status).toBe('completed');
    expect((await campaignItems(id)).filter((i) => i.status === 'sent')).toHaveLength(3 * groups.length);
  });

  it('makes one occurrence from a double tick and two schedulers', async () => {
    clock.set('2026-12-05T02:00:00Z');
    const id = await approvedCampaign(w, { ...base(), title: '双调度' });
    const settings = { timeZone: 'Asia/Shanghai', quietHours: { start: '22:00', end: '07:00' } };
    const created = await Promise.all([
      createDueOccurrences(w.t.ctx.campaigns, settings, clock.now()),
      createDueOccurrences(w.t.ctx.campaigns, settings, clock.now()),
      w.scheduler.tick(),
    ]);
    expect(await OccurrenceModel.countDocuments({ campaignId: id })).toBe(1);
    expect(created[0] + created[1] + created[2].created).toBe(1);
    const before = w.doubles.received({ platform: 'wecom' }).length;
    await runUntilIdle(w);
    expect(w.doubles.received({ platform: 'wecom' }).length - before).toBe(groups.length);
    expect((await campaignItems(id)).filter((i) => i.status === 'sent')).toHaveLength(groups.length);
  });

  it('holds a paused campaign’s deliveries and sends them after resume; cancel skips them', async () => {
    clock.set('2026-12-06T02:00:00Z');
    const paused = await approvedCampaign(w, { ...base(), title: '暂停' });
    const cancelled = await approvedCampaign(w, { ...base(), title: '取消' });
    await w.scheduler.tick(); // planned, not yet sent
    expect((await w.t.request('POST', `/api/campaigns/${paused}/pause`, w.editor)).statusCode).toBe(200);
    expect((await w.t.request('POST', `/api/campaigns/${cancelled}/cancel`, w.editor)).statusCode).toBe(200);
    await runUntilIdle(w);
    expect((await campaignItems(paused)).every((i) => i.status === 'pending')).toBe(true);
    expect((await campaignItems(cancelled)).every((i) => i.status === 'skipped')).toBe(true);
    expect((await w.t.request('POST', `/api/campaigns/${paused}/resume`, w.editor)).statusCode).toBe(200);
    await runUntilIdle(w);
    expect((await campaignItems(paused)).every((i) => i.status === 'sent')).toBe(true);
    const again = await w.t.request('POST', `/api/campaigns/${cancelled}/resume`, w.editor);
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toContain('已取消');
  });

  it('sends a retraction follow-up to exactly the groups that received the original', async () => {
    clock.set('2026-12-07T02:00:00Z');
    const late = await wecomGroups(w, 1, TREE.villageA.code);
    const original = await approvedCampaign(w, { ...base(), title: '协查通报' });
    await runUntilIdle(w);
    const reached = (await campaignItems(original))
      .filter((i) => i.status === 'sent')
      .map((i) => i.groupId)
      .sort();
    const extra = await wecomGroups(w, 2, TREE.villageA.code); // joined after the original went out
    const followUpNotice = await approvedNotice(w, { title: '嫌疑人已抓获，感谢群众' });
    const retract = await w.t.request('POST', `/api/campaigns/${original}/retract`, w.editor, {
      followUpNoticeId: followUpNotice,
    });
    expect(retract.statusCode, retract.body).toBe(200);
    const followUp = retract.json().followUp.id as string;
    await w.t.request('POST', `/api/campaigns/${followUp}/approve`, w.reviewer);
    await runUntilIdle(w);
    const followed = (await campaignItems(followUp))
      .filter((i) => i.status === 'sent')
      .map((i) => i.groupId)
      .sort();
    expect(followed).toEqual(reached);
    expect(followed).toContain(late[0]!.id);
    for (const group of extra) expect(followed).not.toContain(group.id);
    // The retracted notice cannot go out again.
    const reuse = (await w.t.request('POST', '/api/campaigns', w.editor, { ...base(), title: '再发' })).json();
    await w.t.request('POST', `/api/campaigns/${reuse.id}/submit`, w.editor);
    const approval = await w.t.request('POST', `/api/campaigns/${reuse.id}/approve`, w.reviewer);
    expect(approval.statusCode).toBe(409);
    expect(approval.json().message).toContain('撤回');
  });

  it('records a visible skipped run when the notice is archived before the campaign runs', async () => {
    clock.set('2026-12-08T02:00:00Z');
    const doomedNotice = await approvedNotice(w, { title: '即将归档' });
    const id = await approvedCampaign(w, { ...base(), noticeId: doomedNotice, title: '归档前' });
    expect((await w.t.request('POST', `/api/notices/${doomedNotice}/archive`, w.editor)).statusCode).toBe(200);
    await runUntilIdle(w);
    const runs = (await w.t.request('GET', `/api/campaigns/${id}/runs`, w.editor)).json();
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'skipped', deliveryCount: 0 });
    expect(runs[0].skipReason).toContain('归档');
    expect(await campaignItems(id)).toEqual([]);
  });
});

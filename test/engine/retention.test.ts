// Retention (engine/retention.ts): each job prunes or compacts what a settled run no longer
// needs, and every figure the statistics, exports and follow-ups read stays exactly as it was;
// a retraction after all of it still reaches every group that got the notice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditModel } from '../../src/audit/model.js';
import { ManualConfirmationModel } from '../../src/channels/manual/model.js';
import { ClaimModel, SendAttemptModel } from '../../src/db/claims.js';
import { QueueEntryModel } from '../../src/engine/model.js';
import { PARKED } from '../../src/engine/queue.js';
import { Retention } from '../../src/engine/retention.js';
import { fixedClock } from '../../src/lib/clock.js';
import { NotificationStepModel } from '../../src/notifications/model.js';
import { withFixedItemsAll } from '../../src/tracking/batch-fixed.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  campaignItems,
  manualGroup as manualGroupOf,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

// Now (batches carry the wall-clock time of their last write), at 14:00 Beijing time.
const start = new Date();
start.setUTCHours(6, 0, 0, 0);
const clock = fixedClock(start);
const DAY = 24 * 60 * 60_000;

describe('retention of a settled run', () => {
  let w: DeliveryWorld;
  let retention: Retention;
  let campaignId: string;
  let noticeId: string;
  let reached: string[];
  let failedGroup: string;
  let before: Awaited<ReturnType<typeof figures>>;

  async function figures() {
    const get = async (url: string) => {
      const response = await w.t.request('GET', url, w.t.adminToken);
      expect(response.statusCode, `${url} ${response.body}`).toBe(200);
      return response;
    };
    await w.t.ctx.tracking.rollups.refreshAll('test');
    const month = start.toISOString().slice(0, 7);
    return {
      progress: (await get(`/api/campaigns/${campaignId}/progress`)).json(),
      reach: (await get(`/api/reach?from=${month}&to=${month}`)).json(),
      monthly: (await get(`/api/reach/monthly?month=${month}`)).json(),
      deliveries: (await get(`/api/campaigns/${campaignId}/deliveries`)).json(),
      export: (await get(`/api/campaigns/${campaignId}/deliveries/export?format=csv`)).body,
      items: (await campaignItems(campaignId)).map(({ credentialsSealed: _, nextAt: __, ...rest }) => rest),
    };
  }

  /** Runs one job; nothing the statistics, exports or the audit log show changes. */
  async function runJob(job: () => Promise<unknown>) {
    const audits = await AuditModel.countDocuments();
    await job();
    expect(await AuditModel.countDocuments()).toBe(audits);
    expect(await figures()).toEqual(before);
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    retention = new Retention(clock, { keepDays: 7, everyMs: 60_000 });
    noticeId = await approvedNotice(w, { title: '协查通报：保留期测试' });
    const sent = await wecomGroups(w, 3);
    // A robot the platform does not know: the delivery fails for good.
    const failed = await w.t.request('POST', '/api/groups', w.t.adminToken, {
      name: '失效机器人群',
      regionCode: TREE.villageA.code,
      channel: { kind: 'wecom', key: 'removed-robot-key' },
      memberCount: 30,
    });
    failedGroup = failed.json().id;
    const manualGroup = await manualGroupOf(w, '人工转发群', { memberCount: 480 });
    campaignId = await approvedCampaign(w, {
      title: '保留期',
      noticeId,
      audience: audienceOf([], [...sent.map((g) => g.id), failedGroup, manualGroup]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await runUntilIdle(w);
    const tasks = (await w.t.request('GET', '/api/manual-tasks', w.t.adminToken)).json() as Array<{
      groupId: string;
      link: string;
    }>;
    const link = new URL(tasks.find((t) => t.groupId === manualGroup)!.link);
    const confirm = await w.t.app.inject({
      method: 'POST',
      url: `${link.pathname.replace(/^\/task\//, '/api/manual-tasks/')}/confirm${link.search}`,
    });
    expect(confirm.statusCode, confirm.body).toBe(200);
    await runUntilIdle(w);
    const statuses = Object.fromEntries((await campaignItems(campaignId)).map((i) => [i.groupId, i.status]));
    expect(Object.values(statuses).sort()).toEqual(['confirmed', 'failed', 'sent', 'sent', 'sent']);
    reached = [...sent.map((g) => g.id), manualGroup].sort();
    // Done steps of an officer notification (their outbox text) and one still being sent.
    await NotificationStepModel.create([
      { _id: `digest|${campaignId}@x|o1`, kind: 'digest', campaignId, occurrenceId: `${campaignId}@x`, officerKey: 'o1', status: 'sent', at: clock.now(), message: { text: '您有 1 个转发任务' } },
      { _id: `digest|${campaignId}@x|o2`, kind: 'digest', campaignId, occurrenceId: `${campaignId}@x`, officerKey: 'o2', status: 'sending', at: clock.now(), message: { text: '您有 2 个转发任务' } },
    ]);
    before = await figures();
    clock.advance(8 * DAY);
  }, 120_000);
  afterAll(() => w.close());

  it('prunes the send attempts of a settled run, keeping every figure', async () => {
    const attemptsOfRun = () => SendAttemptModel.countDocuments({ _id: { $regex: `^${campaignId}@` } });
    expect(await attemptsOfRun()).toBe(5);
    // A run with work left (parked while paused): its attempt claims still decide sends.
    const parked = 'parked-campaign@2026-01-01T00:00:00.000Z';
    await QueueEntryModel.create({ _id: `${parked}|${TREE.townshipA.code}|1`, dueAt: PARKED, rank: 1, campaignId: 'parked-campaign' });
    await SendAttemptModel.create({ _id: `${parked}/group-1#1`, owner: 'worker-dead', at: start });
    await runJob(() => retention.sendAttempts());
    expect(await attemptsOfRun()).toBe(0);
    expect(await SendAttemptModel.exists({ _id: `${parked}/group-1#1` })).not.toBeNull();
    await QueueEntryModel.deleteOne({ _id: `${parked}|${TREE.townshipA.code}|1` });
  });

  it('prunes ended lease claims, keeping one-time decisions and every figure', async () => {
    const leases = () => ClaimModel.countDocuments({ _id: { $regex: `^batch:${campaignId}@` } });
    const decisions = () => ClaimModel.countDocuments({ until: null });
    expect(await leases()).toBeGreaterThan(0);
    const decided = await decisions();
    await runJob(() => retention.leaseClaims());
    expect(await leases()).toBe(0);
    expect(await decisions()).toBe(decided);
  });

  it('drops the outbox text of finished notification steps only', async () => {
    await runJob(() => retention.notificationMessages());
    const steps = await NotificationStepModel.find({ campaignId }).sort({ officerKey: 1 }).lean();
    expect(steps.map((s) => [s.status, s.message])).toEqual([
      ['sent', null],
      ['sending', { text: '您有 2 个转发任务' }],
    ]);
  });

  it('compacts the settled batches and the recorded confirmation copies, keeping every figure', async () => {
    const deliveryIds = (await DeliveryBatchModel.find({ campaignId }).lean()).flatMap((b) =>
      b.items.map((i) => `reference:${b.occurrenceId}/${i.groupId}`),
    );
    expect(await ManualConfirmationModel.countDocuments({ _id: { $in: deliveryIds } })).toBe(1);
    await runJob(() => retention.compactBatches());
    const batches = await DeliveryBatchModel.find({ campaignId }).lean();
    expect(batches.every((b) => b.compactedAt)).toBe(true);
    expect(batches.flatMap((b) => b.items).filter((i) => i.credentialsSealed || i.nextAt)).toEqual([]);
    // Nor in the packed fixed part of the batches (tracking/batch-fixed.ts); the names stay.
    const whole = (await withFixedItemsAll(batches)).flatMap((b) => b.items);
    expect(batches.some((b) => b.fixedId)).toBe(true);
    expect(whole.filter((i) => i.credentialsSealed)).toEqual([]);
    expect(whole.every((i) => i.groupName)).toBe(true);
    expect(await ManualConfirmationModel.countDocuments({ _id: { $in: deliveryIds } })).toBe(0);
    // Nothing left for a second pass.
    expect(await retention.compactBatches()).toEqual({ batchesCompacted: 0, confirmationCopies: 0 });
  });

  it('a retraction after all the pruning still reaches every group that got the notice, once each', async () => {
    const report = await retention.runOnce();
    expect(report.batchesCompacted).toBe(0);
    const correction = await approvedNotice(w, { title: '更正：保留期测试' });
    const retract = await w.t.request('POST', `/api/campaigns/${campaignId}/retract`, w.editor, {
      followUpNoticeId: correction,
    });
    expect(retract.statusCode, retract.body).toBe(200);
    const followUp = retract.json().followUp as { id: string };
    expect((await w.t.request('POST', `/api/campaigns/${followUp.id}/approve`, w.reviewer)).statusCode).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);
    const items = await campaignItems(followUp.id);
    expect(items.map((i) => i.groupId).sort()).toEqual(reached);
    expect(items.map((i) => i.status).sort()).toEqual(['awaiting', 'sent', 'sent', 'sent']);
    expect(items.some((i) => i.groupId === failedGroup)).toBe(false);
  });
});

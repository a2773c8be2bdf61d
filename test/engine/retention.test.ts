// Retention (engine/retention.ts): each settled run's internals are pruned or compacted once its
// keep period has passed, read from its due key by `_id`; every figure the statistics, exports
// and follow-ups read stays exactly as it was; a retraction after all of it still reaches every
// group that got the notice. A pass reads only what became due, stops at its budget, and a pass
// that dies is resumed where it stood; an install from before the due keys is filed once.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuditModel } from '../../src/audit/model.js';
import { ManualConfirmationModel } from '../../src/channels/manual/model.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { ClaimModel, SendAttemptModel } from '../../src/db/claims.js';
import { Retention } from '../../src/engine/retention.js';
import { RetentionDueModel } from '../../src/engine/retention-due.js';
import { fixedClock } from '../../src/lib/clock.js';
import { NotificationStepModel } from '../../src/notifications/model.js';
import { listStep } from '../../src/notifications/step-list.js';
import { withFixedItemsAll } from '../../src/tracking/batch-fixed.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
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
import { diedHoldingBatch } from '../helpers/workers.js';

// Now (batches carry the wall-clock time of their last write), at 14:00 Beijing time.
const start = new Date();
start.setUTCHours(6, 0, 0, 0);
const clock = fixedClock(start);
const DAY = 24 * 60 * 60_000;

/** An insert, or a command whose filter has one `_id` value (FerretDB looks it up by its index). */
const keyedById = (c: { filter: Record<string, unknown> | null }) => c.filter === null || typeof c.filter._id === 'string';

/** Collections that grow with history: a pass may read them only by `_id`. */
const HISTORY = ['deliverybatches', 'sendattempts', 'claims', 'notificationsteps', 'manualconfirmations', 'occurrences'];

describe('retention of a settled run', () => {
  let w: DeliveryWorld;
  let retention: Retention;
  let campaignId: string;
  let runId: string;
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
    // The stranded-batch sweep closes the settled run and files its due key.
    await w.scheduler.sweep();
    const statuses = Object.fromEntries((await campaignItems(campaignId)).map((i) => [i.groupId, i.status]));
    expect(Object.values(statuses).sort()).toEqual(['confirmed', 'failed', 'sent', 'sent', 'sent']);
    reached = [...sent.map((g) => g.id), manualGroup].sort();
    runId = (await DeliveryBatchModel.findOne({ campaignId }).lean())!.occurrenceId;
    // Done steps of an officer notification (their outbox text) and one still being sent,
    // listed on their campaign as the notifier lists them.
    const steps = [
      { _id: `digest|${runId}|o1`, kind: 'digest', campaignId, occurrenceId: runId, officerKey: 'o1', status: 'sent', at: clock.now(), message: { text: '您有 1 个转发任务' } },
      { _id: `digest|${runId}|o2`, kind: 'digest', campaignId, occurrenceId: runId, officerKey: 'o2', status: 'sending', at: clock.now(), message: { text: '您有 2 个转发任务' } },
    ];
    for (const step of steps) await listStep(campaignId, step._id);
    await NotificationStepModel.create(steps);
    before = await figures();
  }, 120_000);
  afterAll(() => w.close());

  it('reads no run before its keep period has passed; sweeps ended lease claims daily, keeping decisions', async () => {
    const leases = () => ClaimModel.countDocuments({ _id: { $regex: `^batch:${campaignId}@` } });
    const decisions = () => ClaimModel.countDocuments({ until: null });
    expect(await leases()).toBeGreaterThan(0);
    const decided = await decisions();
    clock.advance(DAY);
    const seen = await commandsDuring(async () => {
      const report = await retention.runOnce();
      expect(report).toMatchObject({ runs: 0, batchesCompacted: 0, sendAttempts: 0, behind: false });
    });
    expect(seen.filter((c) => HISTORY.includes(c.collection) && c.filter && !byIdOnly(c.filter))).toEqual(
      // The daily sweep of leftover lease claims (planning, roll-up, intent epochs) is the only scan.
      [expect.objectContaining({ name: 'delete', collection: 'claims' })],
    );
    expect(seen.filter((c) => c.collection === 'deliverybatches')).toEqual([]);
    expect(await leases()).toBe(0);
    expect(await decisions()).toBe(decided);
    clock.advance(7 * DAY);
  });

  it('prunes a settled run from its due key by _id, keeping every figure', async () => {
    const attemptsOfRun = () => SendAttemptModel.countDocuments({ _id: { $regex: `^${campaignId}@` } });
    const leases = () => ClaimModel.find({ _id: { $regex: `^batch:${campaignId}@` } }, { _id: 1 }).lean();
    const deliveryIds = (await DeliveryBatchModel.find({ campaignId }).lean()).flatMap((b) =>
      b.items.map((i) => `reference:${b.occurrenceId}/${i.groupId}`),
    );
    expect(await attemptsOfRun()).toBe(5);
    expect(await ManualConfirmationModel.countDocuments({ _id: { $in: deliveryIds } })).toBe(1);
    // An attempt of a run that has not settled (no due key): it still decides a send.
    const open = 'open-campaign@2026-01-01T00:00:00.000Z';
    await SendAttemptModel.create({ _id: `${open}/group-1#1`, owner: 'worker-dead', at: start });
    const decided = await ClaimModel.countDocuments({ until: null });
    const audits = await AuditModel.countDocuments();
    let report: Awaited<ReturnType<Retention['runOnce']>> | undefined;
    const seen = await commandsDuring(async () => {
      report = await retention.runOnce();
    });
    expect(report).toMatchObject({ runs: 1, batchesCompacted: 1, sendAttempts: 5, confirmationCopies: 1, notificationMessages: 1, behind: false });
    // Only attempts that can exist are deleted: each delivery's #1..#attempts (these ended sent,
    // failed or confirmed: no stop claimed a next one), not a missed lookup per delivery more.
    const attemptDeletes = seen
      .filter((c) => c.collection === 'sendattempts' && c.name === 'delete')
      .flatMap((c) => c.statements.map((st) => String(st._id)));
    expect(attemptDeletes).toHaveLength(5);
    // Nothing that grows with history was read or written but by `_id`, except the daily sweep
    // of leftover lease claims (a week has passed since the last).
    expect(seen.filter((c) => HISTORY.includes(c.collection) && !keyedById(c))).toEqual([
      expect.objectContaining({ name: 'delete', collection: 'claims', filter: { until: expect.anything() } }),
    ]);
    expect(await AuditModel.countDocuments()).toBe(audits);
    // Each batch read once (FerretDB loads a batch whole for any read: a second look costs as
    // much as the first), and written once.
    const runBatches = await DeliveryBatchModel.find({ campaignId }, { _id: 1 }).lean();
    const batchCommands = seen.filter((c) => c.collection === 'deliverybatches');
    expect(batchCommands.filter((c) => c.name === 'find').map((c) => c.filter?._id).sort()).toEqual(
      runBatches.map((b) => b._id).sort(),
    );
    expect(batchCommands.filter((c) => c.name === 'update')).toHaveLength(runBatches.length);
    expect(await figures()).toEqual(before);
    expect(await attemptsOfRun()).toBe(0);
    expect(await SendAttemptModel.exists({ _id: `${open}/group-1#1` })).not.toBeNull();
    // Each batch keeps only the epoch retention held (a stale reader of the one before meets it).
    const batches = await DeliveryBatchModel.find({ campaignId }).lean();
    expect((await leases()).map((c) => c._id).sort()).toEqual(batches.map((b) => `batch:${b._id}#${b.lease!.epoch}`).sort());
    expect(await ClaimModel.countDocuments({ until: null })).toBe(decided);
    // The finished step's outbox text is dropped, the one still being sent keeps it.
    const steps = await NotificationStepModel.find({ campaignId }).sort({ officerKey: 1 }).lean();
    expect(steps.map((s) => [s.status, s.message])).toEqual([
      ['sent', null],
      ['sending', { text: '您有 2 个转发任务' }],
    ]);
    expect(batches.every((b) => b.compactedAt)).toBe(true);
    expect(batches.flatMap((b) => b.items).filter((i) => i.credentialsSealed || i.nextAt)).toEqual([]);
    // Nor in the packed fixed part of the batches (tracking/batch-fixed.ts); the names stay.
    const whole = (await withFixedItemsAll(batches)).flatMap((b) => b.items);
    expect(batches.some((b) => b.fixedId)).toBe(true);
    expect(whole.filter((i) => i.credentialsSealed)).toEqual([]);
    expect(whole.every((i) => i.groupName)).toBe(true);
    expect(await ManualConfirmationModel.countDocuments({ _id: { $in: deliveryIds } })).toBe(0);
    // The step still sending filed the run again, due a keep period from now.
    const due = await RetentionDueModel.find({ runs: { $exists: true } }).lean();
    expect(due.flatMap((d) => d.runs)).toEqual([`${runId}|${campaignId}`]);
  });

  it('an idle pass an hour later reads only its state and no history', async () => {
    clock.advance(60 * 60_000);
    let report: Awaited<ReturnType<Retention['runOnce']>> | undefined;
    const seen = await commandsDuring(async () => {
      report = await retention.runOnce();
    });
    expect(report).toMatchObject({ runs: 0, batchesCompacted: 0, behind: false });
    expect(seen.filter((c) => HISTORY.includes(c.collection))).toEqual([]);
    // Its state by `_id`, and the rate slots (a window's worth, engine/rate-limit.ts).
    expect(seen.filter((c) => c.collection !== 'rateslots').map((c) => [c.name, c.collection, byIdOnly(c.filter)])).toEqual([
      ['find', 'retentiondue', true],
    ]);
  });

  it('a retraction after all the pruning still reaches every group that got the notice, once each', async () => {
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

describe('retention passes over a backlog', () => {
  // Its own clock and world: three settled runs a keep period old.
  const began = new Date();
  began.setUTCHours(6, 0, 0, 0);
  const time = fixedClock(began);
  let w: DeliveryWorld;
  const campaigns: string[] = [];
  let before: unknown[];

  const items = async () =>
    Promise.all(campaigns.map(async (id) => (await campaignItems(id)).map(({ credentialsSealed: _, nextAt: __, ...rest }) => rest)));
  const compacted = async () =>
    (await DeliveryBatchModel.find({ campaignId: { $in: campaigns } }, { compactedAt: 1 }).lean()).filter((b) => b.compactedAt).length;
  const attempts = () => SendAttemptModel.countDocuments({ _id: { $regex: `^(${campaigns.join('|')})@` } });

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock: time });
    const notice = await approvedNotice(w, { title: '协查通报：积压' });
    const groups = await wecomGroups(w, 2);
    for (const title of ['积压一', '积压二', '积压三']) {
      campaigns.push(
        await approvedCampaign(w, {
          title,
          noticeId: notice,
          audience: audienceOf([], groups.map((g) => g.id)),
          schedule: { kind: 'now' },
          priority: 'urgent',
        }),
      );
      await runUntilIdle(w);
    }
    await w.scheduler.sweep();
    before = await items();
    time.advance(8 * DAY);
  }, 120_000);
  afterAll(() => w.close());

  it('a pass stops at its budget and the next goes on from there, reading nothing done again', async () => {
    const small = new Retention(time, { keepDays: 7, everyMs: 3_600_000, batchesPerPass: 1 });
    expect(await small.runOnce()).toMatchObject({ batchesCompacted: 1, behind: true });
    expect(await compacted()).toBe(1);
    const done = (await DeliveryBatchModel.findOne({ campaignId: campaigns[0] }, { _id: 1 }).lean())!._id;
    const seen = await commandsDuring(() => small.runOnce());
    // The batch compacted before is not read again.
    expect(seen.filter((c) => c.collection === 'deliverybatches' && c.filter?._id === done)).toEqual([]);
    expect(await compacted()).toBe(2);
  });

  it('a pass that dies mid-run is resumed where it stood, and every run ends pruned and exact', async () => {
    // The third run's send attempts fail to delete once (the process dies there).
    const spy = vi.spyOn(SendAttemptModel, 'bulkWrite').mockImplementationOnce(() => {
      throw new Error('process died');
    });
    await expect(new Retention(time, { keepDays: 7, everyMs: 3_600_000 }).runOnce()).rejects.toThrow('process died');
    spy.mockRestore();
    expect(await compacted()).toBe(2);
    // The dead pass's hold on the third batch lapses (COMPACT_LEASE_MS).
    time.advance(2 * 60_000);
    const [first, second] = await Promise.all(
      campaigns.slice(0, 2).map(async (id) => (await DeliveryBatchModel.findOne({ campaignId: id }, { _id: 1 }).lean())!._id),
    );
    // A new process: it reads the first two runs' batches no more.
    let report: Awaited<ReturnType<Retention['runOnce']>> | undefined;
    const seen = await commandsDuring(async () => {
      report = await new Retention(time, { keepDays: 7, everyMs: 3_600_000 }).runOnce();
    });
    expect(report).toMatchObject({ runs: 1, batchesCompacted: 1, sendAttempts: 2, behind: false });
    expect(seen.filter((c) => c.collection === 'deliverybatches' && (c.filter?._id === first || c.filter?._id === second))).toEqual([]);
    expect(await compacted()).toBe(3);
    expect(await attempts()).toBe(0);
    expect(await items()).toEqual(before);
    // Nothing due is left: the next pass reads no batch.
    const idle = await commandsDuring(() => new Retention(time, { keepDays: 7, everyMs: 3_600_000 }).runOnce());
    expect(idle.filter((c) => c.collection === 'deliverybatches')).toEqual([]);
  });
});

describe('retention on an install from before the due keys', () => {
  const began = new Date();
  began.setUTCHours(6, 0, 0, 0);
  const time = fixedClock(began);
  let w: DeliveryWorld;

  afterAll(() => w?.close());

  it('files its settled runs once at start and prunes them as the keys would', async () => {
    w = await startDeliveryWorld({ clock: time });
    const notice = await approvedNotice(w, { title: '协查通报：旧库' });
    const groups = await wecomGroups(w, 2);
    const campaignId = await approvedCampaign(w, {
      title: '旧库',
      noticeId: notice,
      audience: audienceOf([], groups.map((g) => g.id)),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await runUntilIdle(w);
    await w.scheduler.sweep();
    const before = (await campaignItems(campaignId)).map(({ credentialsSealed: _, nextAt: __, ...rest }) => rest);
    // The old layout: no due keys, no state, the backfill never ran.
    await RetentionDueModel.deleteMany({});
    await BackfillModel.deleteOne({ _id: 'retention-due' });
    time.advance(8 * DAY);
    const report = await new Retention(time, { keepDays: 7, everyMs: 3_600_000 }).runOnce();
    expect(report).toMatchObject({ runs: 1, batchesCompacted: 1, sendAttempts: 2, behind: false });
    expect((await campaignItems(campaignId)).map(({ credentialsSealed: _, nextAt: __, ...rest }) => rest)).toEqual(before);
    expect(await SendAttemptModel.countDocuments({ _id: { $regex: `^${campaignId}@` } })).toBe(0);
    // Once: a later start finds the backfill done.
    expect(await BackfillModel.exists({ _id: 'retention-due' })).not.toBeNull();
  }, 120_000);
});

describe('retention of a run stopped while a dead worker held its batch', () => {
  const began = new Date();
  began.setUTCHours(6, 0, 0, 0);
  const time = fixedClock(began);
  let w: DeliveryWorld;

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock: time });
  }, 120_000);
  afterAll(() => w.close());

  it('deletes every send attempt: the dead holder’s (uncertain), the stop’s next attempts (skipped), none left behind', async () => {
    const notice = await approvedNotice(w, { title: '协查通报：停止后保留' });
    const groups = await wecomGroups(w, 5);
    const campaignId = await approvedCampaign(w, {
      title: '停止后保留',
      noticeId: notice,
      audience: audienceOf([], groups.map((g) => g.id)),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await w.scheduler.tick();
    // A worker claimed the batch and two deliveries' first attempts, then died; the campaign is
    // cancelled; the take-over records those two as uncertain (attempt 1, the dead holder's),
    // claims the other three's first attempts, finds the campaign stopped (counted, not sent)
    // and claims their second to skip them (engine/worker.ts): skipped with `attempts` 1 and
    // attempt #2 taken, the one kind of delivery with an attempt after its count.
    await diedHoldingBatch(campaignId, time, 2);
    expect((await w.t.request('POST', `/api/campaigns/${campaignId}/cancel`, w.editor)).statusCode).toBe(200);
    time.advance(61_000);
    await runUntilIdle(w);
    await w.scheduler.sweep();
    const items = await campaignItems(campaignId);
    expect(items.map((i) => i.status).sort()).toEqual(['skipped', 'skipped', 'skipped', 'uncertain', 'uncertain']);
    const attempts = () => SendAttemptModel.countDocuments({ _id: { $regex: `^${campaignId}@` } });
    expect(items.map((i) => i.attempts)).toEqual([1, 1, 1, 1, 1]);
    expect(await attempts()).toBe(8);
    time.advance(8 * DAY);
    const report = await new Retention(time, { keepDays: 7, everyMs: 3_600_000 }).runOnce();
    expect(report).toMatchObject({ runs: 1, batchesCompacted: 1, sendAttempts: 8 });
    expect(await attempts()).toBe(0);
  });
});

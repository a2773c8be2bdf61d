// Per-run summaries of settled runs (issue 25): a run with nothing pending is read from one
// summary document by `_id`, never from its batches, and every figure stays exactly a full
// recount of the ledger through every writer that can change a settled run's batches: an
// officer's confirmation (also one that comes after the tasks expired), the resolution of an
// uncertain manual delivery, a retraction with its follow-up and retention's compaction. A
// write in flight is never summarized; an install without summaries gets the same figures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { wakeBatchOf } from '../../src/engine/control.js';
import { deliveryId } from '../../src/engine/queue.js';
import { Retention } from '../../src/engine/retention.js';
import { fixedClock } from '../../src/lib/clock.js';
import { countDelivery, zeroCounts } from '../../src/tracking/counts.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { receivedCounts, receivedCountsOf } from '../../src/tracking/recipients.js';
import { runIdsOf } from '../../src/tracking/run-batches.js';
import { RunGenerationModel, runWriteDone, runWriteStarting } from '../../src/tracking/run-generation.js';
import { buildRunSummaries, RunSummaryModel, receivedIt } from '../../src/tracking/run-summaries.js';
import { commandsDuring } from '../helpers/commands.js';
import {
  approvedNotice,
  campaignItems,
  type DeliveryWorld,
  manualGroup,
  runUntilIdle,
  startDeliveryWorld,
  urgentNowCampaign,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';
import { diedAfterFirstSend } from '../helpers/workers.js';

const start = new Date();
start.setUTCHours(6, 0, 0, 0);
const clock = fixedClock(start);
const DAY = 24 * 3600_000;

describe('per-run summaries of settled runs', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  let manualA: string;
  let manualB: string;
  const campaigns: string[] = [];
  const notices: string[] = [];

  /** A campaign's ledger counted by a full scan: the truth every figure must equal. */
  async function recount(campaignId: string, regionCode: string | null = null) {
    const counts = zeroCounts();
    for (const batch of await DeliveryBatchModel.find({ campaignId }).lean()) {
      if (regionCode && !batch.regionPath.includes(regionCode)) continue;
      for (const item of batch.items) countDelivery(counts, item);
    }
    return counts;
  }

  /** Groups and villages that received a notice, by a full scan. */
  async function reachOf(id: string) {
    const groups = new Set<string>();
    const villages = new Set<string>();
    for (const batch of await DeliveryBatchModel.find({ noticeId: id }).lean())
      for (const item of batch.items)
        if (receivedIt(item)) {
          groups.add(item.groupId);
          villages.add(item.villageCode);
        }
    return { groupCount: groups.size, villageCount: villages.size };
  }

  async function get(url: string, token = w.t.adminToken) {
    const response = await w.t.request('GET', url, token);
    expect(response.statusCode, `${url} ${response.body}`).toBe(200);
    return response.json();
  }

  const expected = (c: ReturnType<typeof zeroCounts>) => ({
    total: c.total,
    queued: c.pending,
    sent: c.sent,
    failed: c.failed,
    uncertain: c.uncertain,
    awaiting: c.awaiting,
    confirmed: c.confirmed,
    skipped: c.skipped,
    personTimes: c.reachedMembers,
  });

  /**
   * Every figure of every campaign and notice equals the recount (read twice: built, then from
   * the summary). The recount is made once, before the first read: reading writes no batch, so
   * the second round is held to the same truth a second scan would give.
   */
  async function expectExact() {
    const truths = new Map<string, { all: ReturnType<typeof expected>; county: ReturnType<typeof expected> }>();
    for (const campaignId of campaigns)
      truths.set(campaignId, {
        all: expected(await recount(campaignId)),
        county: expected(await recount(campaignId, TREE.countyA.code)),
      });
    const reaches = new Map<string, Awaited<ReturnType<typeof reachOf>>>();
    for (const id of notices) reaches.set(id, await reachOf(id));
    for (let round = 0; round < 2; round++) {
      const summaries = (await get(`/api/campaigns/summaries?ids=${campaigns.join(',')}`)) as Record<string, unknown>[];
      for (const campaignId of campaigns) {
        const { all: truth, county } = truths.get(campaignId)!;
        expect(await get(`/api/campaigns/${campaignId}/progress`), campaignId).toMatchObject(truth);
        expect(summaries.find((s) => s.campaignId === campaignId)).toEqual({ campaignId, ...truth });
        expect(await get(`/api/campaigns/${campaignId}/progress`, w.editor)).toMatchObject(county);
        const progress = (await get(`/api/campaigns/${campaignId}/progress`)) as { awaitingOfficers: number };
        expect(await w.t.ctx.tracking.progress.awaitingOfficers(campaignId)).toBe(progress.awaitingOfficers);
      }
      const reach = await receivedCountsOf(notices, clock.now());
      for (const id of notices) {
        expect(reach.get(id), id).toEqual(reaches.get(id));
        expect(await receivedCounts(id, clock.now())).toEqual(reaches.get(id));
      }
    }
  }

  /** The commands to the ledger while every figure of the settled campaigns is read. */
  async function batchReads() {
    const seen = await commandsDuring(async () => {
      await get(`/api/campaigns/summaries?ids=${campaigns.join(',')}`);
      for (const campaignId of campaigns) {
        await get(`/api/campaigns/${campaignId}/progress`);
        await get(`/api/campaigns/${campaignId}/progress`, w.editor);
        await w.t.ctx.tracking.progress.awaitingOfficers(campaignId);
      }
      await receivedCountsOf(notices, clock.now());
    });
    return seen.filter((c) => c.collection === 'deliverybatches');
  }

  async function confirmTaskOf(reference: string) {
    const task = await ManualTaskModel.findOne({ taskKey: reference }).lean();
    const signed = w.t.ctx.manualTasks.signedQuery(String(task!._id));
    const answer = await w.t.app.inject({ method: 'POST', url: `/api/manual-tasks/${task!._id}/confirm?${signed}` });
    expect(answer.statusCode, answer.body).toBe(200);
  }

  async function referenceOf(campaignId: string, groupId: string) {
    const [batch] = await DeliveryBatchModel.find({ campaignId, 'items.groupId': groupId }).lean();
    return deliveryId(batch!.occurrenceId, groupId);
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    noticeId = await approvedNotice(w, { title: '防诈骗提醒：按摘要读取' });
    notices.push(noticeId);
    const robots = (await wecomGroups(w, 3, TREE.villageA.code)).map((g) => g.id);
    const failing = await w.t.request('POST', '/api/groups', w.t.adminToken, {
      name: '失效机器人群',
      regionCode: TREE.villageA.code,
      channel: { kind: 'wecom', key: 'removed-robot-key' },
      memberCount: 30,
    });
    manualA = await manualGroup(w, '人工转发群甲', {
      memberCount: 300,
      officer: { name: '王警官', phone: '13900000000' },
    });
    manualB = await manualGroup(w, '人工转发群乙', {
      memberCount: 200,
      officer: { name: '李警官', phone: '13900000001' },
    });
    const audience = [...robots, failing.json().id as string, manualA, manualB];
    campaigns.push(await urgentNowCampaign(w, noticeId, audience, '摘要推送'));
    // A second run of the notice (another campaign) reaches some groups again: counted once.
    campaigns.push(await urgentNowCampaign(w, noticeId, [...robots.slice(0, 2), manualA], '摘要再推送'));
    await runUntilIdle(w);
  }, 120_000);
  afterAll(() => w.close());

  it('reads a settled run from its summary only, and its figures equal a recount', async () => {
    const items = await campaignItems(campaigns[0]!);
    expect(items.filter((i) => i.status === 'sent').length).toBe(3);
    expect(items.filter((i) => i.status === 'failed').length).toBe(1);
    expect(items.filter((i) => i.status === 'awaiting').length).toBe(2);
    await expectExact();
    for (const campaignId of campaigns)
      for (const run of await runIdsOf(campaignId))
        expect(await RunSummaryModel.exists({ _id: `run|${run}` })).not.toBeNull();
    expect(await batchReads()).toEqual([]);
  });

  it('an officer’s confirmation, and one after the tasks expired, void the summary: still exact', async () => {
    await confirmTaskOf(await referenceOf(campaigns[0]!, manualA));
    await runUntilIdle(w);
    expect((await campaignItems(campaigns[0]!)).filter((i) => i.status === 'confirmed').length).toBe(1);
    await expectExact();
    expect(await batchReads()).toEqual([]);
    // Nine days on, the officers' tasks have expired; a late confirmation still counts.
    clock.advance(9 * DAY);
    const before = (await get(`/api/campaigns/${campaigns[0]}/progress`)) as {
      awaitingOfficers: number;
      finished: boolean;
    };
    expect(before.awaitingOfficers).toBe(0);
    await confirmTaskOf(await referenceOf(campaigns[0]!, manualB));
    await runUntilIdle(w);
    expect((await campaignItems(campaigns[0]!)).filter((i) => i.status === 'confirmed').length).toBe(2);
    await expectExact();
    expect(await batchReads()).toEqual([]);
  });

  it('the resolution of an uncertain manual delivery voids the summary: still exact', async () => {
    const manualC = await manualGroup(w, '人工转发群丙', {
      memberCount: 120,
      officer: { name: '赵警官', phone: '13900000002' },
    });
    const id = await urgentNowCampaign(w, noticeId, [manualC], '存疑转发');
    campaigns.push(id);
    await w.scheduler.tick();
    // A worker claimed the delivery's attempt and created the officer's task, then died.
    const reference = await diedAfterFirstSend(w, id, clock);
    // The officer confirms, but the wake is lost; then the campaign is cancelled after the dead
    // worker's lease lapsed: the stop records its claimed delivery uncertain.
    w.t.ctx.manualTasks.onConfirm(async () => {
      throw new Error('database unreachable');
    });
    const task = await ManualTaskModel.findOne({ taskKey: reference }).lean();
    const signed = w.t.ctx.manualTasks.signedQuery(String(task!._id));
    await w.t.app.inject({ method: 'POST', url: `/api/manual-tasks/${task!._id}/confirm?${signed}` });
    w.t.ctx.manualTasks.onConfirm((task) => wakeBatchOf(task.reference, clock.now(), task.regionPath));
    clock.advance(61_000);
    expect((await w.t.request('POST', `/api/campaigns/${id}/cancel`, w.editor)).statusCode).toBe(200);
    expect((await campaignItems(id))[0]!.status).toBe('uncertain');
    await expectExact();
    expect(await batchReads()).toEqual([]);
    // The sweep finds the confirmation: uncertain → confirmed by the batch's next holder.
    await w.scheduler.sweep();
    await runUntilIdle(w);
    expect((await campaignItems(id))[0]!.status).toBe('confirmed');
    await expectExact();
    expect(await batchReads()).toEqual([]);
  });

  it('a retraction with its follow-up and retention’s compaction keep every figure exact', async () => {
    const correction = await approvedNotice(w, { title: '更正：按摘要读取' });
    const retract = await w.t.request('POST', `/api/campaigns/${campaigns[0]}/retract`, w.editor, {
      followUpNoticeId: correction,
    });
    expect(retract.statusCode, retract.body).toBe(200);
    const followUp = retract.json().followUp.id as string;
    expect((await w.t.request('POST', `/api/campaigns/${followUp}/approve`, w.reviewer)).statusCode).toBe(200);
    campaigns.push(followUp);
    notices.push(correction);
    await runUntilIdle(w);
    await runUntilIdle(w);
    expect((await campaignItems(followUp)).length).toBeGreaterThan(0);
    await expectExact();
    expect(await batchReads()).toEqual([]);
    clock.advance(8 * DAY);
    const report = await new Retention(clock, { keepDays: 7, everyMs: 60_000 }).runOnce();
    expect(report.batchesCompacted).toBeGreaterThan(0);
    await expectExact();
    expect(await batchReads()).toEqual([]);
  });

  it('never summarizes a run while a write may be in flight', async () => {
    const [run] = await runIdsOf(campaigns[0]!);
    const until = new Date(clock.now().getTime() + 60_000);
    await runWriteStarting(run!, until);
    await expectExact();
    expect(await RunSummaryModel.findById(`run|${run}`, { gen: 1 }).lean()).not.toBeNull();
    // The stored summary is of an older generation: read from the batches, not stored again.
    expect((await batchReads()).length).toBeGreaterThan(0);
    await runWriteDone(run!, until);
    await expectExact();
    expect(await batchReads()).toEqual([]);
  });

  it('an install without summaries gets the same figures, lazily and from the backfill at start', async () => {
    await RunSummaryModel.deleteMany({});
    await RunGenerationModel.deleteMany({});
    await expectExact();
    expect(await batchReads()).toEqual([]);
    await RunSummaryModel.deleteMany({});
    await BackfillModel.deleteOne({ _id: 'run-summaries' });
    await buildRunSummaries(clock.now());
    expect(await batchReads()).toEqual([]);
    await expectExact();
    // Marked done: a second start reads the marker only.
    const seen = await commandsDuring(() => buildRunSummaries(clock.now()));
    expect(seen.filter((c) => c.collection !== 'backfills')).toEqual([]);
  });
});

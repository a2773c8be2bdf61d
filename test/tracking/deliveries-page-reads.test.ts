// A campaign's deliveries list of one status (the campaign page's 失败 / 不确定 tables) reads
// only the batches its page shows (issue 25, screens): a settled run names its batches holding
// each status in its status lists (tracking/run-summaries.ts), so a page of a many-batch run
// with a few failures reads those batches by `_id`, not every batch until the page fills. The
// rows stay a full recount of the ledger, in scope, for every status and page size: for an
// install written before any summary, one summarized before the status lists existed (both
// brought up by the start's backfill), a run still sending, and after a write moves a run's
// generation on.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignModel } from '../../src/campaigns/model.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { runWriteDone, runWriteStarting } from '../../src/tracking/run-generation.js';
import { buildRunSummaries, RunSummaryModel } from '../../src/tracking/run-summaries.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';
import { expectPagesExact, listDeliveries, recountDeliveries, writeRunBatches } from '../helpers/deliveries-pages.js';
import { createRegionTree, TREE } from '../helpers/regions.js';

const STATUSES = ['failed', 'uncertain', 'skipped', 'pending', 'sent', 'awaiting', 'confirmed'] as const;
const AT = new Date('2026-11-20T02:00:00Z');

/** A campaign of the city written as the engine leaves it: its run, its batches, its lists. */
async function writeCampaign(title: string, batches: number, statusOf: (batch: number, item: number) => string) {
  const campaignId = new mongoose.Types.ObjectId();
  const id = String(campaignId);
  const occurrenceId = `${id}@${AT.toISOString()}`;
  const noticeId = new mongoose.Types.ObjectId().toHexString();
  const batchIds = await writeRunBatches({
    campaignId: id,
    occurrenceId,
    noticeId,
    at: AT,
    batches,
    statusOf,
    inB: (b) => b % 5 === 4,
    label: `${title}群`,
    epoch: 1,
  });
  await CampaignModel.collection.insertOne({
    _id: campaignId,
    title,
    noticeId,
    status: 'completed',
    regionCode: TREE.city.code,
    regionPath: ['000000', TREE.province.code, TREE.city.code],
    createdAt: AT,
    updatedAt: AT,
  } as never);
  return { id, occurrenceId, batchIds };
}

describe('a campaign deliveries page reads only its own batches', () => {
  let t: TestApp;
  let editorA: string;
  let settled: Awaited<ReturnType<typeof writeCampaign>>;
  let sending: Awaited<ReturnType<typeof writeCampaign>>;

  const recount = recountDeliveries;
  const listed = (campaignId: string, status: string, limit: number, token = t.adminToken) =>
    listDeliveries(t, campaignId, status, limit, token);
  /** Every status and two page sizes, for the admin and for county A's editor, equal the recount. */
  const expectExact = (campaignId: string) => expectPagesExact(t, editorA, campaignId, STATUSES, [3, 1000]);

  /** The batches one request reads. */
  async function batchReads(read: () => Promise<unknown>) {
    const seen = await commandsDuring(read);
    return seen.filter((c) => c.collection === 'deliverybatches').map((c) => String(c.filter?._id));
  }

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    editorA = (await t.userToken('editor', TREE.countyA.code)).token;
    // 60 batches, 300 deliveries: a failure in batches 7, 23, 24 and 51 only, two uncertain, one skipped.
    const failing = new Set([7, 23, 24, 51]);
    settled = await writeCampaign('按页', 60, (b, i) =>
      failing.has(b) && i < (b === 23 ? 2 : 1)
        ? 'failed'
        : b === 40 && i < 2
          ? 'uncertain'
          : b === 2 && i === 4
            ? 'skipped'
            : 'sent',
    );
    // A run still sending: nothing summarized, read batch by batch.
    sending = await writeCampaign('发送中', 12, (b, i) => (b === 9 && i === 0 ? 'failed' : b > 6 ? 'pending' : 'sent'));
  }, 180_000);
  afterAll(() => t.close());

  it('an install written before any summary lists the same rows, from its batches', async () => {
    await expectExact(settled.id);
    await expectExact(sending.id);
  }, 300_000);

  it('once summarized by the start, a page of failures reads only the batches that hold them', async () => {
    await BackfillModel.deleteMany({ _id: { $in: ['run-summaries', 'run-status-lists'] } });
    await buildRunSummaries(new Date());
    const truth = await recount(settled.id, 'failed', null);
    expect(truth.map((row) => row.batch)).toHaveLength(5);
    // The first three failures lie in two batches (7 and 23): the page reads those two.
    const reads = await batchReads(() => listed(settled.id, 'failed', 3));
    expect(reads).toEqual([...new Set(truth.slice(0, 3).map((row) => row.batch))]);
    // All of them: the four batches that hold one, none of the other 56.
    expect(new Set(await batchReads(() => listed(settled.id, 'failed', 50)))).toEqual(
      new Set(truth.map((row) => row.batch)),
    );
    // County A's editor: batch 24 (county B) is left out without being read.
    const inA = await recount(settled.id, 'failed', TREE.countyA.code);
    expect(new Set(await batchReads(() => listed(settled.id, 'failed', 50, editorA)))).toEqual(
      new Set(inA.map((row) => row.batch)),
    );
    expect(await batchReads(() => listed(settled.id, 'confirmed', 50))).toEqual([]);
    await expectExact(settled.id);
    await expectExact(sending.id);
  }, 300_000);

  it('an install summarized before the status lists existed gets them from the start, with the same rows', async () => {
    await RunSummaryModel.deleteMany({ _id: /^status\|/ });
    await BackfillModel.deleteMany({ _id: 'run-status-lists' });
    await expectExact(settled.id);
    await buildRunSummaries(new Date());
    expect(await RunSummaryModel.countDocuments({ _id: /^status\|/ })).toBe(STATUSES.length);
    expect(await batchReads(() => listed(settled.id, 'uncertain', 50))).toEqual([settled.batchIds[40]]);
    await expectExact(settled.id);
  }, 300_000);

  it('after a write moves the run on (a failure resolved as sent), the lists are not used until made again', async () => {
    const batchId = settled.batchIds[7]!;
    const until = new Date(Date.now() + 60_000);
    await runWriteStarting(settled.occurrenceId, until);
    await DeliveryBatchModel.updateOne(
      { _id: batchId },
      { $set: { 'items.0.status': 'sent', 'items.0.lastError': null, 'counts.failed': 0, 'counts.sent': 5 } },
    );
    await runWriteDone(settled.occurrenceId, until);
    await expectExact(settled.id);
    expect(await batchReads(() => listed(settled.id, 'failed', 50))).toContain(settled.batchIds[0]);
  }, 300_000);
});

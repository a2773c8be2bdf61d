// A campaign's deliveries page (the campaign page's 投递明细) costs the same few `_id` reads
// whatever the campaign's size once its runs are settled (issue 25, ninth session, screens):
// the page is kept under the campaign's generation (tracking/deliveries/kept-pages.ts), which
// every writer of a settled run's batches moves on. Two campaigns, one of 1 run and 8 batches,
// one of 3 runs and 150 batches with their failures spread: a repeated page sends as many
// commands for both and reads no batch, run list or status list. The rows stay a recount of
// the ledger after a write to a settled batch, after a new run is listed and sends, after a
// stop skips its pending deliveries, and for a county's editor as for the admin.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignModel } from '../../src/campaigns/model.js';
import { skipBatchesInBulk } from '../../src/engine/skip.js';
import { DeliveryPageModel, KeptDeliveryPages } from '../../src/tracking/deliveries/kept-pages.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { runWriteDone, runWriteStarting } from '../../src/tracking/run-generation.js';
import { summarizeRun } from '../../src/tracking/run-summaries.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';
import { expectPagesExact, listDeliveries, writeRunBatches } from '../helpers/deliveries-pages.js';
import { createRegionTree, TREE } from '../helpers/regions.js';

const DAY0 = Date.parse('2026-11-01T02:00:00Z');

/** One run of the campaign as the engine leaves it: listed, its batches listed then inserted. */
async function writeRun(
  campaignId: string,
  day: number,
  batches: number,
  statusOf: (batch: number, item: number) => string,
) {
  const at = new Date(DAY0 + day * 86400_000);
  const occurrenceId = `${campaignId}@${at.toISOString()}`;
  const batchIds = await writeRunBatches({
    campaignId,
    occurrenceId,
    noticeId: 'n'.repeat(24),
    at,
    batches,
    statusOf,
    inB: (b) => b % 4 === 3,
    label: `群${day}-`,
    dueWhenPending: true,
  });
  return { occurrenceId, batchIds };
}

async function writeCampaign(title: string) {
  const campaignId = new mongoose.Types.ObjectId();
  await CampaignModel.collection.insertOne({
    _id: campaignId,
    title,
    noticeId: 'n'.repeat(24),
    status: 'completed',
    regionCode: TREE.city.code,
    regionPath: ['000000', TREE.province.code, TREE.city.code],
    createdAt: new Date(DAY0),
    updatedAt: new Date(DAY0),
  } as never);
  return String(campaignId);
}

describe('a campaign deliveries page costs the same whatever the campaign size', () => {
  let t: TestApp;
  let editorA: string;
  let small: string;
  let large: string;
  const largeRuns: Awaited<ReturnType<typeof writeRun>>[] = [];

  const listed = (campaignId: string, status: string, limit: number, token = t.adminToken) =>
    listDeliveries(t, campaignId, status, limit, token);
  /** Each listed status and two page sizes, twice (the second kept), for the admin and county A's editor. */
  const expectExact = (campaignId: string) =>
    expectPagesExact(t, editorA, campaignId, ['failed', 'uncertain', 'skipped', 'pending', 'sent'], [3, 50], 2);

  /** The commands of one call, by collection. */
  async function commandsOf(campaignId: string) {
    const seen = await commandsDuring(() => listed(campaignId, 'failed', 50));
    return seen.map((c) => c.collection);
  }

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    editorA = (await t.userToken('editor', TREE.countyA.code)).token;
    small = await writeCampaign('小');
    const one = await writeRun(small, 0, 8, (b, i) => (b === 2 && i === 1 ? 'failed' : 'sent'));
    await summarizeRun(one.occurrenceId, new Date());
    large = await writeCampaign('大');
    // Three runs of 50 batches; a failure in every fifth batch, an uncertain one now and then.
    for (let day = 0; day < 3; day += 1) {
      const run = await writeRun(large, day, 50, (b, i) =>
        b % 5 === 1 && i === day ? 'failed' : b % 17 === 3 && i === 4 ? 'uncertain' : 'sent',
      );
      largeRuns.push(run);
      await summarizeRun(run.occurrenceId, new Date());
    }
  }, 180_000);
  afterAll(() => t.close());

  it('when the runs are settled, then a repeated page sends as many commands for 150 batches as for 8, and reads no batch', async () => {
    await listed(small, 'failed', 50);
    await listed(large, 'failed', 50);
    const smallCommands = await commandsOf(small);
    const largeCommands = await commandsOf(large);
    expect(largeCommands.length).toBe(smallCommands.length);
    expect(largeCommands.filter((c) => ['deliverybatches', 'runbatchlists', 'runsummaries'].includes(c))).toEqual([]);
    expect(largeCommands.length).toBeLessThanOrEqual(5);
    // A fresh process (another keeper) answers from the stored page, reading no batch.
    const stored = await DeliveryPageModel.find({ _id: { $regex: `^${large}\\|sent\\|` } }).lean();
    await listed(large, 'sent', 50);
    const [doc] = await DeliveryPageModel.find({ _id: { $regex: `^${large}\\|sent\\|` } }).lean();
    expect(stored.length === 0 && doc !== undefined).toBe(true);
    const [, , scopeCode, limit] = doc!._id.split('|');
    const fresh = new KeptDeliveryPages<{ sentAt: Date | null }>();
    const rows = await fresh.page(
      { campaignId: large, status: 'sent', scopeCode: scopeCode!, limit: Number(limit) },
      () => {
        throw new Error('read the batches');
      },
    );
    const served = await t.request('GET', `/api/campaigns/${large}/deliveries?status=sent&limit=50`, t.adminToken);
    expect(JSON.parse(JSON.stringify(rows))).toEqual(served.json());
    expect(rows.every((row) => row.sentAt instanceof Date)).toBe(true);
    await expectExact(small);
    await expectExact(large);
  }, 300_000);

  it('when a settled batch is written (a failure resolved as sent), then the next page is the recount', async () => {
    const batchId = largeRuns[1]!.batchIds[1]!;
    await listed(large, 'failed', 50);
    const until = new Date(Date.now() + 60_000);
    await runWriteStarting(largeRuns[1]!.occurrenceId, until);
    await DeliveryBatchModel.updateOne(
      { _id: batchId },
      { $set: { 'items.1.status': 'sent', 'items.1.lastError': null, 'counts.failed': 0, 'counts.sent': 5 } },
    );
    await runWriteDone(largeRuns[1]!.occurrenceId, until);
    await expectExact(large);
    // Summarized again: kept again.
    await summarizeRun(largeRuns[1]!.occurrenceId, new Date());
    await listed(large, 'failed', 50);
    expect((await commandsOf(large)).filter((c) => c === 'deliverybatches')).toEqual([]);
    await expectExact(large);
  }, 300_000);

  it('when a new run sends and is then stopped, then every page is the recount, and kept again once it is settled', async () => {
    await listed(large, 'pending', 50);
    await listed(large, 'failed', 50);
    const run = await writeRun(large, 5, 10, (b, i) => (b < 4 ? (i === 0 ? 'failed' : 'sent') : 'pending'));
    await expectExact(large);
    // The run sends on: a batch's pending deliveries fail (no bump: the run is still sending).
    await DeliveryBatchModel.updateOne(
      { _id: run.batchIds[5] },
      {
        $set: {
          'items.0.status': 'failed',
          'items.0.lastError': '超时',
          'counts.pending': 4,
          'counts.failed': 1,
        },
      },
    );
    await expectExact(large);
    // A stop skips what is still pending.
    const live = await DeliveryBatchModel.find({ _id: { $in: run.batchIds }, 'counts.pending': { $gt: 0 } }).lean<
      { _id: string; priority: string; campaignId: string; lease?: { epoch?: number; until?: Date | null } }[]
    >();
    await skipBatchesInBulk(live, '推送已停止', new Date(), 'stop-test');
    await expectExact(large);
    expect(await summarizeRun(run.occurrenceId, new Date())).toBe(true);
    await listed(large, 'failed', 50);
    expect((await commandsOf(large)).filter((c) => c === 'deliverybatches')).toEqual([]);
    await expectExact(large);
  }, 300_000);
});

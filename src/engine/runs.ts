// A campaign's runs as staff see them: when, how many deliveries, and why a run was skipped.
import { DeliveryBatchModel } from '../tracking/model.js';
import { LISTS_BUILT, RunBatchListModel, listBatches, listRun, mapLimited, runIdsOf } from '../tracking/run-batches.js';
import { OccurrenceModel } from './model.js';

export interface CampaignRun {
  id: string;
  runAt: Date;
  dueAt: Date;
  status: 'planning' | 'planned' | 'skipped';
  skipReason: string | null;
  deliveryCount: number;
  memberTotal: number;
}

/** The run id's time (`${campaignId}@${runAt ISO}`): newest first sorts by it. */
const runAtOf = (id: string) => id.slice(id.lastIndexOf('@') + 1);

/** The campaign's latest runs, read by `_id` from its run list (tracking/run-batches.ts). */
export async function campaignRuns(campaignId: string, limit = 100): Promise<CampaignRun[]> {
  const ids = (await runIdsOf(campaignId)).sort((a, b) => runAtOf(b).localeCompare(runAtOf(a))).slice(0, limit);
  const found = await mapLimited(ids, 8, (id) => OccurrenceModel.findById(id).lean());
  const docs = found.filter((doc) => doc != null).sort((a, b) => b.runAt.getTime() - a.runAt.getTime());
  return docs.map((doc) => ({
    id: String(doc._id),
    runAt: doc.runAt,
    dueAt: doc.dueAt,
    status: doc.status as CampaignRun['status'],
    skipReason: doc.skipReason ?? null,
    deliveryCount: doc.deliveryCount ?? 0,
    memberTotal: doc.memberTotal ?? 0,
  }));
}

/** Runs seen planned or skipped: a run never goes back to planning, so they are not read again. */
const settledRuns = new Set<string>();

/**
 * Whether a run of the campaign is still being planned: its runs read by `_id` (a progress
 * stream asks every second; runs this process saw settled are not read again).
 */
export async function campaignPlanning(campaignId: string): Promise<boolean> {
  const ids = (await runIdsOf(campaignId)).filter((id) => !settledRuns.has(id));
  const runs = await mapLimited(ids, 8, (id) => OccurrenceModel.findById(id, { status: 1 }).lean());
  if (settledRuns.size > 100_000) settledRuns.clear();
  for (const run of runs) if (run && run.status !== 'planning') settledRuns.add(String(run._id));
  return runs.some((run) => run?.status === 'planning');
}

/**
 * Lists the batches and runs of a database written before the lists existed: one pass over
 * the batch collection (ids only), once; later starts read the `built` marker by `_id`.
 */
export async function buildRunLists(): Promise<void> {
  if (await RunBatchListModel.exists({ _id: LISTS_BUILT })) return;
  const runs = new Map<string, { campaignId: string; batchIds: string[] }>();
  const cursor = DeliveryBatchModel.find({}, { _id: 1, occurrenceId: 1, campaignId: 1 })
    .lean<{ _id: string; occurrenceId: string; campaignId: string }[]>()
    .cursor();
  for await (const batch of cursor) {
    const run = runs.get(batch.occurrenceId) ?? { campaignId: batch.campaignId, batchIds: [] };
    runs.set(batch.occurrenceId, run);
    run.batchIds.push(batch._id);
  }
  for (const [occurrenceId, run] of runs) {
    await listRun(run.campaignId, occurrenceId);
    await listBatches(run.campaignId, occurrenceId, run.batchIds);
  }
  // Runs without batches too (skipped ones): a campaign's runs list reads them by `_id`.
  const byCampaign = new Map<string, string[]>();
  const occurrences = OccurrenceModel.find({}, { _id: 1, campaignId: 1 })
    .lean<{ _id: string; campaignId: string }[]>()
    .cursor();
  for await (const run of occurrences) {
    const list = byCampaign.get(run.campaignId) ?? [];
    byCampaign.set(run.campaignId, list);
    list.push(run._id);
  }
  for (const [campaignId, ids] of byCampaign) await listRun(campaignId, ...ids);
  await RunBatchListModel.updateOne({ _id: LISTS_BUILT }, { $set: { campaignId: null } }, { upsert: true });
}

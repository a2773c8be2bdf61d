// The stranded-batch sweep's watch list (issue 25): the runs that may still have work, so the
// sweep reads their batches by `_id` instead of every batch ever written (it read the whole
// batch collection every 10 minutes; a month in, millions of deliveries).
//
// Contract:
// - A run is opened (`openRun`) by its planner before its first batch, and again by every wake
//   of one of its batches from outside a holder (`wakeBatchOf`: a confirmation, a platform's
//   result). Every other writer of a work-list entry is a holder of the batch or acts on
//   batches with pending deliveries, whose run is still open.
// - The sweep closes a run when none of its batches has work due (`dueAt` null), its planning
//   has ended, and nobody re-opened it since the sweep read it (the delete is conditional on
//   the open count the sweep read). A settled batch gets work again only through a new entry
//   (a wake, which re-opens the run), so a closed run has nothing to strand.
// - When nothing is in flight the list is empty and a sweep reads no batch.
// - The roll-up sweep reads the batches of the runs on this list (tracking/rollups.ts): every
//   batch write happens while its run is on it; a run leaving it is first listed as closed there.
// - A run it closes gets its summary then (tracking/run-summaries.ts), if it has none, and is
//   filed for retention on the day it closed (engine/retention-due.ts).
// - An install written before the list existed is listed once at start (`buildOpenRuns`).
import mongoose from 'mongoose';
import { backfillOnce } from '../db/backfills.js';
import { DeliveryBatchModel } from '../tracking/model.js';
import { closedRun } from '../tracking/rollups.js';
import { batchIdsOfRun, mapLimited } from '../tracking/run-batches.js';
import { summarizeRun } from '../tracking/run-summaries.js';
import { OccurrenceModel, QueueEntryModel } from './model.js';
import { fileSettledRun } from './retention-due.js';

const openRunSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    campaignId: { type: String, required: true },
    /** Times opened: the sweep closes the run only if this is still what it read. */
    n: { type: Number, default: 0 },
  },
  { versionKey: false },
);
export const OpenRunModel = mongoose.model('OpenRun', openRunSchema, 'openruns');

/** Puts a run on the sweep's watch list (idempotent; one `_id` upsert). */
export async function openRun(occurrenceId: string, campaignId: string): Promise<void> {
  await OpenRunModel.updateOne({ _id: occurrenceId }, { $set: { campaignId }, $inc: { n: 1 } }, { upsert: true });
}

/** The runs on the list (the roll-up sweep reads their batches' `updatedAt` by `_id`). */
export async function openRunIds(): Promise<string[]> {
  return (await OpenRunModel.find({}, { _id: 1 }).lean<{ _id: string }[]>()).map((run) => run._id);
}

/**
 * Repairs the work list: every batch of an open run with something due and no entry gets one
 * (a holder that died between its batch write and its entry write, a stale holder's write, a
 * planner that died between inserting batches and their entries). Closes the runs that have
 * nothing left. Returns how many entries it created.
 */
export async function requeueStrandedBatches(now: Date): Promise<number> {
  const open = await OpenRunModel.find({}).lean<{ _id: string; campaignId: string; n: number }[]>();
  let created = 0;
  for (const run of open) {
    const ids = await batchIdsOfRun(run._id);
    const batches = await mapLimited(ids, 8, (id) =>
      DeliveryBatchModel.findById(id, { dueAt: 1, priority: 1, campaignId: 1 }).lean<{
        _id: string;
        dueAt: Date | null;
        priority: string;
        campaignId: string;
      }>(),
    );
    let live = false;
    for (const batch of batches) {
      if (!batch?.dueAt) continue;
      live = true;
      if (await QueueEntryModel.exists({ _id: batch._id })) continue;
      await QueueEntryModel.updateOne(
        { _id: batch._id },
        {
          $setOnInsert: {
            dueAt: batch.dueAt < now ? now : batch.dueAt,
            rank: batch.priority === 'urgent' ? 0 : 1,
            campaignId: batch.campaignId,
          },
        },
        { upsert: true },
      );
      created += 1;
    }
    if (live) continue;
    const occurrence = await OccurrenceModel.findById(run._id, { status: 1 }).lean<{ status: string }>();
    if (occurrence?.status === 'planning') continue;
    // The roll-up sweep reads a closed run's batches once more (tracking/rollups.ts): listed
    // there before it leaves this list, so it is always on one of the two.
    await closedRun(run._id, now);
    const closed = await OpenRunModel.deleteOne({ _id: run._id, n: run.n });
    // Settled now: its summary is made once here, so the first reader need not read its batches.
    if (closed.deletedCount > 0) await summarizeRun(run._id, now);
    // Its retention is due `keepDays` after today (engine/retention-due.ts); filed again if it
    // closes again. Filed even if another sweep closed it: the key is idempotent.
    await fileSettledRun(run._id, run.campaignId, now);
  }
  return created;
}

/**
 * For an install written before the watch list existed (once, at start): every run with a
 * batch that has work due, and every run still planning, is opened.
 */
export async function buildOpenRuns(): Promise<void> {
  await backfillOnce('open-runs', async () => {
    const runs = new Map<string, string>();
    const due = DeliveryBatchModel.find({ dueAt: { $ne: null } }, { occurrenceId: 1, campaignId: 1 })
      .lean<{ occurrenceId: string; campaignId: string }[]>()
      .cursor();
    for await (const batch of due) runs.set(batch.occurrenceId, batch.campaignId);
    const planning = await OccurrenceModel.find({ status: 'planning' }, { campaignId: 1 }).lean<
      { _id: string; campaignId: string }[]
    >();
    for (const run of planning) runs.set(run._id, run.campaignId);
    for (const [occurrenceId, campaignId] of runs) await openRun(occurrenceId, campaignId);
  });
}

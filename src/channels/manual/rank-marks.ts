// Which officer tasks the rankings' tallies (tracking/rank-tally.ts) must look at again. Each
// call of `rankingsChanged(ids)` inserts one marker with a fresh random `_id` (an insert is
// atomic on FerretDB; nothing is ever updated), naming the tasks and the writer's clock:
// - making tasks: no marker (since the tenth session). The write's record on the task history's
//   made list (history.ts `m:<n>`, in the insert the history makes anyway, BEFORE the tasks'
//   insert) is what the fold reads, from its cursor; a record whose tasks are still missing past
//   MARK_SLACK_MS has them handed to a marker here by the fold (`at` = the record's), kept until
//   every task it names exists or MISSING_TASK_MS has passed (a failed insert, a retried wave's
//   unused ids), so an insert that lands late is still counted;
// - confirming and withdrawing (updates of existing tasks): one marker BEFORE the update and one
//   AFTER it. The first covers a kill -9 after the update (the fold sees the task as it is
//   then); the second covers a fold that read the first while the update was under way (it saw
//   the old state; the second makes the next fold read the task again).
// A fold deletes only the markers it read, and only once older than MARK_SLACK_MS (younger ones
// are folded again each pass), so a writer killed after its update and before its second marker
// is still seen unless the update landed more than MARK_SLACK_MS after its first marker.
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';

const markSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    taskIds: { type: [String], required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
/** Pending markers only: the fold deletes what it has folded (an idle fold reads an empty collection). */
export const RankMarkModel = mongoose.model('RankMark', markSchema, 'rankmarks');

/** A marker is deleted by a fold only once older than this (see the header). */
export const MARK_SLACK_MS = 60_000;
/** A marker naming a task that does not exist is deleted once older than this. */
export const MISSING_TASK_MS = 60 * 60_000;

/** The tasks `taskIds` are about to change or just changed (made, confirmed, withdrawn). */
export async function rankingsChanged(taskIds: readonly string[], at: Date = new Date()): Promise<void> {
  if (taskIds.length === 0) return;
  await RankMarkModel.collection.insertOne({
    _id: randomBytes(9).toString('base64url') as never,
    taskIds: [...taskIds],
    at,
  });
}

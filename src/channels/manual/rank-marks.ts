// Which officer tasks the rankings' tallies (tracking/rank-tally.ts) must look at again: a
// writer that makes, confirms or withdraws tasks calls `rankingsChanged(ids)` once BEFORE and
// once AFTER its write. Each call inserts one marker with a fresh random `_id` (an insert is
// atomic on FerretDB; nothing is ever updated), naming the tasks and the writer's clock.
//
// Why twice: the marker before the write covers a kill -9 after the write (the fold sees the
// task as it is then, whatever the writer finished); the marker after covers a fold that read
// the first marker while the write was still under way (it saw the old state; the second
// marker makes the next fold read the task again). A fold deletes only the markers it read,
// and only once they are older than MARK_SLACK_MS (younger ones are folded again each pass),
// so a writer killed after its write and before its second marker is still seen unless its
// write landed more than MARK_SLACK_MS after its first marker.
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

/** The tasks `taskIds` are about to change or just changed (made, confirmed, withdrawn). */
export async function rankingsChanged(taskIds: readonly string[], at: Date = new Date()): Promise<void> {
  if (taskIds.length === 0) return;
  await RankMarkModel.collection.insertOne({
    _id: randomBytes(9).toString('base64url') as never,
    taskIds: [...taskIds],
    at,
  });
}

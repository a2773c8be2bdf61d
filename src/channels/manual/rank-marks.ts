// Which officer tasks the rankings' tallies (tracking/rank-tally.ts) must look at again. Each
// call of `rankingsChanged(ids, at, kind)` inserts one marker with a fresh random `_id` (an
// insert is atomic on FerretDB; nothing is ever updated), naming the tasks, the write it
// announces and the writer's clock, always BEFORE that write. The fold keeps a marker until it
// has read every named task in a state that write can no longer change (`settled`):
// - `make` (a marker without a kind is one): until every task it names exists and the marker
//   is older than MARK_SLACK_MS; a marker whose tasks never came (a failed insert, a retried
//   wave's unused ids) goes after MISSING_TASK_MS. The send path writes none (since the tenth
//   session): a write's record on the task history's made list (history.ts `m:<n>`, in the
//   insert the history makes anyway, BEFORE the tasks' insert) is what the fold reads, from its
//   cursor; a record whose tasks are still missing past MARK_SLACK_MS has them handed by the
//   fold to a `make` marker here (`at` = the record's, written before the cursor passes the
//   record), so an insert that lands late is still counted;
// - `confirm` (`completeConfirmation`, so a repair too; its update's filter is `confirmedAt:
//   null`): until every named task is confirmed (or gone);
// - `withdraw` (`markWithdrawn`; its update's filter is `confirmedAt: null, withdrawnAt: null`):
//   until every named task is confirmed or withdrawn (or gone).
// So an update that lands at any time after its marker, its writer killed right after it, is
// folded: the fold read the task before the update (the marker stays) or after it (the row has
// it). A marker whose update never came (the writer killed between marker and update) stays
// until the write is done again: a confirmation's claim is repaired by the notifier
// (`repairConfirmations`, its due key written before the claim), a withdrawal is an effect of a
// campaign's durable intent, run again until done. No marker after the update is needed.
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';

const markSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    taskIds: { type: [String], required: true },
    at: { type: Date, required: true },
    /** The write announced (absent: a make). */
    kind: { type: String, default: undefined },
  },
  { versionKey: false },
);
/** Pending markers only: the fold deletes what it has folded (an idle fold reads an empty collection). */
export const RankMarkModel = mongoose.model('RankMark', markSchema, 'rankmarks');

/** What a marker announces (see the header). */
export type MarkKind = 'make' | 'confirm' | 'withdraw';

/** A make's marker is deleted by a fold only once older than this (see the header). */
export const MARK_SLACK_MS = 60_000;
/** A marker naming a task that does not exist is deleted once older than this. */
export const MISSING_TASK_MS = 60 * 60_000;

/** The tasks `taskIds` are about to be made, confirmed or withdrawn (call BEFORE the write). */
export async function rankingsChanged(
  taskIds: readonly string[],
  at: Date = new Date(),
  kind: MarkKind = 'make',
): Promise<void> {
  if (taskIds.length === 0) return;
  await RankMarkModel.collection.insertOne({
    _id: randomBytes(9).toString('base64url') as never,
    taskIds: [...taskIds],
    at,
    ...(kind === 'make' ? {} : { kind }),
  });
}

/** Whether a task read as `task` (null: not found) can no longer be changed by the write a marker of `kind` announces. */
export function settled(
  kind: MarkKind,
  task: { confirmedAt?: Date | null; withdrawnAt?: Date | null } | null,
): boolean {
  if (kind === 'make') return task !== null;
  if (task === null || task.confirmedAt) return true;
  return kind === 'withdraw' && !!task.withdrawnAt;
}

// Due markers (issue 25): one small document per background loop (`duemarks`, `_id` = the
// loop's name) holding a time at or before the earliest moment that loop may have work. An
// idle pass of the loop is one `_id` read of its marker; only when the marker is due does it
// read what it watches (on FerretDB 1.24 every filter but `_id` reads the whole collection).
//
// Contract:
// - every writer that makes work due for the loop lowers the marker with `lowerDue` AFTER its
//   own write ($min: never raises it; a new `stamp`);
// - the loop, after a full pass, raises it with `raiseDue` to the earliest next work it saw,
//   conditional on the `stamp` it read before the pass: a writer that lowered it meanwhile
//   keeps it low, and the next pass looks again;
// - FerretDB's conditional updates are not atomic, so a lower racing a raise (or another lower)
//   can be lost: the loop never raises further than its own cap ahead (`raiseDue`'s `at` is
//   clamped by the caller), which bounds what a lost lower costs.
import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { isDuplicateKey } from '../lib/errors.js';

const dueMarkSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    at: { type: Date, default: null },
    stamp: { type: String, default: null },
  },
  { versionKey: false },
);
export const DueMarkModel = mongoose.model('DueMark', dueMarkSchema, 'duemarks');

/** The scheduler tick's marker: due runs, the planning queue, unfinished intents. */
export const SCHEDULER_DUE = 'scheduler';
/** The WeCom customer-group loop's marker: queued groups, creation retries, open tasks to poll. */
export const WECOM_GROUPS_DUE = 'wecom-groups';

export interface DueMark {
  /** Null: never raised (due now). */
  at: Date | null;
  stamp: string | null;
}

/** Lowers the marker to `at` (never raises it). One `_id` upsert (see `lowerMarker`). */
export async function lowerDue(name: string, at: Date): Promise<void> {
  await lowerMarker(DueMarkModel, name, at);
}

/**
 * Lowers the `{ at, stamp }` marker `id` of `model` to `at` (never raises it), with a new stamp:
 * the due markers here and the officer notifier's (channels/manual/watch.ts). When writers race
 * to create the marker, the losers' inserts meet a duplicate key (FerretDB retries no upsert):
 * the marker exists then, and the update is made again.
 */
export async function lowerMarker(model: { collection: mongoose.Collection }, id: string, at: Date): Promise<void> {
  const lower = () =>
    model.collection.updateOne({ _id: id as never }, { $min: { at }, $set: { stamp: randomUUID() } }, { upsert: true });
  await lower().catch((error: unknown) => {
    if (!isDuplicateKey(error)) throw error;
    return lower();
  });
}

/** The marker as it is now (one `_id` read). */
export async function readDue(name: string): Promise<DueMark> {
  return readMarker(DueMarkModel, name);
}

/** The `{ at, stamp }` marker `id` of `model` as it is now (one `_id` read). */
export async function readMarker(model: { collection: mongoose.Collection }, id: string): Promise<DueMark> {
  const doc = await model.collection.findOne({ _id: id as never }, { projection: { at: 1, stamp: 1 } });
  return { at: (doc?.at as Date | undefined) ?? null, stamp: (doc?.stamp as string | undefined) ?? null };
}

/** Whether the marker lets a pass at `now` be skipped. */
export function notDueYet(mark: DueMark, now: Date): boolean {
  return mark.at !== null && mark.at.getTime() > now.getTime();
}

/**
 * Raises the marker to `at` after a full pass, unless a writer lowered it since the pass read
 * it (its `stamp` changed): then it stays, and the next pass looks again.
 */
export async function raiseDue(name: string, read: DueMark, at: Date): Promise<void> {
  await raiseMarker(DueMarkModel, name, read.stamp, at);
}

/** `raiseDue` for the `{ at, stamp }` marker `id` of `model`, read with stamp `stamp`. */
export async function raiseMarker(
  model: { collection: mongoose.Collection },
  id: string,
  stamp: string | null,
  at: Date,
): Promise<void> {
  if (stamp === null) {
    // Never written: created now; a writer that created it first wins (duplicate key).
    await model.collection.insertOne({ _id: id as never, at, stamp: randomUUID() }).catch((error: unknown) => {
      if (!isDuplicateKey(error)) throw error;
    });
    return;
  }
  await model.collection.updateOne({ _id: id as never, stamp }, { $set: { at, stamp: randomUUID() } });
}

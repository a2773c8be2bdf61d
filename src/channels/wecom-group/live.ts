// The WeCom customer-group loop's live list (issue 25): one small entry per group still queued
// for its owner's task and per task not yet final, so the loop's full passes (at an open task's
// poll time, and every 10 minutes when idle) read what is live now, each by `_id`, instead of
// the items and tasks by state (on FerretDB 1.24 any filter but `_id` reads the whole
// collection, and both keep every customer-group delivery ever made).
//
// Entries (`wecomgrouplive`, `_id` = `item:<delivery id>` or `task:<task id>`, `at` = when
// listed). Contract:
// - an item is listed before it is written `queued` (created, or queued again after a pause),
//   a task before it is created; a crash in between leaves an entry with no live document,
//   which a pass drops (harmless);
// - an entry is dropped after its document stopped being live (an item tasked or settled, a
//   task sent, closed, cancelled or failed): by the writer after that write, or by the next
//   pass that reads the document so (a writer that died in between);
// - a pass drops an entry whose document is missing or not live only when it was listed more
//   than LISTED_GRACE_MS ago: a writer that listed it has written its document by then, so a
//   pass reading between a listing and its write (a pause queueing tasked groups again)
//   never drops a live one;
// - an install written before the list existed is listed once at start (`buildWecomLive`).
import mongoose from 'mongoose';
import { backfillOnce } from '../../db/backfills.js';
import { MAX_UPDATES_PER_COMMAND } from '../../db/bulk.js';
import { mapLimit } from '../../lib/concurrency.js';
import { WecomItemModel, WecomTaskModel } from './model.js';

const liveSchema = new mongoose.Schema(
  { _id: { type: String, required: true }, at: { type: Date, required: true } },
  { versionKey: false },
);
export const WecomLiveModel = mongoose.model('WecomGroupLive', liveSchema, 'wecomgrouplive');

/** A listing younger than this is never dropped by a pass (its writer may not have written yet). */
export const LISTED_GRACE_MS = 10 * 60_000;
/** Task states the loop still acts on. */
export const LIVE_TASK_STATES: ReadonlySet<string> = new Set(['creating', 'retry', 'open']);

export const itemEntry = (id: string) => `item:${id}`;
export const taskEntry = (id: string) => `task:${id}`;

/** Lists entries (idempotent; a listing again renews its `at`). */
export async function listLive(ids: string[], now: Date): Promise<void> {
  for (let i = 0; i < ids.length; i += MAX_UPDATES_PER_COMMAND) {
    await WecomLiveModel.bulkWrite(
      ids.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({
        updateOne: { filter: { _id: id }, update: { $set: { at: now } }, upsert: true },
      })),
      { ordered: false },
    );
  }
}

/** Drops entries whose documents are no longer live. */
export async function unlistLive(ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += MAX_UPDATES_PER_COMMAND) {
    await WecomLiveModel.bulkWrite(
      ids.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({ deleteOne: { filter: { _id: id } } })),
      { ordered: false },
    );
  }
}

/**
 * What is live now, read through the list: the listed items still queued and the listed tasks
 * not final, each document by `_id` (8 at a time). Entries found dead past their grace are
 * dropped. Nothing listed: one read of the (empty) list.
 */
export async function liveDocs<Item extends { _id: string; state: string }, Task extends { _id: string; state: string }>(
  now: Date,
): Promise<{ queued: Item[]; tasks: Task[] }> {
  const entries = await WecomLiveModel.find({}).lean<{ _id: string; at: Date }[]>();
  if (entries.length === 0) return { queued: [], tasks: [] };
  const items = entries.filter((e) => e._id.startsWith('item:'));
  const tasks = entries.filter((e) => e._id.startsWith('task:'));
  const itemDocs = await mapLimit(items, 8, (e) => WecomItemModel.findById(e._id.slice(5)).lean<Item>());
  const taskDocs = await mapLimit(tasks, 8, (e) => WecomTaskModel.findById(e._id.slice(5)).lean<Task>());
  const dead: string[] = [];
  const old = (e: { at: Date }) => now.getTime() - e.at.getTime() > LISTED_GRACE_MS;
  const queued: Item[] = [];
  items.forEach((e, i) => {
    const doc = itemDocs[i];
    if (doc?.state === 'queued') queued.push(doc);
    else if (old(e)) dead.push(e._id);
  });
  const live: Task[] = [];
  tasks.forEach((e, i) => {
    const doc = taskDocs[i];
    if (doc && LIVE_TASK_STATES.has(doc.state)) live.push(doc);
    else if (old(e)) dead.push(e._id);
  });
  await unlistLive(dead);
  return { queued, tasks: live };
}

/**
 * For an install written before the list existed (once, at start): every queued item and every
 * task not final is listed (one read of each collection by state, once).
 */
export async function buildWecomLive(now: Date): Promise<void> {
  await backfillOnce('wecom-group-live', async () => {
    const items = await WecomItemModel.find({ state: 'queued' }, { _id: 1 }).lean<{ _id: string }[]>();
    const tasks = await WecomTaskModel.find({ state: { $in: [...LIVE_TASK_STATES] } }, { _id: 1 }).lean<
      { _id: string }[]
    >();
    await listLive([...items.map((i) => itemEntry(i._id)), ...tasks.map((t) => taskEntry(t._id))], now);
  });
}

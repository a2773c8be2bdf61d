// The bench world's finishing step (bench/province.ts): the builder writes its month of history
// straight into the collections after the start-up steps (`prepareDatabase`) have run on an empty
// database, so what those steps and the settle paths derive from history (run summaries and
// status lists, retention's due keys, the step lists, the task history, the open-task watch and
// counts, the audit screen's lists) was missing, and the first bench run on a fresh world did
// the one-time conversions of an upgraded install in its first calls (docs/scale.md, *The bench
// world finished as an install*). This step leaves the world as an install a month in:
//
// 1. In a process of its own, the once-markers of the start-up steps that read history are
//    removed and `prepareDatabase` runs as at an upgrade's start: every such step is idempotent
//    by contract (db/backfills.ts), so this is what an install upgraded to today's layout holds.
//    Retention's state is dropped with its marker so that it starts at the earliest settled day
//    (a world it already walked is walked again: compacted batches are skipped).
// 2. The audit screen's live records whose entry exists are marked `ok` (what a reader's repair
//    does once, audit/pages.ts).
// 3. Back in the bench's process, the province's audience totals are read once (readers make
//    the shared summary, audience/county-totals.ts).
//
// The world's marker (`built.json`) records `finished: FINISH_VERSION` after the step; a cached
// world without it is finished when loaded (once: the cache key is unchanged, so a world that
// took an hour to build is kept). A process killed during the step leaves the marker without
// `finished`, and the next run does it all again (every part is idempotent).
import mongoose from 'mongoose';
import { AuditModel } from '../src/audit/model.js';
import { AuditPageModel } from '../src/audit/pages.js';
import { TaskHistoryModel } from '../src/channels/manual/history.js';
import { OpenTaskMarkModel } from '../src/channels/manual/watch.js';
import { type Context, prepareDatabase } from '../src/context.js';
import { BackfillModel } from '../src/db/backfills.js';
import { RetentionDueModel, STATE_ID } from '../src/engine/retention-due.js';
import { StepSlotModel } from '../src/notifications/model.js';

/** Raised when the step does more: a world finished by an older one is finished again. */
export const FINISH_VERSION = 1;

/** Live audit records (`r:<code>:<n>`) read at once. */
const AUDIT_CHUNK = 500;

/**
 * In a process of its own (the bench's child, `PROVINCE_FINISH_URI`: per-process marks of the
 * parent, such as the audit lists' built flag, must not hide a removed marker): the markers of
 * the start-up steps that read history removed, then `prepareDatabase` as at an upgrade's start,
 * then the audit rows marked. Logs each part's time.
 */
export async function finishWorld(ctx: Context, log: (line: string) => void): Promise<void> {
  const started = performance.now();
  // 1. The markers of the steps that read history, then the start-up steps again.
  await BackfillModel.deleteMany({
    _id: {
      $in: ['confirmation-watch', 'retention-due', 'run-summaries', 'run-status-lists', 'notification-step-counts'],
    },
  });
  await RetentionDueModel.deleteOne({ _id: STATE_ID });
  await OpenTaskMarkModel.deleteMany({ _id: { $in: ['built', 'counts-built'] } });
  await TaskHistoryModel.deleteMany({ _id: { $in: ['_built', '_built_c'] } });
  await StepSlotModel.deleteOne({ _id: 'built' });
  await AuditPageModel.deleteOne({ _id: '_built' });
  await prepareDatabase(ctx);
  log(`  start-up steps over the history: ${Math.round(performance.now() - started)} ms`);
  // 2. The audit rows marked `ok` where their entry is in the log.
  const live = await AuditPageModel.find({ _id: /^r:[^:]+:\d+$/, ok: { $ne: true } }, { rows: 1 }).lean<
    { _id: string; rows: string }[]
  >();
  let marked = 0;
  for (let i = 0; i < live.length; i += AUDIT_CHUNK) {
    const chunk = live
      .slice(i, i + AUDIT_CHUNK)
      .map((doc) => ({ id: doc._id, entry: (JSON.parse(doc.rows) as string[])[0]! }));
    const found = await AuditModel.find(
      { _id: { $in: chunk.map((c) => new mongoose.Types.ObjectId(c.entry)) } },
      { _id: 1 },
    ).lean<{ _id: unknown }[]>();
    const present = new Set(found.map((doc) => String(doc._id)));
    const ids = chunk.filter((c) => present.has(c.entry)).map((c) => c.id);
    if (ids.length)
      marked += (await AuditPageModel.updateMany({ _id: { $in: ids } }, { $set: { ok: true } })).modifiedCount;
  }
  log(`  audit rows marked ok: ${marked} of ${live.length}; finished in ${Math.round(performance.now() - started)} ms`);
}

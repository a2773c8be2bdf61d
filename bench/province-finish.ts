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
// 3. The officer notifier kept up (FINISH_VERSION 2): an install's notifier ran all month, so its
//    open tasks' digests, reminders and escalations were recorded when they fell due and its due
//    keys stand at the present. The watch list's backfill (step 1) filed every open entry's
//    first look spread from now; each live entry is filed again at the look its task's writer
//    would have filed (createdAt + FIRST_LOOK_MS), then the notifier's own passes run with the
//    world's clock walked from the earliest look to the present: each pass at the time of the
//    due marker or one tick of the scheduler's loop (NOTIFIER_TICK_MS, main.ts) after the last
//    pass, whichever is later (a province push's runs fall due a fraction of a second apart: a
//    pass per marker made thousands of passes no install makes), back to back while a pass stops
//    at its cap, so every step is recorded by the notifier itself at the time its tick would
//    have seen it (quiet hours, pauses and withdrawals as they were), and the clock is the
//    system's again after the walk. Safe to repeat: the steps are unique claims, the looks
//    idempotent.
// 4. Back in the bench's process, the province's audience totals are read once (readers make
//    the shared summary, audience/county-totals.ts).
//
// The world's marker (`built.json`) records `finished: FINISH_VERSION` after the step; a cached
// world without it is finished when loaded (once: the cache key is unchanged, so a world that
// took an hour to build is kept). A process killed during the step leaves the marker without
// `finished`; the next run resumes at the part it was in (`benchfinish`, one document per
// FINISH_VERSION in the world's database: parts 1–2 done, the entries filed), a walk where the
// notifier's due marker stands (every part is idempotent, so a part cut short is done again).
import mongoose from 'mongoose';
import { AuditModel } from '../src/audit/model.js';
import { AuditPageModel } from '../src/audit/pages.js';
import { TaskHistoryModel } from '../src/channels/manual/history.js';
import {
  FIRST_LOOK_MS,
  OpenTaskMarkModel,
  OpenTaskModel,
  dueMarker,
  lowerDue,
  runKeyOf,
  setDue,
} from '../src/channels/manual/watch.js';
import { type Context, prepareDatabase } from '../src/context.js';
import { BackfillModel } from '../src/db/backfills.js';
import { RetentionDueModel, STATE_ID } from '../src/engine/retention-due.js';
import type { Clock } from '../src/lib/clock.js';
import { StepSlotModel } from '../src/notifications/model.js';

/** The scheduler role's notifier loop interval (main.ts): the walk's smallest step. */
const NOTIFIER_TICK_MS = 15_000;

/** The parts of the finishing step done in this world's database (module header). */
interface FinishProgress {
  _id: string;
  startup?: boolean;
  filed?: boolean;
}
const progressId = () => `v${FINISH_VERSION}`;
const finishProgress = () => mongoose.connection.collection<FinishProgress>('benchfinish');
async function partsDone(): Promise<FinishProgress> {
  return (await finishProgress().findOne({ _id: progressId() })) ?? { _id: progressId() };
}
async function markDone(part: 'startup' | 'filed'): Promise<void> {
  await finishProgress().updateOne({ _id: progressId() }, { $set: { [part]: true } }, { upsert: true });
}

/** Raised when the step does more: a world finished by an older one is finished again. */
export const FINISH_VERSION = 2;

/** Live audit records (`r:<code>:<n>`) read at once. */
const AUDIT_CHUNK = 500;

/**
 * In a process of its own (the bench's child, `PROVINCE_FINISH_URI`: per-process marks of the
 * parent, such as the audit lists' built flag, must not hide a removed marker): the markers of
 * the start-up steps that read history removed, then `prepareDatabase` as at an upgrade's start,
 * then the audit rows marked. Logs each part's time.
 */
/**
 * The finishing process's clock: the system's, or the walked time of the notifier's catch-up.
 * The context of the finishing process is made with it (createContext's clock).
 */
export function worldClock(): Clock & { walkTo(at: number | null): void } {
  let walked: number | null = null;
  return {
    now: () => new Date(walked ?? Date.now()),
    walkTo: (at) => {
      walked = at;
    },
  };
}

export async function finishWorld(
  ctx: Context,
  log: (line: string) => void,
  clock: ReturnType<typeof worldClock>,
): Promise<void> {
  const started = performance.now();
  const done = await partsDone();
  if (done.startup) {
    // Resumed: parts 1–2 were done; a start-up step added since runs once, as at any start.
    await prepareDatabase(ctx);
    log(`  parts 1–2 done before; start-up steps since: ${Math.round(performance.now() - started)} ms`);
  } else {
    await startupOverHistory(ctx, log, started);
    await markDone('startup');
  }
  // 3. The notifier kept up to the present.
  await catchUpNotifier(ctx, clock, log, done.filed === true);
  log(`  finished in ${Math.round(performance.now() - started)} ms`);
}

/** Parts 1 and 2 (module header). */
async function startupOverHistory(ctx: Context, log: (line: string) => void, started: number): Promise<void> {
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
  log(`  audit rows marked ok: ${marked} of ${live.length} (${Math.round(performance.now() - started)} ms)`);
}

/** Passes at one time of the walk before it moves on (a run failing on every pass). */
const STUCK_PASSES = 50;
/** Live open entries re-filed at once. */
const FILE_CHUNK = 500;

/**
 * The officer notifier's passes over the month, with the world's clock walked from the earliest
 * first look to the present (module header, 3). Logs where the walk stands every 10 s.
 */
async function catchUpNotifier(
  ctx: Context,
  clock: ReturnType<typeof worldClock>,
  log: (line: string) => void,
  filed: boolean,
) {
  const started = performance.now();
  const at = filed ? ((await dueMarker()).at?.getTime() ?? Date.now()) : await fileFirstLooks(log, started);
  await walkNotifier(ctx, clock, log, started, at);
}

/** Every live open entry filed at its first look (module header, 3); returns the earliest. */
async function fileFirstLooks(log: (line: string) => void, started: number): Promise<number> {
  const now = Date.now();
  const entries = await OpenTaskModel.find(
    { withdrawn: { $ne: true }, expiresAt: { $gt: new Date(now) } },
    { _id: 1, occurrenceId: 1, officerName: 1, officerPhone: 1, createdAt: 1, dueAt: 1 },
  ).lean<
    {
      _id: string;
      occurrenceId: string | null;
      officerName: string | null;
      officerPhone: string | null;
      createdAt: Date;
      dueAt: Date;
    }[]
  >();
  const refile = entries
    .map((entry) => ({
      id: entry._id,
      run: runKeyOf(entry),
      dueAt: new Date(entry.createdAt.getTime() + FIRST_LOOK_MS),
    }))
    .filter((u) => u.dueAt.getTime() < now);
  for (let i = 0; i < refile.length; i += FILE_CHUNK) await setDue(refile.slice(i, i + FILE_CHUNK));
  const earliest = refile.reduce((min, u) => Math.min(min, u.dueAt.getTime()), now);
  await lowerDue(new Date(earliest));
  log(
    `  notifier: ${refile.length} of ${entries.length} open entries filed at their first looks (${Math.round(performance.now() - started)} ms); walking from ${new Date(earliest).toISOString()}`,
  );
  await markDone('filed');
  return earliest;
}

/** The notifier's passes with the world's clock walked from `from` to the present. */
async function walkNotifier(
  ctx: Context,
  clock: ReturnType<typeof worldClock>,
  log: (line: string) => void,
  started: number,
  from: number,
): Promise<void> {
  let at = from;
  let passes = 0;
  let steps = 0;
  let shown = performance.now();
  let stuck = 0;
  try {
    for (;;) {
      clock.walkTo(at);
      steps += await ctx.notifier.tick();
      passes += 1;
      const marker = (await dueMarker()).at?.getTime() ?? Number.POSITIVE_INFINITY;
      if (performance.now() - shown > 10_000) {
        shown = performance.now();
        const left = Math.max(0, Date.now() - at) / 3600_000;
        log(
          `  notifier: at ${new Date(at).toISOString()} (${left.toFixed(1)} h to the present), ${passes} passes, ${steps} steps, ${Math.round((performance.now() - started) / 1000)} s`,
        );
      }
      // A pass stopped at its cap leaves the marker due: the next runs at the same time (a run
      // that fails stays due too: after STUCK_PASSES the walk moves on a minute, as time would).
      if (marker <= at) {
        if (++stuck >= STUCK_PASSES) {
          at = Math.min(at + 60_000, Date.now());
          stuck = 0;
        }
        continue;
      }
      stuck = 0;
      if (marker > Date.now()) break;
      at = Math.min(Math.max(marker, at + NOTIFIER_TICK_MS), Date.now());
    }
  } finally {
    clock.walkTo(null);
  }
  // The present's own pass (the system's clock): what fell due during the walk.
  steps += await ctx.notifier.tick();
  passes += 1;
  log(`  notifier kept up: ${passes} passes, ${steps} steps in ${Math.round(performance.now() - started)} ms`);
}

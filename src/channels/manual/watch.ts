// The open-task watch list (issue 25): one small document per task an officer still has to
// act on, so the workbench counts, the open-task lists and the officer notifier read what is
// open now, never the task history (on FerretDB 1.24 any filter but `_id` reads the whole
// collection, and the tasks collection keeps every task ever made).
//
// Entries (`opentasks`, `_id` = the task id; a WeCom customer group of an owner's task:
// `wecom:<delivery id>`) carry what the readers need without the task: scope (regionPath),
// officer, campaign, run, when it was made, when it expires, and when the notifier must look
// at it next (`dueAt`). Contract:
// - written with the task (ManualTaskService.createTask, or a WeCom task accepted by WeCom),
//   by upsert on `_id` with $setOnInsert: a retried send or a take-over finds its entry;
// - deleted when the task stops being open: confirmed (or a WeCom group reported), withdrawn
//   and announced by the notifier, expired (the notifier deletes it at `expiresAt`);
// - `withdrawn: true` from the moment a stop withdraws the campaign's tasks (not open in the
//   lists and counts any more; the notifier announces it at once, then deletes it); the stop
//   (and a resume's look) reaches the campaign's entries from its list by `_id`, never by a
//   `campaignId` filter (a read of the whole list on FerretDB);
// - the marker `due` (collection `opentaskmarks`) holds a time at or before the earliest
//   `dueAt`: every writer lowers it with $min, the notifier raises it after a pass over the
//   due keys only if nobody wrote it since it read it (its `stamp`). An idle notifier pass is
//   one `_id` read of the marker.
// - due keys (due-slots.ts): every entry is listed on its officer run and its campaign before
//   it is inserted (an install's older entries put on their campaign lists once at start),
//   and whoever sets an entry's `dueAt` files the entry's run in the slot of that time first,
//   then writes the entry, then lowers the marker; the notifier reads the slots, not the list.
// - a database written before the list existed is listed once at start (`buildOpenTaskWatch`,
//   then the `built` marker, read by `_id`), the entries' first looks spread over the notifier's
//   next passes (`spreadFirstLooks`: at most BACKFILL_PER_PASS due per pass).
// - every write of entries goes through `countedChange` (open-counts.ts), which keeps the
//   per-county open-task counts the workbench reads by `_id` exact with the list.
import mongoose from 'mongoose';
import { MAX_UPDATES_PER_COMMAND } from '../../db/bulk.js';
import { lowerMarker, raiseMarker, readMarker } from '../../db/due-marks.js';
import { mapLimit } from '../../lib/concurrency.js';
import { buildCampaignLists, buildDueSlots, campaignRows, fileRuns, listAndFile } from './due-slots.js';
import { ManualTaskModel } from './model.js';
import {
  type CountedEntry,
  INTENT_STALE_MS,
  countedChange,
  countyOf,
  recountCounties,
  repairOpenCounts,
} from './open-counts.js';

/** Tasks older than this are not open any more (their links expired; the notifier stops). */
export const OPEN_TASK_HORIZON_MS = 7 * 24 * 3600_000;
/** An entry is first looked at by the notifier this long after its task was made (the digest's settle time). */
export const FIRST_LOOK_MS = 60_000;

const openTaskSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    kind: { type: String, required: true, enum: ['manual', 'wecom'] },
    campaignId: { type: String, default: null },
    /** `<campaignId>@<runAt ISO>`: the run (the delivery id without its group). */
    occurrenceId: { type: String, default: null },
    regionPath: { type: [String], required: true },
    officerName: { type: String, default: null },
    officerPhone: { type: String, default: null },
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    /** The next time the officer notifier has to look at this task. */
    dueAt: { type: Date, required: true },
    withdrawn: { type: Boolean, default: false },
  },
  { versionKey: false },
);
export type OpenTaskEntry = {
  _id: string;
  kind: 'manual' | 'wecom';
  campaignId: string | null;
  occurrenceId: string | null;
  regionPath: string[];
  officerName: string | null;
  officerPhone: string | null;
  createdAt: Date;
  expiresAt: Date;
  dueAt: Date;
  withdrawn: boolean;
};
export const OpenTaskModel = mongoose.model('OpenTask', openTaskSchema, 'opentasks');

const markSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    at: { type: Date, default: null },
    stamp: { type: String, default: null },
  },
  { versionKey: false },
);
export const OpenTaskMarkModel = mongoose.model('OpenTaskMark', markSchema, 'opentaskmarks');

const DUE = 'due';
const BUILT = 'built';
// `-runs`: the counts' values carry the entry's run (open-counts.ts); an install counted before
// that is re-counted once.
const COUNTS_BUILT = 'counts-built-runs';

const COUNTED_FIELDS = {
  _id: 1,
  kind: 1,
  regionPath: 1,
  officerName: 1,
  officerPhone: 1,
  expiresAt: 1,
  withdrawn: 1,
  occurrenceId: 1,
};

/**
 * These entries as they are now: by `_id`, 8 at a time (an `$in` on `_id` reads the whole
 * list on FerretDB 1.24, some 36,000 entries at 50,000 groups).
 */
async function entriesNow(ids: string[]): Promise<CountedEntry[]> {
  const found = await mapLimit(ids, 8, (id) => OpenTaskModel.findById(id, COUNTED_FIELDS).lean<CountedEntry>());
  return found.filter((entry): entry is CountedEntry => entry !== null);
}

/** A county's entries (the repair's and the first count's re-count). */
function countyEntries(county: string): Promise<CountedEntry[]> {
  return OpenTaskModel.find({ regionPath: county, kind: 'manual' }, COUNTED_FIELDS).lean<CountedEntry[]>();
}

/** An entry's officer run (`<occurrence>|<officer phone, or name:<name>>`): what the notifier handles whole. */
export function runKeyOf(entry: Pick<OpenTaskEntry, 'occurrenceId' | 'officerName' | 'officerPhone'>): string {
  return `${entry.occurrenceId}|${entry.officerPhone ?? (entry.officerName ? `name:${entry.officerName}` : '')}`;
}

/** `<campaignId>@<runAt>/<groupId>` → its run and campaign (null for other references). */
export function runOfReference(reference: string): { occurrenceId: string; campaignId: string } | null {
  const cut = reference.lastIndexOf('/');
  const at = reference.indexOf('@');
  if (cut < 0 || at <= 0 || at > cut) return null;
  return { occurrenceId: reference.slice(0, cut), campaignId: reference.slice(0, at) };
}

export interface WatchFields {
  id: string;
  kind: 'manual' | 'wecom';
  reference: string;
  regionPath: string[];
  officerName: string | null;
  officerPhone: string | null;
  createdAt: Date;
  /** When the notifier first looks at it; default FIRST_LOOK_MS after `createdAt`. */
  dueAt?: Date;
}

/** A backfill makes at most this many entries due at once (one notifier pass's work)… */
export const BACKFILL_PER_PASS = 200;
/** …and the next ones this much later (the notifier's period). */
export const BACKFILL_SPACING_MS = 15_000;

/**
 * The first looks of entries listed by a backfill, spread: a month-old install lists every
 * open task at once, all due already, and the notifier's first pass would handle them all in
 * one go (minutes, every officer told at once). Entries of one officer's run stay together
 * (the notifier handles a run whole); runs, oldest first, fill slots of BACKFILL_PER_PASS
 * entries, BACKFILL_SPACING_MS apart from `now`. An entry never falls due earlier than its own time.
 */
export function spreadFirstLooks(tasks: WatchFields[], now: Date, perPass = BACKFILL_PER_PASS): WatchFields[] {
  const runs = new Map<string, WatchFields[]>();
  for (const task of tasks) {
    const run = runOfReference(task.reference);
    const key = `${run?.occurrenceId ?? task.id}|${task.officerPhone ?? (task.officerName ? `name:${task.officerName}` : '')}`;
    runs.set(key, [...(runs.get(key) ?? []), task]);
  }
  const natural = (task: WatchFields) => task.createdAt.getTime() + FIRST_LOOK_MS;
  const ordered = [...runs.values()].sort((a, b) => Math.min(...a.map(natural)) - Math.min(...b.map(natural)));
  const out: WatchFields[] = [];
  let slot = 0;
  let inSlot = 0;
  for (const run of ordered) {
    if (inSlot > 0 && inSlot + run.length > perPass) {
      slot += 1;
      inSlot = 0;
    }
    inSlot += run.length;
    const at = now.getTime() + slot * BACKFILL_SPACING_MS;
    for (const task of run) out.push({ ...task, dueAt: new Date(Math.max(natural(task), at)) });
  }
  return out;
}

function entryOf(fields: WatchFields): OpenTaskEntry {
  const run = runOfReference(fields.reference);
  return {
    _id: fields.id,
    kind: fields.kind,
    campaignId: run?.campaignId ?? null,
    occurrenceId: run?.occurrenceId ?? null,
    regionPath: fields.regionPath,
    officerName: fields.officerName,
    officerPhone: fields.officerPhone,
    createdAt: fields.createdAt,
    expiresAt: new Date(fields.createdAt.getTime() + OPEN_TASK_HORIZON_MS),
    dueAt: fields.dueAt ?? new Date(fields.createdAt.getTime() + FIRST_LOOK_MS),
    withdrawn: false,
  };
}

/** Lowers the notifier's due marker to `at` (never raises it; a race to create it is retried). */
export async function lowerDue(at: Date): Promise<void> {
  await lowerMarker(OpenTaskMarkModel, DUE, at);
}

/**
 * Puts open tasks on the watch list (idempotent: an entry already there is left as it is).
 * `deferLog`: the counts' log record is left to the process's flush (open-counts.ts).
 */
export async function watchTasks(tasks: WatchFields[], options: { deferLog?: boolean } = {}): Promise<void> {
  if (tasks.length === 0) return;
  const entries = tasks.map(entryOf);
  const manual = entries.filter((entry) => entry.kind === 'manual');
  // Due keys first (due-slots.ts): listed on their runs and campaigns and the runs filed at
  // their first look, in one write.
  await listAndFile(
    entries.map((entry) => ({
      run: runKeyOf(entry),
      id: entry._id,
      at: entry.dueAt,
      campaign: entry.campaignId,
      county: entry.kind === 'manual' ? countyOf(entry.regionPath) : null,
    })),
  );
  // Entries this write inserted are, as the write left them, exactly `entry` (the count reads
  // them from here: a wave's tasks are new); only those found already there are read again.
  const inserted = new Map<string, OpenTaskEntry>();
  await countedChange(
    manual.map((entry) => entry._id),
    manual.map((entry) => entry.regionPath),
    async () => {
      for (let i = 0; i < entries.length; i += MAX_UPDATES_PER_COMMAND) {
        const chunk = entries.slice(i, i + MAX_UPDATES_PER_COMMAND);
        const result = await OpenTaskModel.bulkWrite(
          chunk.map((entry) => ({
            updateOne: { filter: { _id: entry._id }, update: { $setOnInsert: entry }, upsert: true },
          })),
          { ordered: false },
        );
        for (const [index, id] of Object.entries(result.upsertedIds ?? {})) {
          const entry = chunk[Number(index)];
          if (entry && String(id) === entry._id) inserted.set(entry._id, entry);
        }
      }
    },
    async (ids) => [
      ...ids.flatMap((id) => inserted.get(id) ?? []),
      ...(await entriesNow(ids.filter((id) => !inserted.has(id)))),
    ],
    options,
  );
  await lowerDue(new Date(Math.min(...entries.map((e) => e.dueAt.getTime()))));
}

/** Takes tasks off the watch list (confirmed, reported, withdrawn and announced, expired). */
export async function unwatch(ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const before = (await entriesNow(ids.filter((id) => !id.startsWith('wecom:')))).filter((e) => e.kind === 'manual');
  await countedChange(
    before.map((entry) => entry._id),
    before.map((entry) => entry.regionPath),
    async () => {
      for (let i = 0; i < ids.length; i += MAX_UPDATES_PER_COMMAND) {
        await OpenTaskModel.bulkWrite(
          ids.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({ deleteOne: { filter: { _id: id } } })),
          { ordered: false },
        );
      }
    },
    entriesNow,
  );
}

/**
 * A stop withdrew a campaign's tasks: not open any more, and the notifier announces it now.
 * The campaign's entries come from its list (due-slots.ts, written before each entry, with the
 * entry's run and county), each updated by `_id`: bounded by the campaign's own entries, not
 * the watch list, and no entry is read. Order: their runs filed as due now, then the entries
 * (under the counts' intent), then the marker. An entry gone meanwhile (confirmed, announced,
 * expired) matches no update; its runs' filing is read as not due, its count unset is a no-op.
 */
export async function markCampaignWithdrawn(campaignId: string, now: Date): Promise<void> {
  const listed = await campaignRows(campaignId);
  const manual = listed.filter((row) => row.county !== null);
  // Their runs filed as due now before the entries say so (due-slots.ts).
  await fileRuns(listed.map((row) => ({ run: row.run, at: now })));
  let matched = 0;
  await countedChange(
    manual.map((row) => row.id),
    manual.map((row) => [row.county!]),
    async () => {
      matched = await setById(
        listed.map((row) => row.id),
        { withdrawn: true, dueAt: now },
      );
    },
    // As the write left them: withdrawn, or gone meanwhile; counted neither way.
    async () => [],
  );
  if (matched > 0) await lowerDue(now);
}

/** A campaign's open tasks are to be looked at now (resumed: chased again); its entries by `_id` as above. */
export async function lookAtCampaignTasks(campaignId: string, now: Date): Promise<void> {
  const listed = await campaignRows(campaignId);
  await fileRuns(listed.map((row) => ({ run: row.run, at: now })));
  const matched = await setById(
    listed.map((row) => row.id),
    { dueAt: now },
  );
  if (matched > 0) await lowerDue(now);
}

/** `$set` on these entries, one update by `_id` each, 20 a command; how many matched. */
async function setById(ids: string[], set: Record<string, unknown>): Promise<number> {
  let matched = 0;
  for (let i = 0; i < ids.length; i += MAX_UPDATES_PER_COMMAND) {
    const result = await OpenTaskModel.bulkWrite(
      ids.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({
        updateOne: { filter: { _id: id }, update: { $set: set } },
      })),
      { ordered: false },
    );
    matched += result.matchedCount;
  }
  return matched;
}

/**
 * Sets when the notifier looks at these entries next (one `_id` update each), their runs filed
 * at those times first (due-slots.ts; an entry's run read by `_id` when not given).
 */
export async function setDue(updates: { id: string; run?: string; dueAt: Date }[]): Promise<void> {
  const runs = await mapLimit(updates, 8, async (u) => {
    if (u.run !== undefined) return u.run;
    const entry = await OpenTaskModel.findById(u.id, {
      occurrenceId: 1,
      officerName: 1,
      officerPhone: 1,
    }).lean<OpenTaskEntry>();
    return entry ? runKeyOf(entry) : null;
  });
  await fileRuns(updates.flatMap((u, i) => (runs[i] !== null ? [{ run: runs[i]!, at: u.dueAt }] : [])));
  for (let i = 0; i < updates.length; i += MAX_UPDATES_PER_COMMAND) {
    await OpenTaskModel.bulkWrite(
      updates.slice(i, i + MAX_UPDATES_PER_COMMAND).map((u) => ({
        updateOne: { filter: { _id: u.id }, update: { $set: { dueAt: u.dueAt } } },
      })),
      { ordered: false },
    );
  }
}

/** The due marker: when the notifier must look next, and the stamp of its last write. */
export async function dueMarker(): Promise<{ at: Date | null; stamp: string | null }> {
  return readMarker(OpenTaskMarkModel, DUE);
}

/**
 * Raises the marker to `at` after a pass over the entries, unless a writer lowered it since
 * the pass read it (`stamp` changed): then it stays, and the next pass looks again.
 */
export async function raiseDue(stamp: string | null, at: Date): Promise<void> {
  await raiseMarker(OpenTaskMarkModel, DUE, stamp, at);
}

/** Every entry of the watch list (small: only open tasks). */
export async function watchedTasks(filter: Record<string, unknown> = {}): Promise<OpenTaskEntry[]> {
  return OpenTaskModel.find(filter).lean<OpenTaskEntry[]>();
}

/** These entries by `_id` (one read each); missing ones left out. */
export async function entriesById(ids: string[]): Promise<OpenTaskEntry[]> {
  const found = await mapLimit(ids, 8, (id) => OpenTaskModel.findById(id).lean<OpenTaskEntry>());
  return found.filter((entry): entry is OpenTaskEntry => entry !== null);
}

/** The due keys of a list written before them (once; due-slots.ts). */
export async function buildOpenTaskDueSlots(now: Date): Promise<void> {
  await buildDueSlots(async () => {
    const all = await OpenTaskModel.find(
      {},
      { _id: 1, occurrenceId: 1, officerName: 1, officerPhone: 1, dueAt: 1 },
    ).lean<OpenTaskEntry[]>();
    return all.map((entry) => ({ _id: entry._id, run: runKeyOf(entry), dueAt: entry.dueAt }));
  }, now);
}

/** The campaign lists of a watch list written before them (once; due-slots.ts). */
export async function buildOpenTaskCampaignLists(): Promise<void> {
  await buildCampaignLists(async () => {
    const all = await OpenTaskModel.find(
      {},
      { _id: 1, kind: 1, campaignId: 1, occurrenceId: 1, officerName: 1, officerPhone: 1, regionPath: 1 },
    ).lean<OpenTaskEntry[]>();
    return all.map((entry) => ({
      id: entry._id,
      run: runKeyOf(entry),
      county: entry.kind === 'manual' ? countyOf(entry.regionPath) : null,
      campaign: entry.campaignId ?? null,
    }));
  });
}

/** Open entries inside a scope filter (`{ regionPath: code }`), withdrawn and expired ones left out. */
export async function openEntries(scopeFilter: Record<string, unknown>, now: Date): Promise<OpenTaskEntry[]> {
  const docs = await OpenTaskModel.find({ ...scopeFilter, withdrawn: { $ne: true } }).lean<OpenTaskEntry[]>();
  return docs.filter((doc) => doc.expiresAt.getTime() > now.getTime());
}

/**
 * Lists the open manual tasks of a database written before the watch list existed (one pass
 * over the tasks of the horizon, once; later starts read the `built` marker by `_id`).
 * Idempotent: entries already there are left as they are.
 */
export async function buildOpenTaskWatch(
  now: Date,
  /** Other open tasks of the horizon (WeCom customer groups of open tasks). */
  more: (since: Date) => Promise<WatchFields[]> = async () => [],
  /** Entries made due per notifier pass (tests use fewer). */
  perPass = BACKFILL_PER_PASS,
): Promise<number> {
  if (await OpenTaskMarkModel.exists({ _id: BUILT })) return 0;
  const since = new Date(now.getTime() - OPEN_TASK_HORIZON_MS);
  const cursor = ManualTaskModel.find(
    { confirmedAt: null, withdrawalAnnounced: { $ne: true }, createdAt: { $gte: since } },
    { _id: 1, taskKey: 1, regionPath: 1, officerName: 1, officerPhone: 1, createdAt: 1, withdrawnAt: 1 },
  )
    .lean<
      {
        _id: unknown;
        taskKey: string;
        regionPath: string[];
        officerName: string | null;
        officerPhone: string | null;
        createdAt: Date;
        withdrawnAt: Date | null;
      }[]
    >()
    .cursor();
  const all: WatchFields[] = [];
  const withdrawn: string[] = [];
  let listed = 0;
  for await (const task of cursor) {
    const id = String(task._id);
    all.push({
      id,
      kind: 'manual',
      reference: task.taskKey,
      regionPath: task.regionPath,
      officerName: task.officerName ?? null,
      officerPhone: task.officerPhone ?? null,
      createdAt: task.createdAt,
    });
    if (task.withdrawnAt) withdrawn.push(id);
    listed++;
  }
  const others = await more(since);
  all.push(...others);
  listed += others.length;
  // Spread, so the notifier's first passes each handle a bounded part of a month's open tasks.
  const spread = spreadFirstLooks(all, now, perPass);
  for (let i = 0; i < spread.length; i += 500) await watchTasks(spread.slice(i, i + 500));
  // Withdrawn but not announced yet: the notifier announces them at once (their runs filed first).
  const withdrawnIds = new Set(withdrawn);
  await fileRuns(
    spread.filter((task) => withdrawnIds.has(task.id)).map((task) => ({ run: runKeyOf(entryOf(task)), at: now })),
  );
  for (let i = 0; i < withdrawn.length; i += MAX_UPDATES_PER_COMMAND) {
    await OpenTaskModel.bulkWrite(
      withdrawn.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({
        updateOne: { filter: { _id: id }, update: { $set: { withdrawn: true, dueAt: now } } },
      })),
      { ordered: false },
    );
  }
  if (withdrawn.length) await lowerDue(now);
  await OpenTaskMarkModel.updateOne({ _id: BUILT }, { $set: { at: now } }, { upsert: true });
  return listed;
}

/**
 * Counts the open tasks of every county once (open-counts.ts) for a list written before the
 * counts existed: one read of the list, then each county's document under its claim. Later
 * starts read the `counts-built-runs` marker by `_id`. Returns the counties counted.
 */
export async function buildOpenCounts(now: Date): Promise<number> {
  if (await OpenTaskMarkModel.exists({ _id: COUNTS_BUILT })) return 0;
  const entries = await OpenTaskModel.find({ kind: 'manual' }, COUNTED_FIELDS).lean<CountedEntry[]>();
  const byCounty = new Map<string, CountedEntry[]>();
  for (const entry of entries) {
    const county = countyOf(entry.regionPath);
    if (!county) continue;
    const list = byCounty.get(county) ?? [];
    list.push(entry);
    byCounty.set(county, list);
  }
  await recountCounties([...byCounty.keys()], async (county) => byCounty.get(county) ?? []);
  await OpenTaskMarkModel.updateOne({ _id: COUNTS_BUILT }, { $set: { at: now } }, { upsert: true });
  return byCounty.size;
}

/** Re-counts the counties of count writes whose writer died (open-counts.ts); the notifier's pass runs it. */
export function repairCounts(now: Date = new Date()): Promise<number> {
  return repairOpenCounts(new Date(now.getTime() - INTENT_STALE_MS), countyEntries);
}

// The officer tasks history without reading the tasks collection (issue 25, screens): lists of
// task entries `[id, createdAt ms, officer phone, regionPath]`, newest first, one list per
// region at root, province, city and county level (`r:<code>`), one per officer phone
// (`o:<phone>`), one per campaign (`c:<campaign id>`, tasks made for its deliveries) and one of
// every write (`m`, the made list: ids and times only, read from its cursor by the rankings'
// fold, tracking/rank-tally.ts, instead of a marker insert of its own per wave), so a
// page of a scope's (or an officer's) history reads a few list records and then only its
// tasks, by `_id`, and a stop finds its campaign's tasks the same way (`campaignTasks`). On
// FerretDB 1.24 any filter but `_id` reads the whole collection, and the tasks collection
// keeps every task ever made (>30 s at 50,000 groups).
//
// Contract (collection `taskhistory`, read by `_id` only):
// - live records `<key>:<n>` (n dense from 1, claimed by a unique insert walking up from the
//   hint in `_heads` (read once per process, written every 16th record; never above the last
//   n), one insert for every list a write touches) hold the entries of one write and
//   `at`, the writer's clock when it claimed. They are written BEFORE the tasks are inserted
//   (`recordTasks`), so no task exists without its entry; an entry whose insert then failed
//   (or met an existing task) names no task and is skipped when its page reads by `_id`.
//   Every entry of a record was created at or before its `at`, and a record is claimed after
//   every lower n was, so records below n hold no entry newer than n's `at` plus the clock
//   difference between writers (CLOCK_SLACK_MS);
// - base chunks `<key>:b<k>` (k from 1, 500 entries each, oldest first) and `<key>:base`
//   `{ chunks }`: the tasks of an install written before the lists existed, made once at start
//   by `buildTaskHistory` from one scan (then the `_built` marker; the campaign lists of an
//   install built before they existed from one more scan, then `_built_c`); a task both there
//   and in a live record is listed once;
// - records and chunks never change once written, so a process keeps those it has read.
//
// A page (`historyPage`) walks the live records down from the tail and the base chunks down
// from the newest, collecting the entries its filter keeps that sort after the cursor (newest
// first by createdAt, then id), until it holds `limit` of them and neither source can hold a
// newer one; then it reads them by `_id` in order until the page is full.
import mongoose from 'mongoose';
import { mapLimit } from '../../lib/concurrency.js';
import { isDuplicateKey } from '../../lib/errors.js';

const historySchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    /** Live record: when the writer claimed it. */
    at: { type: Date, default: null },
    /** JSON of Entry[] (FerretDB stores no nested arrays). */
    rows: { type: String, default: '[]' },
    /** head: a hint of the last n; base: the number of base chunks. */
    n: { type: Number, default: 0 },
  },
  { versionKey: false },
);
export const TaskHistoryModel = mongoose.model('TaskHistory', historySchema, 'taskhistory');

/** [task id, createdAt ms, officer phone, regionPath]. */
export type Entry = [string, number, string | null, string[]];

/** How far two writers' clocks (and a writer's clock read and its claim) may be apart. */
export const CLOCK_SLACK_MS = 60_000;
const BASE_CHUNK = 500;
const BUILT = '_built';
/** The campaign lists' base chunks were made (an install whose other lists predate them). */
const BUILT_CAMPAIGNS = '_built_c';
/** The made list: every write's tasks (ids and times only), for the rankings' fold. */
const MADE = 'm';
/** The head hint is written every this many records (walks from it are short; the process keeps its own). */
const HEAD_EVERY = 16;

/** The lists a task is on: its region at root, province, city and county level, its officer and its campaign. */
function keysOf(entry: Entry, campaignId: string | null): string[] {
  const keys = entry[3].slice(0, 4).map((code) => `r:${code}`);
  if (entry[2]) keys.push(`o:${entry[2]}`);
  if (campaignId) keys.push(campaignKey(campaignId));
  return keys;
}

/** A campaign's list of tasks. */
function campaignKey(campaignId: string): string {
  return `c:${campaignId}`;
}

/** `<campaignId>@<runAt>/<groupId>` (the engine's delivery id) → the campaign; null for other task keys. */
function campaignOfTaskKey(taskKey: string): string | null {
  const at = taskKey.indexOf('@');
  return at > 0 && taskKey.lastIndexOf('/') > at ? taskKey.slice(0, at) : null;
}

/** The list a scope's history is read from, and whether its entries need the scope's check. */
export function scopeKey(regionCode: string): string {
  // Codes below county level (township 9 digits, village 12) lie under their county's list.
  return `r:${regionCode.length > 6 ? regionCode.slice(0, 6) : regionCode}`;
}

/** Newest first: createdAt, then id, both descending. */
function newerFirst(a: Entry, b: Entry): number {
  return b[1] - a[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0);
}

const tails = new Map<string, number>();
const records = new Map<string, { at: number; rows: Entry[] } | null>();

function dbKey(key: string): string {
  return `${TaskHistoryModel.db.name}/${key}`;
}

const HEADS = '_heads';
/** Per database: the hints read once from `_heads` (a process then keeps its own tails). */
const headsRead = new Map<string, Promise<Record<string, number>>>();

function heads(): Promise<Record<string, number>> {
  const db = TaskHistoryModel.db.name;
  let pending = headsRead.get(db);
  if (!pending) {
    pending = TaskHistoryModel.findById(HEADS, { heads: 1 })
      .lean<{ heads?: Record<string, number> }>()
      .then((doc) => doc?.heads ?? {});
    headsRead.set(db, pending);
    pending.catch(() => headsRead.delete(db));
  }
  return pending;
}

async function hint(key: string): Promise<number> {
  const known = tails.get(dbKey(key));
  if (known !== undefined) return known;
  return (await heads())[key] ?? 0;
}

/**
 * Puts the tasks about to be inserted on their lists (before the insert: see the header), a
 * task with a delivery's key (`taskKey`) on its campaign's too.
 */
export async function recordTasks(
  tasks: { id: string; createdAt: Date; officerPhone: string | null; regionPath: string[]; taskKey?: string }[],
  at: Date,
): Promise<void> {
  const byKey = new Map<string, Entry[]>();
  for (const task of tasks) {
    const entry: Entry = [task.id, task.createdAt.getTime(), task.officerPhone, task.regionPath];
    for (const key of keysOf(entry, task.taskKey ? campaignOfTaskKey(task.taskKey) : null)) {
      const list = byKey.get(key) ?? [];
      list.push(entry);
      byKey.set(key, list);
    }
  }
  // The made list (every write's task ids, nothing else): the rankings' fold reads it from its
  // cursor (`madeRecord`) instead of a marker of its own per write (tracking/rank-tally.ts).
  if (tasks.length > 0) byKey.set(MADE, tasks.map((task): Entry => [task.id, task.createdAt.getTime(), null, []]));
  const keys = [...byKey.keys()];
  const next = new Map<string, number>();
  for (const key of keys) next.set(key, (await hint(key)) + 1);
  // Every list's record in one insert; a number another writer took is tried again one up.
  let pending = keys;
  while (pending.length) {
    const docs = pending.map((key) => ({ _id: `${key}:${next.get(key)}`, at, rows: JSON.stringify(byKey.get(key)), n: 0 }));
    const taken = new Set<number>();
    await TaskHistoryModel.collection.insertMany(docs as never[], { ordered: false }).catch((error: unknown) => {
      const raw = (error as { writeErrors?: unknown } | null)?.writeErrors;
      const writeErrors = (raw ? (Array.isArray(raw) ? raw : [raw]) : null) as { index: number; code: number }[] | null;
      if (!writeErrors || writeErrors.some((e) => e.code !== 11000)) throw error;
      for (const e of writeErrors) taken.add(e.index);
    });
    const again: string[] = [];
    for (const [i, key] of pending.entries()) {
      if (taken.has(i)) {
        next.set(key, next.get(key)! + 1);
        again.push(key);
      } else tails.set(dbKey(key), Math.max(tails.get(dbKey(key)) ?? 0, next.get(key)!));
    }
    pending = again;
  }
  // The hints, now and then (a lower hint only makes a cold process walk up further).
  const due = keys.filter((key) => next.get(key)! % HEAD_EVERY === 0);
  if (due.length) {
    const set = Object.fromEntries(due.map((key) => [`heads.${key}`, next.get(key)!]));
    await TaskHistoryModel.updateOne({ _id: HEADS }, { $max: set }, { upsert: true, strict: false }).catch(() => undefined);
  }
}

/** Record `n` of the made list (`m:<n>`): when it was claimed and its write's task ids; null if not (yet) written. */
export async function madeRecord(n: number): Promise<{ at: number; ids: string[] } | null> {
  const doc = await TaskHistoryModel.findById(`${MADE}:${n}`, { at: 1, rows: 1 }).lean<{ at: Date | null; rows: string }>();
  if (!doc) return null;
  return { at: doc.at ? new Date(doc.at).getTime() : 0, ids: (JSON.parse(doc.rows) as Entry[]).map((e) => e[0]) };
}

/** A record or chunk; kept by the process (`keep`: pages read them again, a stop does not). */
async function record(id: string, keep = true): Promise<{ at: number; rows: Entry[] } | null> {
  const held = records.get(dbKey(id));
  if (held !== undefined) return held;
  const doc = await TaskHistoryModel.findById(id, { at: 1, rows: 1 }).lean<{ at: Date | null; rows: string }>();
  const found = doc ? { at: doc.at ? new Date(doc.at).getTime() : 0, rows: JSON.parse(doc.rows) as Entry[] } : null;
  // Records never change; a missing one may appear, so only found ones are kept.
  if (found && keep) {
    if (records.size > 20_000) records.clear();
    records.set(dbKey(id), found);
  }
  return found;
}

/** The last live record of a list now (walking up from the hint). */
async function tail(key: string): Promise<number> {
  let n = await hint(key);
  while (await TaskHistoryModel.exists({ _id: `${key}:${n + 1}` })) n += 1;
  tails.set(dbKey(key), n);
  return n;
}

/**
 * The entries of list `key` that `keep` keeps and that sort after `cursor` (newest first),
 * at least `want` of them where the list holds that many, in order, each once.
 */
export async function historyEntries(
  key: string,
  want: number,
  keep: (entry: Entry) => boolean,
  cursor: { createdAt: number; id: string } | null,
): Promise<Entry[]> {
  const found = new Map<string, Entry>();
  const after = (e: Entry) =>
    !cursor || e[1] < cursor.createdAt || (e[1] === cursor.createdAt && e[0] < cursor.id);
  const take = (rows: Entry[]) => {
    for (const e of rows) if (after(e) && keep(e)) found.set(e[0], e);
  };
  /** The `want`-th entry held (newest first), or null while fewer are held. */
  const last = (): Entry | null => {
    if (found.size < want) return null;
    return [...found.values()].sort(newerFirst)[want - 1]!;
  };
  // Live records, newest first.
  for (let n = await tail(key); n >= 1; n -= 1) {
    const rec = await record(`${key}:${n}`);
    if (rec) take(rec.rows);
    const bound = last();
    // No lower record holds an entry newer than this one's claim (plus the slack).
    if (rec && bound && rec.at + CLOCK_SLACK_MS < bound[1]) break;
  }
  // Base chunks, newest first (each chunk's entries are older than the next one's).
  const chunks = (await TaskHistoryModel.findById(`${key}:base`, { n: 1 }).lean<{ n: number }>())?.n ?? 0;
  for (let k = chunks; k >= 1; k -= 1) {
    const rec = await record(`${key}:b${k}`);
    if (!rec || rec.rows.length === 0) continue;
    take(rec.rows);
    const bound = last();
    // Lower chunks hold only entries older than this chunk's oldest.
    if (bound && newerFirst(rec.rows[0]!, bound) >= 0) break;
  }
  return [...found.values()].sort(newerFirst);
}

/**
 * Lists the tasks of an install written before the lists existed (once; then the `_built`
 * marker, read by `_id`), and the campaign lists of one built before those existed (once more;
 * then `_built_c`). Idempotent: chunks are rewritten whole from one scan; tasks written
 * meanwhile are on the live records too and listed once.
 */
export async function buildTaskHistory(): Promise<void> {
  const all = !(await TaskHistoryModel.exists({ _id: BUILT }));
  if (!all && (await TaskHistoryModel.exists({ _id: BUILT_CAMPAIGNS }))) return;
  const byKey = new Map<string, Entry[]>();
  const cursor = mongoose
    .model('ManualTask')
    .find({}, { _id: 1, taskKey: 1, createdAt: 1, officerPhone: 1, regionPath: 1 })
    .lean<{ _id: unknown; taskKey?: string; createdAt: Date; officerPhone?: string | null; regionPath?: string[] }>()
    .cursor({ batchSize: 5_000 });
  for await (const task of cursor) {
    const entry: Entry = [String(task._id), new Date(task.createdAt).getTime(), task.officerPhone ?? null, task.regionPath ?? []];
    const campaignId = task.taskKey ? campaignOfTaskKey(task.taskKey) : null;
    // Built before the campaign lists existed: only theirs now.
    const keys = all ? keysOf(entry, campaignId) : campaignId ? [campaignKey(campaignId)] : [];
    for (const key of keys) {
      const list = byKey.get(key) ?? [];
      list.push(entry);
      byKey.set(key, list);
    }
  }
  for (const [key, entries] of byKey) {
    entries.sort((a, b) => newerFirst(b, a)); // oldest first
    const chunks = Math.ceil(entries.length / BASE_CHUNK);
    for (let k = 1; k <= chunks; k += 1) {
      const rows = JSON.stringify(entries.slice((k - 1) * BASE_CHUNK, k * BASE_CHUNK));
      await TaskHistoryModel.replaceOne({ _id: `${key}:b${k}` }, { at: null, rows, n: 0 }, { upsert: true });
    }
    await TaskHistoryModel.replaceOne({ _id: `${key}:base` }, { n: chunks, rows: '[]' }, { upsert: true });
  }
  for (const marker of all ? [BUILT_CAMPAIGNS, BUILT] : [BUILT_CAMPAIGNS]) {
    await TaskHistoryModel.create({ _id: marker }).catch((error) => {
      if (!isDuplicateKey(error)) throw error;
    });
  }
}

/**
 * Every task of a campaign's deliveries ever made (an entry whose insert failed names no
 * task): its live records 1 to the tail and its base chunks, each read by `_id`, each task
 * once. Bounded by the campaign's own tasks, whatever the collection holds.
 */
export async function campaignTasks(campaignId: string): Promise<Entry[]> {
  const key = campaignKey(campaignId);
  const last = await tail(key);
  const chunks = (await TaskHistoryModel.findById(`${key}:base`, { n: 1 }).lean<{ n: number }>())?.n ?? 0;
  const ids = [
    ...Array.from({ length: last }, (_, i) => `${key}:${i + 1}`),
    ...Array.from({ length: chunks }, (_, i) => `${key}:b${i + 1}`),
  ];
  const found = new Map<string, Entry>();
  const recs = await mapLimit(ids, 8, (id) => record(id, false));
  for (const rec of recs) for (const entry of rec?.rows ?? []) found.set(entry[0], entry);
  return [...found.values()];
}

/** Reads the tasks of `entries` by `_id`, in order, `limit` at most that `accept` accepts. */
export async function readInOrder<T>(
  entries: Entry[],
  limit: number,
  read: (id: string) => Promise<T | null>,
  accept: (doc: T) => boolean = () => true,
): Promise<{ docs: T[]; used: number }> {
  const docs: T[] = [];
  let at = 0;
  while (docs.length < limit && at < entries.length) {
    const next = entries.slice(at, at + (limit - docs.length));
    at += next.length;
    const found = await mapLimit(next, 8, (e) => read(e[0]));
    for (const doc of found) if (doc && accept(doc)) docs.push(doc);
  }
  return { docs, used: at };
}

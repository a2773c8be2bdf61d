// Open officer tasks counted per county (issue 25): the workbench's 待确认转发 figures and every
// navigation badge read one small document per county by `_id` (a city or the province sums
// its counties'), never the watch list itself (read whole on FerretDB by any other filter).
//
// Contract:
// - `opentaskcounts`, `_id` = the county code (`regionPath[3]` of the task's group), holds
//   `e.<task id> = [expiresAt ms, officer phone, officer name, path below the county, run]` for
//   every manual watch entry (watch.ts) of the county that is not withdrawn (`run`: the entry's
//   `occurrenceId`, `<campaignId>@<runAt ISO>`; values written before it was kept have four
//   elements, and `buildOpenCounts` re-counts such an install once). The open-task list and the
//   monthly table read these documents (channels/manual/kept-open-counts.ts), never the watch list. Expiry
//   is applied when reading (an entry past `expiresAt` is not open, whether or not the notifier removed it
//   yet), so the document never has to change with time.
// - Written only by `countedChange` (watch.ts runs every entry write through it): its process's
//   intent (`opentaskcountintents`, one document naming the counties) names the counties first,
//   then it makes the entry write, re-reads the changed entries by `_id` and, under the county's
//   claim (`opencount:<county>`, db/claims.ts: FerretDB 1.24 does not make one document's update
//   atomic against another writer's), sets or unsets exactly those ids from what the entries
//   now are. Setting an id from the entry's current state is idempotent: a retry, a take-over
//   or two processes writing the same task give the same document.
// - The intent is per process and per flush, not per write (ninth session: the worker made
//   one per wave of officer tasks, 4 of its 11 commands): the writes of one process within
//   FLUSH_MS share one intent (inserted by the first, its county list widened by a later one
//   naming a county it lacks: one writer per intent, its writes in order). The flush waits for
//   the intent's writes to end, logs every county they wrote (`collectionChanged`,
//   db/versions.ts, name COUNTS_LOG: one record and one token change) with the task ids each
//   write set or unset in it (the record's keys: a reader holding the county re-reads only those
//   entries, channels/manual/kept-open-counts.ts), then deletes the intent.
//   A write made with `deferLog` (the worker's wave) leaves the flush to a timer FLUSH_MS after
//   the intent began; any other write flushes before it returns (the API, the notifier: the
//   next reader anywhere sees it). Readers in the writing process hear of a deferred write at
//   once (`onLocalCountWrite`); readers elsewhere at the flush.
// - A writer killed anywhere between the intent and the flush leaves the intent, which names
//   every county its writes may have touched: the officer notifier's pass (`repairOpenCounts`)
//   re-counts them from their entries, under the same claim, and logs them, once the intent is
//   older than INTENT_STALE_MS. A write that fails leaves its intent the same way (no later
//   write joins it; the flush still logs what the others wrote, but leaves the intent). The
//   re-count logs its counties without keys: readers re-read them whole.
// - Write order, then: intent (names the counties) → entries → county documents ($set/$unset
//   of the changed ids, under the claim) → log record (counties and their changed ids) → token
//   → intent deleted. Killed before the record: the intent stays and the repair re-counts and
//   logs the counties whole; killed after it: readers re-read the logged ids, the intent's
//   re-count is harmless.
// - A database written before the counts existed is counted once at start (`buildOpenCounts`,
//   then the `counts-built-runs` marker, read by `_id`).
import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { ClaimModel, claimOnce } from '../../db/claims.js';
import { collectionChanged } from '../../db/versions.js';
import { mapLimit } from '../../lib/concurrency.js';

/** The counts' change log and token (db/versions.ts): the ids are the counties written. */
export const COUNTS_LOG = 'opentaskcounts';

/** An intent older than this belongs to a writer that died: the repair re-counts its counties. */
export const INTENT_STALE_MS = 60_000;
/** A county's claim lapses after this (its holder died). */
const CLAIM_TTL_MS = 10_000;

const countSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    e: { type: mongoose.Schema.Types.Mixed, default: {} },
    at: { type: Date, default: null },
  },
  { versionKey: false, minimize: false },
);
export const OpenCountModel = mongoose.model('OpenCount', countSchema, 'opentaskcounts');

const intentSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    counties: { type: [String], required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
export const OpenCountIntentModel = mongoose.model('OpenCountIntent', intentSchema, 'opentaskcountintents');

/** `[expiresAt ms, officer phone, officer name, path below the county ('/'-joined), run (occurrenceId)]`. */
export type CountValue = [number, string | null, string | null, string, (string | null)?];

/** What the counts need of a watch entry. */
export interface CountedEntry {
  _id: string;
  kind: string;
  regionPath: string[];
  officerName: string | null;
  officerPhone: string | null;
  expiresAt: Date;
  withdrawn?: boolean;
  /** `<campaignId>@<runAt ISO>` (the monthly table's run and month). */
  occurrenceId?: string | null;
}

/** The county a task's group lies in (its region path, root first: country, province, city, county). */
export function countyOf(regionPath: readonly string[]): string | null {
  return regionPath[3] ?? regionPath.at(-1) ?? null;
}

/** Only open manual tasks are counted (WeCom customer groups are not officers' tasks). */
function counted(entry: CountedEntry | undefined): entry is CountedEntry {
  return entry !== undefined && entry.kind === 'manual' && entry.withdrawn !== true;
}

function countValue(entry: CountedEntry): CountValue {
  return [
    entry.expiresAt.getTime(),
    entry.officerPhone ?? null,
    entry.officerName ?? null,
    entry.regionPath.slice(4).join('/'),
    entry.occurrenceId ?? null,
  ];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` holding the county's claim (one holder at a time; a dead holder's lapses). */
async function underClaim<T>(county: string, work: () => Promise<T>): Promise<T> {
  const key = `opencount:${county}`;
  const owner = randomUUID();
  for (let attempt = 0; ; attempt++) {
    const now = new Date();
    if (await claimOnce(key, owner, now, new Date(now.getTime() + CLAIM_TTL_MS))) break;
    const holder = await ClaimModel.findById(key).lean<{ owner: string; until: Date | null }>();
    if (holder?.until && holder.until.getTime() < now.getTime()) {
      await ClaimModel.deleteOne({ _id: key, owner: holder.owner });
      continue;
    }
    if (attempt > 2_000) throw new Error(`open-task count of county ${county}: claim not obtained`);
    await sleep(Math.min(5 + attempt * 5, 100));
  }
  try {
    return await work();
  } finally {
    await ClaimModel.deleteOne({ _id: key, owner });
  }
}

/** How long one process's writes share an intent before their log is written and it goes. */
export const FLUSH_MS = 1_000;
let flushMs = FLUSH_MS;

/** Sets the flush window (tests: one long enough that a loaded machine cannot split a flush). */
export function setCountsFlushMs(ms: number = FLUSH_MS): void {
  flushMs = ms;
}

/** Readers in this process told of a count write at once (its log record comes at the flush). */
/** The task ids a write set or unset, per county written. */
export type WrittenIds = ReadonlyMap<string, ReadonlySet<string>>;

/** A reader told of this process's count writes: the counties, and the ids written in each. */
interface LocalReader {
  countsWritten(counties: readonly string[], ids?: WrittenIds): void;
}

const localReaders = new Set<WeakRef<LocalReader>>();

/** Tells `reader` of every count write this process makes, when it is made (held weakly). */
export function onLocalCountWrite(reader: LocalReader): void {
  localReaders.add(new WeakRef(reader));
}

function tellLocalReaders(counties: readonly string[], ids: WrittenIds): void {
  for (const ref of localReaders) {
    const reader = ref.deref();
    if (reader) reader.countsWritten(counties, ids);
    else localReaders.delete(ref);
  }
}

/** The count writes of this process sharing one intent document (see the header). */
class Flush {
  readonly id = randomUUID();
  readonly at = new Date();
  /** Counties the intent names (or is being written to name). */
  private readonly named = new Set<string>();
  /** The intent's writes, in order; a write naming counties awaits the one that names them. */
  private naming: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  private idle: (() => void)[] = [];
  /** Counties written, with the task ids set or unset in each, for the log. */
  readonly written = new Map<string, Set<string>>();
  /** A write failed or the intent could not be written: the intent stays for the repair. */
  broken = false;
  closed = false;
  done: Promise<void> | null = null;
  timer: NodeJS.Timeout | null = null;

  /** Resolves once the intent names `counties` (written by this call or an earlier one). */
  name(counties: readonly string[]): Promise<unknown> {
    const missing = counties.filter((county) => !this.named.has(county));
    if (missing.length > 0) {
      for (const county of missing) this.named.add(county);
      const list = [...this.named];
      // An upsert: a repair that found the intent stale (a stalled writer) and deleted it gets
      // it back, stale at once, and re-counts again (harmless).
      this.naming = this.naming.then(() =>
        OpenCountIntentModel.collection.updateOne(
          { _id: this.id as never },
          { $set: { counties: list }, $setOnInsert: { at: this.at } },
          { upsert: true },
        ),
      );
    }
    return this.naming;
  }

  enter(): void {
    this.inFlight += 1;
  }

  leave(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0) for (const wake of this.idle.splice(0)) wake();
  }

  whenIdle(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }
}

let current: Flush | null = null;
/** Flushes not done yet (the current one, and closed ones whose writes or log are still due). */
const unflushed = new Set<Flush>();

function flushFor(): Flush {
  if (current && !current.closed && Date.now() - current.at.getTime() < flushMs) return current;
  if (current) current.closed = true;
  current = new Flush();
  unflushed.add(current);
  return current;
}

/** Ends a flush: no write joins it; once its writes end, their counties are logged and the intent goes. */
function flush(target: Flush): Promise<void> {
  target.closed = true;
  if (current === target) current = null;
  if (target.timer) clearTimeout(target.timer);
  target.done ??= (async () => {
    await target.whenIdle();
    if (target.written.size > 0) await collectionChanged(COUNTS_LOG, [...target.written.keys()], target.written);
    if (!target.broken) await OpenCountIntentModel.deleteOne({ _id: target.id });
  })();
  target.done.finally(() => unflushed.delete(target)).catch(() => undefined);
  return target.done;
}

/** Writes the log of this process's deferred count writes now (tests, a stopping process). */
export async function flushOpenCounts(): Promise<void> {
  await Promise.all([...unflushed].map((target) => flush(target)));
}

/**
 * Makes a change of watch entries and keeps the counts with it: `before` are the entries the
 * change may touch as they were (with their paths), `paths` the paths of the entries it may
 * add; `read` reads the same ids as they are now (by `_id`). `deferLog`: the counties' log
 * record is left to the process's flush (FLUSH_MS at most), not written before this returns.
 */
export async function countedChange(
  ids: string[],
  paths: string[][],
  write: () => Promise<void>,
  read: (ids: string[]) => Promise<CountedEntry[]>,
  options: { deferLog?: boolean } = {},
): Promise<void> {
  const counties = [...new Set(paths.map(countyOf).filter((c): c is string => c !== null))];
  if (counties.length === 0 || ids.length === 0) {
    await write();
    return;
  }
  const intent = flushFor();
  const writtenHere = new Map<string, Set<string>>();
  intent.enter();
  try {
    await intent.name(counties);
    await write();
    const now = new Map((await read(ids)).map((entry) => [entry._id, entry]));
    const countyOfId = new Map<string, Set<string>>();
    ids.forEach((id, i) => {
      const county = countyOf(paths[i] ?? []);
      if (county) countyOfId.set(id, (countyOfId.get(id) ?? new Set()).add(county));
    });
    for (const county of counties) {
      const set: Record<string, CountValue> = {};
      const unset: Record<string, ''> = {};
      const changed = new Set<string>();
      for (const id of ids) {
        const entry = now.get(id);
        if (counted(entry) && countyOf(entry.regionPath) === county) set[`e.${id}`] = countValue(entry);
        else if (countyOfId.get(id)?.has(county)) unset[`e.${id}`] = '';
        else continue;
        changed.add(id);
      }
      // (An id logged but not written is only re-read by the readers: harmless.)
      const logged = intent.written.get(county) ?? new Set<string>();
      for (const id of changed) logged.add(id);
      writtenHere.set(county, changed);
      await underClaim(county, () =>
        OpenCountModel.updateOne(
          { _id: county },
          { $set: { ...set, at: new Date() }, ...(Object.keys(unset).length ? { $unset: unset } : {}) },
          { upsert: true },
        ),
      );
      intent.written.set(county, logged);
    }
  } catch (error) {
    // Left to the repair: no later write joins this intent, and the flush leaves it.
    intent.broken = true;
    intent.leave();
    void flush(intent).catch(() => undefined);
    throw error;
  }
  intent.leave();
  tellLocalReaders(counties, writtenHere);
  // The counties written, on the counts' change log (before the intent goes: a writer killed
  // before it leaves the intent, and the repair's re-count logs them): a process keeping the
  // county documents re-reads only these (channels/manual/kept-open-counts.ts).
  if (!options.deferLog) return flush(intent);
  intent.timer ??= setTimeout(
    () => void flush(intent).catch(() => undefined),
    Math.max(0, intent.at.getTime() + flushMs - Date.now()),
  );
  intent.timer.unref();
}

/** Re-counts counties from their entries (each under its claim): the repair and the first count. */
export async function recountCounties(
  counties: string[],
  entriesOf: (county: string) => Promise<CountedEntry[]>,
): Promise<void> {
  for (const county of counties) {
    await underClaim(county, async () => {
      const e: Record<string, CountValue> = {};
      for (const entry of await entriesOf(county)) {
        if (counted(entry) && countyOf(entry.regionPath) === county) e[entry._id] = countValue(entry);
      }
      await OpenCountModel.updateOne({ _id: county }, { $set: { e, at: new Date() } }, { upsert: true });
    });
  }
  if (counties.length > 0) await collectionChanged(COUNTS_LOG, counties);
}

/**
 * Finishes the count writes of writers that died after their entry write: every intent older
 * than `staleBefore` has its counties re-counted, then goes. Reads the intents (a collection
 * that holds only writes in flight, normally empty). Returns the counties re-counted.
 */
export async function repairOpenCounts(
  staleBefore: Date,
  entriesOf: (county: string) => Promise<CountedEntry[]>,
): Promise<number> {
  const intents = await OpenCountIntentModel.find({}).lean<{ _id: string; counties: string[]; at: Date }[]>();
  const stale = intents.filter((intent) => intent.at.getTime() < staleBefore.getTime());
  if (stale.length === 0) return 0;
  const counties = [...new Set(stale.flatMap((intent) => intent.counties))];
  await recountCounties(counties, entriesOf);
  for (const intent of stale) await OpenCountIntentModel.deleteOne({ _id: intent._id });
  return counties.length;
}

/** An open task as the counts know it. */
export interface CountedTask {
  officerName: string | null;
  officerPhone: string | null;
}

/**
 * The open tasks (not withdrawn, not past `expiresAt` at `now`) of these counties, read by
 * `_id` (one document each); `below`, when given, keeps only those under that region (a
 * township or village scope inside one county).
 */
export async function countedTasks(counties: string[], now: Date, below?: string): Promise<CountedTask[]> {
  const docs = await mapLimit(counties, 16, (county) =>
    OpenCountModel.findById(county, { e: 1 }).lean<{ e?: Record<string, CountValue> }>(),
  );
  const at = now.getTime();
  const tasks: CountedTask[] = [];
  for (const doc of docs) {
    for (const [expiresAt, officerPhone, officerName, tail] of Object.values(doc?.e ?? {})) {
      if (expiresAt <= at) continue;
      if (below && !tail.split('/').includes(below)) continue;
      tasks.push({ officerName, officerPhone });
    }
  }
  return tasks;
}

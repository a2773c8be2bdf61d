// The audit screen (审计日志) without reading the audit collection (issue 25): on FerretDB 1.24
// a find by `regionPath` sorted by `_id` reads every entry ever written (the log is never
// pruned; 5.0 s for the province admin on the 50,000-group world). Each entry is also put, as
// a copy, on lists of entries per region at root, province, city and county level
// (`r:<code>`), so a page reads a few list records by `_id`, and a process keeps the records
// it has read (they never change).
//
// Contract (collection `auditpages`, read by `_id` only; the pattern of
// channels/manual/history.ts):
// - live records `<key>:<n>` (n dense from 1, claimed by a unique insert walking up from the
//   process's tail or the hint in `<key>:head`, written every HEAD_EVERY records) hold one
//   entry each (`row`, JSON of Row) and `at`, the writer's clock when it claimed. An entry's
//   id (an ObjectId: its time is the writer's clock) is never newer than its record's `at`,
//   and a record is claimed after every lower n was, so records below n hold no entry newer
//   than n's `at` plus the clock difference between writers (CLOCK_SLACK_MS);
// - write order (AuditService.record): (1) the entry's `_id` chosen and its rows put on every
//   list (`recordRow`), (2) the entry inserted, (3) its rows marked `ok` (`confirmRows`). A
//   process killed in (1) or before (2) leaves rows of an entry that never was; killed after
//   (2), rows not yet marked. So every entry in the collection has all its rows (the log on
//   the screen is complete), and a reader shows a row not marked `ok` only after reading its
//   entry by `_id` (`exists`): found, it marks the row `ok` (a repair, once) and keeps it;
//   missing, the row is left off the page and not kept (its writer may still be inserting).
//   A dead writer's rows thus cost one `_id` read of the audit collection each time a page's
//   walk reaches them (while they are among a page's newest rows); apart from that and the
//   backfill's one scan, nothing reads the collection;
// - base chunks `<key>:b<k>` (k from 1, BASE_CHUNK rows each, oldest first) and `<key>:base`
//   `{ n: chunks }`: the entries of an install written before the lists existed, made once at
//   start by `buildAuditPages` from one scan (then the `_built` marker); an entry both there
//   and on a live record is listed once.
//
// A page (`auditRows`) walks the list's live records down from the tail, then its base chunks
// down from the newest, keeping the rows the page's filter keeps that sort after the cursor
// (newest first by id), until it holds `limit` of them and no lower record or chunk can hold a
// newer one. A filter that keeps few rows walks further (each record read once per process).
import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { isDuplicateKey } from '../lib/errors.js';

const pageSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    at: { type: Date, default: null },
    /** A live record: JSON of one Row; a base chunk: JSON of Row[] (FerretDB stores no nested arrays). */
    rows: { type: String, default: '[]' },
    /** head: a hint of the last n; base: the number of base chunks. */
    n: { type: Number, default: 0 },
    /** A live record: its entry is known to be in the audit collection (see the header). */
    ok: { type: Boolean },
  },
  { versionKey: false },
);
export const AuditPageModel = mongoose.model('AuditPage', pageSchema, 'auditpages');

/** [id, at ms, actorId, actorName, action, targetKind, targetId, ip, regionPath, details]. */
export type Row = [
  string,
  number,
  string | null,
  string | null,
  string,
  string | null,
  string | null,
  string | null,
  string[],
  Record<string, unknown> | null,
];

/** How far two writers' clocks (and a writer's clock read and its claim) may be apart. */
export const CLOCK_SLACK_MS = 60_000;
const BASE_CHUNK = 500;
const BUILT = '_built';
const HEAD_EVERY = 16;
/** Records a process keeps (they never change); past this the kept ones are forgotten. */
const KEPT_RECORDS = 50_000;

/** The lists an entry is on: its region at root, province, city and county level. */
function keysOf(regionPath: readonly string[]): string[] {
  return regionPath.slice(0, 4).map((code) => `r:${code}`);
}

/** The list a scope's page is read from (below a county: its county's list, filtered). */
export function scopeKey(regionCode: string): string {
  return `r:${regionCode.length > 6 ? regionCode.slice(0, 6) : regionCode}`;
}

/** An ObjectId's time (ms): the writer's clock when it made the id. */
const idTime = (id: string) => Number.parseInt(id.slice(0, 8), 16) * 1000;

const dbKey = (key: string) => `${AuditPageModel.db.name}/${key}`;
const tails = new Map<string, number>();
const kept = new Map<string, { at: number; rows: Row[] } | null>();

async function hint(key: string): Promise<number> {
  const known = tails.get(dbKey(key));
  if (known !== undefined) return known;
  return (await AuditPageModel.findById(`${key}:head`, { n: 1 }).lean<{ n?: number }>())?.n ?? 0;
}

/**
 * Puts an entry about to be inserted on its lists (step 1 of the header's write order);
 * returns the records written, for `confirmRows` once the entry is inserted.
 */
export async function recordRow(row: Row, at: Date): Promise<string[]> {
  const written: string[] = [];
  for (const key of keysOf(row[8])) {
    let n = (await hint(key)) + 1;
    for (;;) {
      try {
        await AuditPageModel.collection.insertOne({ _id: `${key}:${n}`, at, rows: JSON.stringify(row), n: 0 } as never);
        break;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        n += 1;
      }
    }
    written.push(`${key}:${n}`);
    tails.set(dbKey(key), Math.max(tails.get(dbKey(key)) ?? 0, n));
    if (n % HEAD_EVERY === 0) {
      await AuditPageModel.updateOne({ _id: `${key}:head` }, { $max: { n } }, { upsert: true }).catch(() => undefined);
    }
  }
  return written;
}

/** Marks an inserted entry's records `ok` (step 3; a failure is repaired by the next reader). */
export async function confirmRows(records: readonly string[]): Promise<void> {
  await Promise.all(
    records.map((id) => AuditPageModel.updateOne({ _id: id }, { $set: { ok: true } }).catch(() => undefined)),
  );
}

/**
 * A list record, kept once read; a live record not marked `ok` is shown only once its entry
 * is found by `_id` (then marked), else read as holding no row and not kept.
 */
async function record(id: string, live: boolean): Promise<{ at: number; rows: Row[] } | null> {
  const held = kept.get(dbKey(id));
  if (held !== undefined) return held;
  const doc = await AuditPageModel.findById(id, { at: 1, rows: 1, ok: 1 }).lean<{
    at: Date | null;
    rows: string;
    ok?: boolean;
  }>();
  if (!doc) return null; // a missing one may appear: not kept
  const parsed = JSON.parse(doc.rows) as Row | Row[];
  // A live record holds one row, a chunk an array of rows.
  const rows = typeof parsed[0] === 'string' ? [parsed as Row] : (parsed as Row[]);
  const found = { at: doc.at ? new Date(doc.at).getTime() : 0, rows };
  if (live && !doc.ok) {
    if (!(await mongoose.model('AuditEntry').exists({ _id: rows[0]![0] }))) return { at: found.at, rows: [] };
    await confirmRows([id]);
  }
  if (kept.size >= KEPT_RECORDS) kept.clear();
  kept.set(dbKey(id), found);
  return found;
}

/** The last live record of a list now (walking up from the hint). */
async function tail(key: string): Promise<number> {
  let n = await hint(key);
  while (await AuditPageModel.exists({ _id: `${key}:${n + 1}` })) n += 1;
  tails.set(dbKey(key), n);
  return n;
}

/** Chunk counts per list once built (chunks are written once, before the `_built` marker). */
const chunkCounts = new Map<string, number>();
async function chunks(key: string): Promise<number> {
  const known = chunkCounts.get(dbKey(key));
  if (known !== undefined) return known;
  const n = (await AuditPageModel.findById(`${key}:base`, { n: 1 }).lean<{ n: number }>())?.n ?? 0;
  if (await isBuilt()) chunkCounts.set(dbKey(key), n);
  return n;
}

const built = new Set<string>();
async function isBuilt(): Promise<boolean> {
  const db = AuditPageModel.db.name;
  if (built.has(db)) return true;
  if (await AuditPageModel.exists({ _id: BUILT })) built.add(db);
  return built.has(db);
}

/**
 * The rows of list `key` that `keep` keeps with an id below `before` (when given), newest
 * first by id, at most `limit` (fewer only where the list holds fewer).
 */
export async function auditRows(
  key: string,
  limit: number,
  keep: (row: Row) => boolean,
  before: string | null,
): Promise<Row[]> {
  const found = new Map<string, Row>();
  const take = (rows: Row[]) => {
    for (const row of rows) if ((!before || row[0] < before) && keep(row)) found.set(row[0], row);
  };
  const bound = (): string | null => {
    if (found.size < limit) return null;
    return [...found.keys()].sort().reverse()[limit - 1]!;
  };
  for (let n = await tail(key); n >= 1; n -= 1) {
    const rec = await record(`${key}:${n}`, true);
    if (rec) take(rec.rows);
    const last = bound();
    // No lower record holds an entry newer than this one's claim (plus the slack).
    if (rec && last && rec.at + CLOCK_SLACK_MS < idTime(last)) break;
  }
  for (let k = await chunks(key); k >= 1; k -= 1) {
    const rec = await record(`${key}:b${k}`, false);
    if (!rec || rec.rows.length === 0) continue;
    take(rec.rows);
    const last = bound();
    // Lower chunks hold only older ids than this chunk's oldest.
    if (last && rec.rows[0]![0] <= last) break;
  }
  return [...found.values()].sort((a, b) => (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0)).slice(0, limit);
}

/**
 * Lists the entries of an install written before the lists existed (once; then the `_built`
 * marker). Idempotent: chunks are rewritten whole from one scan; entries written meanwhile
 * are on live records too and listed once.
 */
export async function buildAuditPages(): Promise<void> {
  if (await isBuilt()) return;
  const byKey = new Map<string, Row[]>();
  const cursor = mongoose
    .model('AuditEntry')
    .find({})
    .lean<Record<string, unknown> & { _id: unknown; at: Date; regionPath?: string[] }>()
    .cursor({ batchSize: 5_000 });
  for await (const doc of cursor) {
    const row = rowOf(doc);
    for (const key of keysOf(row[8])) {
      const list = byKey.get(key) ?? [];
      list.push(row);
      byKey.set(key, list);
    }
  }
  for (const [key, rows] of byKey) {
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); // oldest first
    const count = Math.ceil(rows.length / BASE_CHUNK);
    for (let k = 1; k <= count; k += 1) {
      const chunk = JSON.stringify(rows.slice((k - 1) * BASE_CHUNK, k * BASE_CHUNK));
      await AuditPageModel.replaceOne({ _id: `${key}:b${k}` }, { at: null, rows: chunk, n: 0 }, { upsert: true });
    }
    await AuditPageModel.replaceOne({ _id: `${key}:base` }, { n: count, rows: '[]' }, { upsert: true });
  }
  await AuditPageModel.create({ _id: BUILT, rows: randomUUID() }).catch((error) => {
    if (!isDuplicateKey(error)) throw error;
  });
}

/** A stored entry as a row. */
export function rowOf(doc: Record<string, unknown> & { _id: unknown; at: Date; regionPath?: string[] }): Row {
  const s = (v: unknown) => (v === undefined || v === null ? null : String(v));
  return [
    String(doc._id),
    new Date(doc.at).getTime(),
    s(doc.actorId),
    s(doc.actorName),
    String(doc.action),
    s(doc.targetKind),
    s(doc.targetId),
    s(doc.ip),
    doc.regionPath ?? [],
    (doc.details as Record<string, unknown> | null | undefined) ?? null,
  ];
}

/** Forgets this process's records, tails and markers (a test's stand-in for a fresh process). */
export function forgetAuditPages(): void {
  tails.clear();
  kept.clear();
  chunkCounts.clear();
  built.clear();
}

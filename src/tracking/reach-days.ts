// The day-precision read model (rollup-model.ts, `reachdays`): one document per region and
// month for every region from the root down to a batch's county.
//
//   county   `${county}|${month}`  one cell per day × township × category (sum of the parts)
//   above    `${region}|${month}`  one cell per day × county × category (sum of that county's cells)
//
// A day report ("reach by day") reads the documents of the region asked about by `_id`, one
// per month, instead of the ledgers of the scope (a scan of every ledger on FerretDB); the
// province's report is one or two documents, not one per county.
//
// The fold writes them before the ledgers (fold.ts), each recomputed from the touched
// buckets' whole parts, never incremented: a fold stopped after the ledgers (or after these)
// leaves documents that already show its new buckets, and the next fold writes the same
// values again. Installs folded by older code have ledgers but no day documents: the lease
// holder builds them once from the ledgers (`buildDays`), and reports read the ledgers until
// the roll-up state says they are built (`daysReady`).
import type * as mongo from 'mongodb';
import { mapLimit } from '../lib/concurrency.js';
import { type Cell, type Part, packCells, sumOf, unpackCells, unpackParts } from './packed.js';
import type { EntryFilter, ReachEntry } from './reach-read.js';
import { countiesUnder } from './reach-scopes.js';
import { STATE_ID } from './rollup-lease.js';
import { ReachDayModel, ReachLedgerModel, RollupStateModel, dayDocId } from './rollup-model.js';
import { MAX_UPDATES_PER_COMMAND } from '../db/bulk.js';

const LOOKUPS_AT_ONCE = 8;
/** Layout of the day documents; the state's `days` field holds the layout they were built for. */
export const DAYS_LAYOUT = 1;

interface DayDoc {
  _id: string;
  regionCode: string;
  month: string;
  paths: string;
  cells: string;
}

/** A day cell: `key` is the township (a county's document) or the county (above a county). */
export interface DayCell extends Omit<Cell, 'month' | 'townshipCode'> {
  day: string;
  key: string;
}

/** A bucket (month × township × category) with all its parts after a fold. */
export interface DayBucket {
  keys: { month: string; category: string; townshipCode: string; countyCode: string; regionPath: string[] };
  parts: Part[];
}

const toCells = (cells: DayCell[]): Cell[] =>
  cells.map(({ day, key, ...reach }) => ({ month: day, townshipCode: key, ...reach }));
const fromCells = (cells: Cell[]): DayCell[] =>
  cells.map(({ month, townshipCode, ...reach }) => ({ day: month, key: townshipCode, ...reach }));

/** One document being recomputed: its stored cells and paths, then the fold's changes. */
class DayDocument {
  readonly cells = new Map<string, DayCell>();
  readonly paths: Record<string, string[]>;

  constructor(
    readonly regionCode: string,
    readonly month: string,
    readonly stored: DayDoc | null,
  ) {
    this.paths = stored ? (JSON.parse(stored.paths) as Record<string, string[]>) : {};
    for (const cell of fromCells(unpackCells(stored?.cells))) this.cells.set(cellKey(cell), cell);
  }

  get id(): string {
    return dayDocId(this.regionCode, this.month);
  }

  /** Replaces every cell of `key` (and `category`, when given) with `cells`. */
  replace(key: string, path: string[], cells: DayCell[], category?: string): void {
    for (const [id, cell] of this.cells) {
      if (cell.key === key && (category === undefined || cell.category === category)) this.cells.delete(id);
    }
    for (const cell of cells) this.cells.set(cellKey(cell), cell);
    const keyInUse = [...this.cells.values()].some((c) => c.key === key);
    if (keyInUse) this.paths[key] = path;
    else delete this.paths[key];
  }

  doc(): DayDoc | null {
    if (this.cells.size === 0) return null;
    const cells = [...this.cells.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, cell]) => cell);
    const paths = Object.fromEntries(Object.entries(this.paths).sort(([a], [b]) => (a < b ? -1 : 1)));
    return {
      _id: this.id,
      regionCode: this.regionCode,
      month: this.month,
      paths: JSON.stringify(paths),
      cells: packCells(toCells(cells)),
    };
  }
}

const cellKey = (c: { day: string; key: string; category: string }) => `${c.day}|${c.key}|${c.category}`;

/** The county's own path: the township's path up to the county. */
function countyPathOf(keys: DayBucket['keys']): string[] {
  const at = keys.regionPath.indexOf(keys.countyCode);
  return at >= 0 ? keys.regionPath.slice(0, at + 1) : keys.regionPath.slice(0, -1);
}

/** Sums parts (or cells) per day under one key and category. */
function byDay(items: Iterable<DayCell | (Part & { key?: string })>, key: string, category: string): DayCell[] {
  const days = new Map<string, Array<DayCell | Part>>();
  for (const item of items) {
    const list = days.get(item.day) ?? [];
    list.push(item);
    days.set(item.day, list);
  }
  return [...days].map(([day, list]) => ({ day, key, category, ...sumOf(list) }));
}

async function readDocs(ids: string[]): Promise<Map<string, DayDoc>> {
  const days = ReachDayModel.collection as unknown as mongo.Collection<DayDoc>;
  const docs = await mapLimit(ids, LOOKUPS_AT_ONCE, (id) => days.findOne({ _id: id }));
  return new Map(docs.filter((d): d is DayDoc => d !== null).map((d) => [d._id, d]));
}

/**
 * Fold side: the county documents of the touched buckets with those buckets' cells
 * recomputed from their parts, then every region above each touched county with that
 * county's cells recomputed from its county document. Returns the documents to write
 * (null `doc`: emptied, to delete). `read`: the stored documents (by default from the database).
 */
export async function recomputeDays(
  buckets: DayBucket[],
  read: (ids: string[]) => Promise<Map<string, DayDoc>> = readDocs,
): Promise<Array<{ id: string; stored: boolean; doc: DayDoc | null }>> {
  const counties = new Map<string, { path: string[]; buckets: DayBucket[] }>();
  for (const b of buckets) {
    const id = dayDocId(b.keys.countyCode, b.keys.month);
    const entry = counties.get(id) ?? { path: countyPathOf(b.keys), buckets: [] };
    entry.buckets.push(b);
    counties.set(id, entry);
  }
  const stored = await read([...counties.keys()]);
  const countyDocs: DayDocument[] = [];
  for (const [id, { buckets: touched }] of counties) {
    const { countyCode, month } = touched[0]!.keys;
    const doc = new DayDocument(countyCode, month, stored.get(id) ?? null);
    for (const { keys, parts } of touched) {
      doc.replace(keys.townshipCode, keys.regionPath, byDay(parts, keys.townshipCode, keys.category), keys.category);
    }
    countyDocs.push(doc);
  }
  // Each region above a touched county: that county's cells summed over its townships.
  const above = new Map<
    string,
    { region: string; month: string; counties: Array<{ county: DayDocument; path: string[] }> }
  >();
  for (const county of countyDocs) {
    const path = counties.get(county.id)!.path;
    for (const region of path.slice(0, -1)) {
      const id = dayDocId(region, county.month);
      const entry = above.get(id) ?? { region, month: county.month, counties: [] };
      entry.counties.push({ county, path });
      above.set(id, entry);
    }
  }
  const storedAbove = await read([...above.keys()]);
  const aboveDocs: DayDocument[] = [];
  for (const [id, { region, month, counties: touched }] of above) {
    const doc = new DayDocument(region, month, storedAbove.get(id) ?? null);
    for (const { county, path } of touched) {
      const categories = new Map<string, DayCell[]>();
      for (const cell of county.cells.values()) {
        const list = categories.get(cell.category) ?? [];
        list.push(cell);
        categories.set(cell.category, list);
      }
      doc.replace(
        county.regionCode,
        path,
        [...categories].flatMap(([category, list]) => byDay(list, county.regionCode, category)),
      );
    }
    aboveDocs.push(doc);
  }
  return [...countyDocs, ...aboveDocs].map((d) => ({ id: d.id, stored: d.stored !== null, doc: d.doc() }));
}

/** Writes day documents: inserts, replaces in small bulk commands, deletes of emptied ones. */
export async function writeDays(docs: Array<{ id: string; stored: boolean; doc: DayDoc | null }>): Promise<void> {
  const collection = ReachDayModel.collection;
  const fresh = docs.filter((d) => !d.stored && d.doc).map((d) => d.doc!);
  const known = docs.filter((d) => d.stored && d.doc).map((d) => d.doc!);
  const emptied = docs.filter((d) => d.stored && !d.doc).map((d) => d.id);
  for (let i = 0; i < fresh.length; i += 200) {
    await collection.insertMany(fresh.slice(i, i + 200) as never[], { ordered: false });
  }
  for (let i = 0; i < known.length; i += MAX_UPDATES_PER_COMMAND) {
    await collection.bulkWrite(
      known
        .slice(i, i + MAX_UPDATES_PER_COMMAND)
        .map((doc) => ({ replaceOne: { filter: { _id: doc._id as never }, replacement: doc, upsert: true } })),
    );
  }
  if (emptied.length > 0) await collection.deleteMany({ _id: { $in: emptied as never[] } });
}

/**
 * Backfill (run by the roll-up lease holder, idempotent): the day documents of every
 * stored ledger, computed in memory from one pass over the ledgers and written whole
 * (replacing whatever an earlier, interrupted build left).
 */
export async function buildDays(keep: () => Promise<boolean>): Promise<boolean> {
  const buckets: DayBucket[] = [];
  for await (const ledger of ReachLedgerModel.find({}).lean().cursor()) {
    buckets.push({
      keys: {
        month: ledger.month,
        category: ledger.category,
        townshipCode: ledger.townshipCode,
        countyCode: ledger.countyCode,
        regionPath: ledger.regionPath,
      },
      parts: unpackParts(ledger.parts),
    });
  }
  const held = new Map<string, DayDoc>();
  const fromHeld = async (ids: string[]) =>
    new Map(ids.flatMap((id): Array<[string, DayDoc]> => (held.has(id) ? [[id, held.get(id)!]] : [])));
  // A county's months at a time, so each region above is recomputed once per county.
  const byCounty = new Map<string, DayBucket[]>();
  for (const b of buckets) byCounty.set(b.keys.countyCode, [...(byCounty.get(b.keys.countyCode) ?? []), b]);
  for (const list of byCounty.values()) {
    for (const { id, doc } of await recomputeDays(list, fromHeld)) {
      if (doc) held.set(id, doc);
      else held.delete(id);
    }
  }
  if (!(await keep())) return false;
  const stored = new Set((await ReachDayModel.find({}, { _id: 1 }).lean()).map((d) => String(d._id)));
  await writeDays([...held.values()].map((doc) => ({ id: doc._id, stored: stored.has(doc._id), doc })));
  const left = [...stored].filter((id) => !held.has(id));
  if (left.length > 0) await ReachDayModel.deleteMany({ _id: { $in: left } });
  return true;
}

// ---- read side ----

let ready = false;

/** Whether the day documents are built (kept once true: the state never goes back). */
export async function daysReady(): Promise<boolean> {
  if (ready) return true;
  const state = await RollupStateModel.findById(STATE_ID, { days: 1 }).lean();
  ready = state?.days === DAYS_LAYOUT;
  return ready;
}

/** Tests: forget that the day documents were seen built (a test that removes them). */
export function forgetDaysReady(): void {
  ready = false;
}

/** 'YYYY-MM' months from the day `from` to the day `to`, inclusive. */
function monthsIn(fromDay: string, toDay: string): string[] {
  const months: string[] = [];
  let [y, m] = fromDay.slice(0, 7).split('-').map(Number) as [number, number];
  const last = toDay.slice(0, 7);
  for (;;) {
    const month = `${y}-${String(m).padStart(2, '0')}`;
    if (month > last) return months;
    months.push(month);
    m += 1;
    if (m > 12) {
      m = 1;
      y += 1;
    }
  }
}

/**
 * Day-precise entries from the day documents, from `fromDay` to `toDay` inclusive: the
 * documents of `base` itself (a county or above; entries above a county carry no township),
 * or, when townships are wanted or `base` is below a county, the documents of its counties.
 */
export async function dayEntries(
  filter: EntryFilter,
  fromDay: string,
  toDay: string,
  opts: { baseLevel: 'above' | 'county' | 'below'; townships: boolean },
): Promise<ReachEntry[]> {
  const months = monthsIn(fromDay, toDay);
  const regions =
    opts.baseLevel === 'below' || (opts.baseLevel === 'above' && opts.townships)
      ? await countiesUnder(filter.base)
      : [filter.base];
  const docs = await readDocs(regions.flatMap((region) => months.map((month) => dayDocId(region, month))));
  // A county's documents name townships, the documents above a county name counties.
  const isCounty = !(opts.baseLevel === 'above' && !opts.townships);
  const entries: ReachEntry[] = [];
  for (const doc of docs.values()) {
    const paths = JSON.parse(doc.paths) as Record<string, string[]>;
    for (const cell of fromCells(unpackCells(doc.cells))) {
      if (cell.day < fromDay || cell.day > toDay) continue;
      const regionPath = paths[cell.key];
      if (!regionPath) continue;
      if (!regionPath.includes(filter.base) || !filter.scope.contains(regionPath)) continue;
      if (filter.category && filter.category !== cell.category) continue;
      entries.push({
        day: cell.day,
        month: doc.month,
        category: cell.category,
        townshipCode: isCounty ? cell.key : '',
        countyCode: isCounty ? doc.regionCode : cell.key,
        regionPath,
        counts: cell.counts,
        channels: cell.channels,
        groups: cell.groups,
        villages: cell.villages,
      });
    }
  }
  return entries;
}

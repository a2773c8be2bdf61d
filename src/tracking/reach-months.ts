// The monthly table's summaries above a county (rollup-model.ts, `reachmonths`, issue 25): one
// document per region above a county (city, province, root) and month, so a city coordinator's
// or province admin's monthly table reads one document by `_id` instead of every county's
// county-year with all its township cells (84+ at 50,000 groups, each decoded on every call).
//
//   `${region}|${month}`  paths  county → its path, root first
//                         rows   one entry per township: its month's figures as numbers
//                                (counts, distinct groups and villages, messages by channel)
//                         cells  one packed cell per county × category (packed.ts): counts and
//                                the reached sets, so the category rows and the total stay exact
//                                unions across counties (tally.ts, cross-county.ts)
//
// A county's share (its paths entry, rows and cells) is a function of that county's county-year
// cells of the month alone: the fold (fold.ts) recomputes it from the county-year it has just
// recomputed, for every county and month it touched, and replaces that share in the document of
// every region above the county. Nothing is incremented.
//
// Write order (fold.ts): … ledgers → these documents → county-years → county-years' log record →
// the refresh deletes its markers. The markers are the intent: a fold killed anywhere before
// they go leaves them, and the next refresh (whoever holds the lease) folds the same batches
// again, recomputing the same county-years and the same shares, and logs them. The county-years'
// record names the summaries written too (`month:<id>`), after both writes: an api process keeps
// the summaries it read (kept-county-years.ts) and reads one again only once a record names it.
//
// Installs folded by older code have county-years but no summaries: the lease holder builds them
// once from the county-years (`buildMonths`, written whole, then backfill `reach-months` is
// marked, db/backfills.ts); under the lease no fold runs meanwhile. Readers use the county-years
// until the mark is seen (`monthsReady`). The county editor's table (one county-year) and every
// quarter, year or filtered question still read the county-years.
import type * as mongo from 'mongodb';
import { BackfillModel } from '../db/backfills.js';
import { MAX_UPDATES_PER_COMMAND } from '../db/bulk.js';
import { collectionChanged } from '../db/versions.js';
import { mapLimit } from '../lib/concurrency.js';
import type { ChannelMessages } from './contribution.js';
import { COUNT_KEYS, type Counts, zeroCounts } from './counts.js';
import { COUNTY_YEARS_LOG } from './kept-county-years.js';
import { addChannels, type Cell, packCells, sumOf, unpackCells } from './packed.js';
import { ReachCountyYearModel, ReachMonthModel } from './rollup-model.js';
import { figuresOf, type ReachFigures } from './tally.js';

/** The backfill's name (db/backfills.ts): summaries built for every county-year. */
export const MONTHS_BACKFILL = 'reach-months';

const LOOKUPS_AT_ONCE = 8;

export interface MonthDoc {
  _id: string;
  regionCode: string;
  month: string;
  /** JSON object: county → its path, root first. */
  paths: string;
  /** JSON array: [county, township, ...counts in COUNT_KEYS order, groups, villages, channels]. */
  rows: string;
  /** packCells: month = the document's month, township slot = the county. */
  cells: string;
}

type Row = Array<string | number | ChannelMessages>;

/** A county's share of a month: what the documents above it hold of it. */
export interface CountyMonth {
  county: string;
  month: string;
  /** The county's path, root first (the county last). */
  path: string[];
  rows: Row[];
  cells: Cell[];
}

/** A township row as the report gives it. */
export interface MonthRow {
  county: string;
  township: string;
  figures: ReachFigures;
}

export const monthDocId = (region: string, month: string) => `${region}|${month}`;

/** The county's share of `month` from its county-year's cells (all of that county's cells of the month). */
export function countyMonth(county: string, path: string[], month: string, cells: readonly Cell[]): CountyMonth {
  const townships = new Map<string, Cell[]>();
  const categories = new Map<string, Cell[]>();
  for (const cell of cells) {
    if (cell.month !== month) continue;
    townships.set(cell.townshipCode, [...(townships.get(cell.townshipCode) ?? []), cell]);
    categories.set(cell.category, [...(categories.get(cell.category) ?? []), cell]);
  }
  const rows: Row[] = [...townships]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([township, list]) => {
      const sum = sumOf(list);
      return [
        county,
        township,
        ...COUNT_KEYS.map((key) => sum.counts[key]),
        sum.groups.size,
        sum.villages.size,
        sum.channels,
      ];
    });
  const byCategory: Cell[] = [...categories]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([category, list]) => ({ month, townshipCode: county, category, ...sumOf(list) }));
  return { county, month, path, rows, cells: byCategory };
}

/** One document being recomputed: its stored shares, then the fold's replaced ones. */
class MonthDocument {
  readonly paths: Record<string, string[]>;
  rows: Row[];
  cells: Cell[];

  constructor(
    readonly regionCode: string,
    readonly month: string,
    readonly stored: MonthDoc | null,
  ) {
    this.paths = stored ? (JSON.parse(stored.paths) as Record<string, string[]>) : {};
    this.rows = stored ? (JSON.parse(stored.rows) as Row[]) : [];
    this.cells = stored ? unpackCells(stored.cells) : [];
  }

  replace(share: CountyMonth): void {
    this.rows = this.rows.filter((row) => row[0] !== share.county);
    this.cells = this.cells.filter((cell) => cell.townshipCode !== share.county);
    delete this.paths[share.county];
    if (share.rows.length === 0) return;
    this.rows.push(...share.rows);
    this.cells.push(...share.cells);
    this.paths[share.county] = share.path;
  }

  doc(): MonthDoc | null {
    if (this.rows.length === 0) return null;
    const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    const rows = [...this.rows].sort((a, b) => byKey(String(a[1]), String(b[1])) || byKey(String(a[0]), String(b[0])));
    const cells = [...this.cells].sort(
      (a, b) => byKey(a.townshipCode, b.townshipCode) || byKey(a.category, b.category),
    );
    const paths = Object.fromEntries(Object.entries(this.paths).sort(([a], [b]) => byKey(a, b)));
    return {
      _id: monthDocId(this.regionCode, this.month),
      regionCode: this.regionCode,
      month: this.month,
      paths: JSON.stringify(paths),
      rows: JSON.stringify(rows),
      cells: packCells(cells),
    };
  }
}

async function readDocs(ids: string[]): Promise<Map<string, MonthDoc>> {
  const collection = ReachMonthModel.collection as unknown as mongo.Collection<MonthDoc>;
  const docs = await mapLimit(ids, LOOKUPS_AT_ONCE, (id) => collection.findOne({ _id: id }));
  return new Map(docs.filter((d): d is MonthDoc => d !== null).map((d) => [d._id, d]));
}

/**
 * Fold side: the documents of every region above each share's county, with those shares
 * replaced. Returns the documents to write (null `doc`: emptied, to delete). `read`: the stored
 * documents (by default from the database).
 */
export async function recomputeMonths(
  shares: CountyMonth[],
  read: (ids: string[]) => Promise<Map<string, MonthDoc>> = readDocs,
): Promise<Array<{ id: string; stored: boolean; doc: MonthDoc | null }>> {
  const above = new Map<string, { region: string; month: string; shares: CountyMonth[] }>();
  for (const share of shares) {
    for (const region of share.path.slice(0, -1)) {
      const id = monthDocId(region, share.month);
      const entry = above.get(id) ?? { region, month: share.month, shares: [] };
      entry.shares.push(share);
      above.set(id, entry);
    }
  }
  const stored = await read([...above.keys()]);
  return [...above].map(([id, { region, month, shares: touched }]) => {
    const doc = new MonthDocument(region, month, stored.get(id) ?? null);
    for (const share of touched) doc.replace(share);
    return { id, stored: stored.has(id), doc: doc.doc() };
  });
}

/** Writes summaries: inserts, replaces in small bulk commands, deletes of emptied ones. */
export async function writeMonths(docs: Array<{ id: string; stored: boolean; doc: MonthDoc | null }>): Promise<void> {
  const collection = ReachMonthModel.collection;
  const fresh = docs.filter((d) => !d.stored && d.doc).map((d) => d.doc!);
  const known = docs.filter((d) => d.stored && d.doc).map((d) => d.doc!);
  const emptied = docs.filter((d) => d.stored && !d.doc).map((d) => d.id);
  // Upserts throughout: a replay after a crash may find a document its first try inserted.
  for (let i = 0; i < fresh.length + known.length; i += MAX_UPDATES_PER_COMMAND) {
    await collection.bulkWrite(
      [...fresh, ...known]
        .slice(i, i + MAX_UPDATES_PER_COMMAND)
        .map((doc) => ({ replaceOne: { filter: { _id: doc._id as never }, replacement: doc, upsert: true } })),
    );
  }
  if (emptied.length > 0) await collection.deleteMany({ _id: { $in: emptied as never[] } });
}

/**
 * Backfill (run by the roll-up lease holder, idempotent): the summaries of every stored
 * county-year, computed in memory from one pass over them and written whole (replacing whatever
 * an earlier, interrupted build left; documents no county-year gives are deleted).
 */
export async function buildMonths(keep: () => Promise<boolean>): Promise<boolean> {
  const held = new Map<string, MonthDoc>();
  const fromHeld = async (ids: string[]) =>
    new Map(ids.flatMap((id): Array<[string, MonthDoc]> => (held.has(id) ? [[id, held.get(id)!]] : [])));
  for await (const year of ReachCountyYearModel.find({}).lean().cursor()) {
    const cells = unpackCells(year.cells);
    const months = [...new Set(cells.map((c) => c.month))];
    const shares = months.map((month) => countyMonth(year.countyCode, [...year.regionPath], month, cells));
    for (const { id, doc } of await recomputeMonths(shares, fromHeld)) {
      if (doc) held.set(id, doc);
      else held.delete(id);
    }
  }
  if (!(await keep())) return false;
  const stored = new Set((await ReachMonthModel.find({}, { _id: 1 }).lean()).map((d) => String(d._id)));
  await writeMonths([...held.values()].map((doc) => ({ id: doc._id, stored: stored.has(doc._id), doc })));
  const left = [...stored].filter((id) => !held.has(id));
  if (left.length > 0) await ReachMonthModel.deleteMany({ _id: { $in: left } });
  // Every process forgets what it kept (a rebuild may change any summary).
  await collectionChanged(COUNTY_YEARS_LOG);
  return true;
}

// ---- read side ----

let ready = false;

/** Whether the summaries are built (kept once true: the backfill's mark is never removed). */
export async function monthsReady(): Promise<boolean> {
  if (ready) return true;
  ready = Boolean(await BackfillModel.exists({ _id: MONTHS_BACKFILL }));
  return ready;
}

/** Tests: forget that the summaries were seen built. */
export function forgetMonthsReady(): void {
  ready = false;
}

/** The month's summary of a region above a county: township rows and county × category cells. */
export async function readMonth(
  region: string,
  month: string,
): Promise<{ paths: Map<string, string[]>; rows: MonthRow[]; cells: Cell[] }> {
  const doc = (await readDocs([monthDocId(region, month)])).get(monthDocId(region, month));
  if (!doc) return { paths: new Map(), rows: [], cells: [] };
  const paths = new Map(Object.entries(JSON.parse(doc.paths) as Record<string, string[]>));
  const rows = (JSON.parse(doc.rows) as Row[]).map((row) => {
    const counts: Counts = zeroCounts();
    COUNT_KEYS.forEach((key, i) => {
      counts[key] = Number(row[2 + i]);
    });
    const at = 2 + COUNT_KEYS.length;
    const channels: ChannelMessages = {};
    addChannels(channels, (row[at + 2] as ChannelMessages | undefined) ?? {});
    return {
      county: String(row[0]),
      township: String(row[1]),
      figures: figuresOf(counts, Number(row[at]), Number(row[at + 1]), channels),
    };
  });
  return { paths, rows, cells: unpackCells(doc.cells) };
}

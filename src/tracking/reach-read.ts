// Reads the roll-ups a report needs as entries (keys + counts + reached sets):
// - month precision (the common report): the cells of the scope's county-month documents,
//   found by `_id` (counties from reach-scopes.ts × the months asked for), no scan at all;
// - day or campaign precision: the parts of the scope's ledgers (one query over them).
import type * as mongo from 'mongodb';
import { mapLimit } from '../lib/concurrency.js';
import type { Scope } from '../regions/scope.js';
import { type Reach, unpackCells, unpackParts } from './packed.js';
import { countiesUnder } from './reach-scopes.js';
import { ReachCountyMonthModel, ReachLedgerModel, countyMonthId } from './rollup-model.js';

/** Parallel `_id` lookups: a county-year at once; more only queue on a small server. */
const LOOKUPS_AT_ONCE = 12;

export interface ReachEntry extends Reach {
  month: string;
  day?: string;
  campaignId?: string;
  category: string;
  townshipCode: string;
  countyCode: string;
  /** The township's path, root first. */
  regionPath: string[];
}

interface CountyMonthDoc {
  _id: string;
  countyCode: string;
  month: string;
  regionPath: string[];
  cells: string;
}

export interface EntryFilter {
  scope: Scope;
  /** The region asked about (the scope's own region by default). */
  base: string;
  category?: string;
}

const wanted = (filter: EntryFilter, path: string[], category: string) =>
  path.includes(filter.base) && filter.scope.contains(path) && (!filter.category || filter.category === category);

/** 'YYYY-MM' months from `from` to `to`, inclusive. */
export function monthsIn(from: string, to: string): string[] {
  const months: string[] = [];
  let [year, month] = from.split('-').map(Number) as [number, number];
  for (let at = from; at <= to; at = `${year}-${String(month).padStart(2, '0')}`) {
    months.push(at);
    if (++month > 12) [year, month] = [year + 1, 1];
  }
  return months;
}

/** Month-precision entries: one per township × category cell of each county-month. */
export async function cellEntries(filter: EntryFilter, from: string, to: string): Promise<ReachEntry[]> {
  const ids = (await countiesUnder(filter.base)).flatMap((county) =>
    monthsIn(from, to).map((m) => countyMonthId(county, m)),
  );
  // The driver's findOne, not mongoose's findById: the documents are plain strings and
  // arrays, and skipping the query machinery saves ~0.4 ms a lookup (measured).
  const months = ReachCountyMonthModel.collection as unknown as mongo.Collection<CountyMonthDoc>;
  const docs = await mapLimit(ids, LOOKUPS_AT_ONCE, (id) => months.findOne({ _id: id }));
  const entries: ReachEntry[] = [];
  for (const doc of docs) {
    if (!doc) continue;
    const paths = new Map<string, string[]>(); // one path per township, shared by its cells
    for (const { townshipCode, category, counts, groups, villages } of unpackCells(doc.cells)) {
      let regionPath = paths.get(townshipCode);
      if (!regionPath) {
        regionPath = [...doc.regionPath, townshipCode];
        paths.set(townshipCode, regionPath);
      }
      if (!wanted(filter, regionPath, category)) continue;
      entries.push({
        month: doc.month,
        category,
        townshipCode,
        countyCode: doc.countyCode,
        regionPath,
        counts,
        groups,
        villages,
      });
    }
  }
  return entries;
}

/** Day- or campaign-precise entries: one per batch part, from `fromDay` to `toDay` inclusive. */
export async function partEntries(
  filter: EntryFilter,
  fromDay: string,
  toDay: string,
  campaignId?: string,
): Promise<ReachEntry[]> {
  const where: Record<string, unknown>[] = [filter.scope.filter(), { regionPath: filter.base }];
  if (filter.category) where.push({ category: filter.category });
  where.push({ month: { $gte: fromDay.slice(0, 7), $lte: toDay.slice(0, 7) } });
  const ledgers = await ReachLedgerModel.find({ $and: where }, { _id: 0 }).lean();
  const entries: ReachEntry[] = [];
  for (const { parts, ...keys } of ledgers) {
    for (const { batchId: _, ...part } of unpackParts(parts)) {
      if (part.day < fromDay || part.day > toDay) continue;
      if (campaignId && part.campaignId !== campaignId) continue;
      entries.push({ ...keys, ...part });
    }
  }
  return entries;
}

// Reads the roll-ups a report needs as entries (keys + counts + reached sets):
// - month precision (the common report): the cells of the scope's county-year documents,
//   found by `_id` (counties from reach-scopes.ts × the years asked for), no scan at all,
//   kept per process and re-read only when the fold logs them (kept-county-years.ts);
// - day or campaign precision: the parts of the scope's ledgers (one query over them).
import type { Scope } from '../regions/scope.js';
import { type Counts, addCounts, zeroCounts } from './counts.js';
import { KeptCountyYears } from './kept-county-years.js';
import { type Reach, unpackCells, unpackParts } from './packed.js';
import { ReachLedgerModel } from './rollup-model.js';

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

export interface EntryFilter {
  scope: Scope;
  /** The region asked about (the scope's own region by default). */
  base: string;
  category?: string;
}

const wanted = (filter: EntryFilter, path: string[], category: string) =>
  path.includes(filter.base) && filter.scope.contains(path) && (!filter.category || filter.category === category);

/** 'YYYY' years from the month `from` to the month `to`, inclusive. */
export function yearsIn(from: string, to: string): string[] {
  const first = Number(from.slice(0, 4));
  return Array.from({ length: Number(to.slice(0, 4)) - first + 1 }, (_, i) => String(first + i));
}

/**
 * Month-precision entries: one per month × township × category cell of the county-years,
 * from the month `from` to the month `to`. `counties`: the counties below the base region
 * when the caller knows them (a county asked for by regionCode), else from reach-scopes.ts.
 */
export async function cellEntries(
  kept: KeptCountyYears,
  filter: EntryFilter,
  from: string,
  to: string,
  counties?: string[],
): Promise<ReachEntry[]> {
  const entries: ReachEntry[] = [];
  for (const { doc } of await kept.read(filter.base, yearsIn(from, to), counties)) {
    const paths = new Map<string, string[]>(); // one path per township, shared by its cells
    for (const { month, townshipCode, category, counts, channels, groups, villages } of unpackCells(doc.cells)) {
      if (month < from || month > to) continue;
      let regionPath = paths.get(townshipCode);
      if (!regionPath) {
        regionPath = [...doc.regionPath, townshipCode];
        paths.set(townshipCode, regionPath);
      }
      if (!wanted(filter, regionPath, category)) continue;
      entries.push({
        month,
        category,
        townshipCode,
        countyCode: doc.countyCode,
        regionPath,
        counts,
        channels,
        groups,
        villages,
      });
    }
  }
  return entries;
}

/**
 * The summed counts of the month-precision cells from the month `from` to the month `to`
 * (the workbench's failed and uncertain sends): the same cells as `cellEntries`, without
 * decoding any reached set (no distinct groups or villages, so no county index is needed).
 * Each county-year is parsed once per read of it (kept-county-years.ts).
 */
export async function cellCounts(
  kept: KeptCountyYears,
  filter: EntryFilter,
  from: string,
  to: string,
  counties?: string[],
): Promise<Counts> {
  const total = zeroCounts();
  for (const year of await kept.read(filter.base, yearsIn(from, to), counties)) {
    const { regionPath } = year.doc;
    for (const { month, townshipCode, category, counts } of KeptCountyYears.countsOf(year)) {
      if (month < from || month > to) continue;
      if (!wanted(filter, [...regionPath, townshipCode], category)) continue;
      addCounts(total, counts);
    }
  }
  return total;
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

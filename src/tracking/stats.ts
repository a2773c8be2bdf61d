// Reach statistics over the roll-ups (rollup-model.ts): read the entries a question needs
// (reach-read.ts), then group them in memory. Month-precision questions read one county-year
// document per county and year by `_id`; day- or campaign-precise ones read the ledgers' parts.
// Distinct groups and villages are unions of reached sets (tally.ts), so they stay exact
// however entries are combined.
import { InvalidInput } from '../lib/errors.js';
import type { Scope } from '../regions/scope.js';
import type { Region, RegionService } from '../regions/service.js';
import { visibleCampaign } from './campaign-lookup.js';
import type { Counts } from './counts.js';
import { countyIndexesFor } from './county-index.js';
import { type CrossCounty, crossCounty } from './cross-county.js';
import { KeptCountyYears } from './kept-county-years.js';
import { dayEntries, daysReady } from './reach-days.js';
import { monthDocId, monthsReady, readMonth } from './reach-months.js';
import { cellCounts, cellEntries, partEntries, type ReachEntry } from './reach-read.js';
import { type ReachFigures, Tally } from './tally.js';

export type { ReachFigures } from './tally.js';

export const DIMENSIONS = ['day', 'month', 'region', 'county', 'township', 'category', 'campaign'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export interface ReachQuery {
  /** 'YYYY-MM' or 'YYYY-MM-DD'; both ends of the same form, inclusive. */
  from: string;
  to: string;
  groupBy: Dimension[];
  regionCode?: string;
  category?: string;
  campaignId?: string;
}

export interface ReachRow extends ReachFigures {
  day?: string;
  month?: string;
  regionCode?: string;
  regionName?: string;
  countyCode?: string;
  townshipCode?: string;
  category?: string;
  campaignId?: string;
}

export interface ReachReport {
  from: string;
  to: string;
  groupBy: Dimension[];
  regionCode: string;
  totals: ReachFigures;
  rows: ReachRow[];
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
export const MAX_DAYS = 366;
export const MAX_MONTHS = 60;
/** Regions whose monthly table a month summary answers (reach-months.ts). */
const ABOVE_COUNTY: ReadonlySet<string> = new Set(['country', 'province', 'city']);

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
}

function monthsBetween(from: string, to: string): number {
  const [fy, fm] = from.split('-').map(Number) as [number, number];
  const [ty, tm] = to.split('-').map(Number) as [number, number];
  return (ty - fy) * 12 + (tm - fm) + 1;
}

/** Checks a period range; an open, inverted or too long range is refused. */
export function checkRange(from: string, to: string): 'day' | 'month' {
  const kind = DAY.test(from) ? 'day' : MONTH.test(from) ? 'month' : null;
  if (!kind) throw new InvalidInput('开始日期应为 YYYY-MM-DD 或 YYYY-MM', 'from');
  if (!(kind === 'day' ? DAY : MONTH).test(to)) {
    throw new InvalidInput(
      kind === 'day' ? '结束日期应为 YYYY-MM-DD（与开始日期同一格式）' : '结束月份应为 YYYY-MM（与开始月份同一格式）',
      'to',
    );
  }
  if (kind === 'day' && Number.isNaN(Date.parse(`${from}T00:00:00Z`))) throw new InvalidInput('开始日期无效', 'from');
  if (kind === 'day' && Number.isNaN(Date.parse(`${to}T00:00:00Z`))) throw new InvalidInput('结束日期无效', 'to');
  if (to < from) throw new InvalidInput('结束日期早于开始日期', 'to');
  if (kind === 'day' && daysBetween(from, to) > MAX_DAYS) {
    throw new InvalidInput(`按日查询的范围最多 ${MAX_DAYS} 天，请缩短范围或按月查询`, 'to');
  }
  if (kind === 'month' && monthsBetween(from, to) > MAX_MONTHS) {
    throw new InvalidInput(`按月查询的范围最多 ${MAX_MONTHS} 个月`, 'to');
  }
  return kind;
}

export class ReachStats {
  /** The county-years and scopes month questions read, kept while the fold's log names none of them. */
  private readonly kept = new KeptCountyYears();

  constructor(private readonly regions: RegionService) {}

  async report(scope: Scope, query: ReachQuery): Promise<ReachReport> {
    const [report] = await this.reports(scope, query, [query.groupBy]);
    return report!;
  }

  /**
   * Several breakdowns of one question (the monthly table's townships and categories) from
   * one read of the entries: each document the question needs is read once, not once a breakdown.
   */
  async reports(scope: Scope, query: Omit<ReachQuery, 'groupBy'>, breakdowns: Dimension[][]): Promise<ReachReport[]> {
    const kind = checkRange(query.from, query.to);
    const groupBys = breakdowns.map((groupBy) => [...new Set(groupBy)]);
    const base = query.regionCode ?? scope.regionCode;
    // Throws NotFound for a region outside the caller's scope.
    const region = query.regionCode ? await this.regions.get(scope, query.regionCode) : null;
    if (query.campaignId) await visibleCampaign(this.regions, scope, query.campaignId);
    const summary = await this.fromMonthSummary(scope, base, kind, query, groupBys, region);
    if (summary) return summary;

    const entries = await this.entries(scope, base, kind, query, [...new Set(groupBys.flat())], region);
    const grouped = groupBys.map((groupBy) => {
      const totals = new Tally();
      const rows = new Map<string, { row: ReachRow; tally: Tally }>();
      for (const entry of entries) {
        totals.add(entry.countyCode, entry);
        const row = this.rowKeys(entry, groupBy, base);
        // Sorts like the rows' JSON (same keys in the same order), without building it.
        const key = Object.values(row).join('\u0001');
        let group = rows.get(key);
        if (!group) {
          group = { row, tally: new Tally() };
          rows.set(key, group);
        }
        group.tally.add(entry.countyCode, entry);
      }
      return { groupBy, totals, rows };
    });
    // Unions across counties count each county's bitmap and subtract the groups several
    // county indexes number (this process's copies of the indexes while their stored lengths
    // are unchanged; read after the entries).
    const counties = grouped[0]?.totals.counties ?? [];
    const cross: CrossCounty | null = counties.length > 1 ? crossCounty(await countyIndexesFor(counties)) : null;
    const out: ReachReport[] = [];
    for (const { groupBy, totals, rows } of grouped) {
      const names = groupBy.includes('region')
        ? await this.regionNames([...rows.values()].map((e) => e.row.regionCode!))
        : null;
      // Default sort compares UTF-16 code units, like < on strings.
      const list = [...rows.keys()].sort().map((key) => {
        const { row, tally } = rows.get(key)!;
        if (names) row.regionName = names.get(row.regionCode!) ?? row.regionCode!;
        return Object.assign(row, tally.figures(cross));
      });
      out.push({
        from: query.from,
        to: query.to,
        groupBy,
        regionCode: base,
        totals: totals.figures(cross),
        rows: list,
      });
    }
    return out;
  }

  /**
   * A month's townships and categories (the monthly table) of a region above a county from its
   * month summary (reach-months.ts): one document by `_id`, no county-year. Null when the
   * question is not one a summary answers (a county or below, several months, a category or
   * campaign filter, other breakdowns) or the summaries are not built yet.
   */
  private async fromMonthSummary(
    scope: Scope,
    base: string,
    kind: 'day' | 'month',
    query: Omit<ReachQuery, 'groupBy'>,
    groupBys: Dimension[][],
    region: Region | null,
  ): Promise<ReachReport[] | null> {
    if (kind !== 'month' || query.from !== query.to || query.campaignId || query.category) return null;
    if (!groupBys.every((g) => g.length === 0 || (g.length === 1 && (g[0] === 'township' || g[0] === 'category'))))
      return null;
    const at = region ?? (await this.regions.find(base));
    if (!at || !ABOVE_COUNTY.has(at.level) || !(await monthsReady())) return null;
    // Kept per process while the county-years' log names it not (kept-county-years.ts).
    const month = await this.kept.month(monthDocId(base, query.from), () => readMonth(base, query.from));
    const inScope = (county: string) => {
      const path = month.paths.get(county);
      if (!path) return false;
      return path.includes(base) && scope.contains(path);
    };
    const cells = month.cells.filter((cell) => inScope(cell.townshipCode));
    const totals = new Tally();
    const byCategory = new Map<string, Tally>();
    for (const cell of cells) {
      totals.add(cell.townshipCode, cell);
      let tally = byCategory.get(cell.category);
      if (!tally) {
        tally = new Tally();
        byCategory.set(cell.category, tally);
      }
      tally.add(cell.townshipCode, cell);
    }
    const counties = totals.counties;
    const cross: CrossCounty | null = counties.length > 1 ? crossCounty(await countyIndexesFor(counties)) : null;
    const totalFigures = totals.figures(cross);
    return groupBys.map((groupBy) => {
      // No breakdown: one row of everything (as from the entries), none when nothing was sent.
      let rows: ReachRow[] = cells.length > 0 ? [{ ...totals.figures(cross) }] : [];
      if (groupBy[0] === 'township') {
        rows = month.rows
          .filter((row) => inScope(row.county))
          .sort((a, b) => (a.township < b.township ? -1 : a.township > b.township ? 1 : 0))
          .map((row) => ({ townshipCode: row.township, ...row.figures }));
      } else if (groupBy[0] === 'category') {
        rows = [...byCategory.keys()].sort().map((category) => ({
          category,
          ...byCategory.get(category)!.figures(cross),
        }));
      }
      return { from: query.from, to: query.to, groupBy, regionCode: base, totals: totalFigures, rows };
    });
  }

  /**
   * The month's summed delivery counts in the caller's scope (the workbench's failed and
   * uncertain): the report's cells without the distinct groups and villages, so no county
   * index is read and no reached set decoded.
   */
  async monthCounts(scope: Scope, month: string): Promise<Counts> {
    checkRange(month, month);
    return cellCounts(this.kept, { scope, base: scope.regionCode }, month, month);
  }

  /**
   * The cells of the county-years when they can answer the question; day-precise questions
   * without a campaign from the day documents (reach-days.ts) once they are built; the
   * ledgers' parts otherwise.
   */
  private async entries(
    scope: Scope,
    base: string,
    kind: 'day' | 'month',
    query: Omit<ReachQuery, 'groupBy'>,
    groupBy: Dimension[],
    region: Region | null,
  ): Promise<ReachEntry[]> {
    const filter = { scope, base, category: query.category };
    const monthsAnswer =
      kind === 'month' && !query.campaignId && !groupBy.includes('day') && !groupBy.includes('campaign');
    // A county asked for by code is its own only county: no need to look its counties up.
    const counties = region?.level === 'county' ? [region.code] : undefined;
    if (monthsAnswer) return cellEntries(this.kept, filter, query.from, query.to, counties);
    const [from, to] = kind === 'day' ? [query.from, query.to] : [`${query.from}-01`, `${query.to}-31`];
    // The day documents hold no campaign: a campaign's figures or rows by campaign come from the ledgers.
    if (!query.campaignId && !groupBy.includes('campaign') && (await daysReady())) {
      const at = region ?? (await this.regions.find(base));
      if (at) {
        const baseLevel =
          at.level === 'county' ? 'county' : at.level === 'township' || at.level === 'village' ? 'below' : 'above';
        return dayEntries(filter, from, to, { baseLevel, townships: groupBy.includes('township') });
      }
    }
    return partEntries(filter, from, to, query.campaignId);
  }

  private rowKeys(doc: ReachEntry, groupBy: Dimension[], base: string): ReachRow {
    const row: ReachRow = {} as ReachRow;
    for (const dim of groupBy) {
      if (dim === 'day') row.day = doc.day!;
      else if (dim === 'month') row.month = doc.month;
      else if (dim === 'category') row.category = doc.category;
      else if (dim === 'campaign') row.campaignId = doc.campaignId!;
      else if (dim === 'county') row.countyCode = doc.countyCode;
      else if (dim === 'township') row.townshipCode = doc.townshipCode;
      else {
        // One level below the region asked about; a township is as fine as the roll-ups go.
        const at = doc.regionPath.indexOf(base);
        row.regionCode = doc.regionPath[at + 1] ?? base;
      }
    }
    return row;
  }

  private async regionNames(codes: string[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    for (const code of new Set(codes)) {
      const region = await this.regions.find(code);
      if (region) names.set(code, region.name);
    }
    return names;
  }
}

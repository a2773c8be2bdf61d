// Reach statistics over the pre-aggregated buckets (rollup-model.ts): filter, then group in
// memory. The buckets are few (a county-year has 1,428 month buckets), so a read is one
// query and a pass over small documents; distinct groups and villages are unions of the
// buckets' sets, so they stay exact however the buckets are combined.
import { InvalidInput } from '../lib/errors.js';
import type { Scope } from '../regions/scope.js';
import type { RegionService } from '../regions/service.js';
import { visibleCampaign } from './campaign-lookup.js';
import { COUNT_KEYS, type Counts, ReachLedgerModel, ReachMonthModel, zeroCounts } from './rollup-model.js';
import type { Part } from './rollups.js';

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

export interface ReachFigures {
  deliveries: number;
  /** Messages that reached a group: sent by a robot or confirmed by the officer. */
  messages: number;
  sent: number;
  confirmed: number;
  awaiting: number;
  failed: number;
  uncertain: number;
  skipped: number;
  pending: number;
  groupsReached: number;
  villagesReached: number;
  personTimes: number;
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

interface BucketDoc extends Counts {
  month: string;
  day?: string;
  category: string;
  campaignId?: string;
  townshipCode: string;
  countyCode: string;
  regionPath: string[];
  groups: string[];
  villages: string[];
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
export const MAX_DAYS = 366;
export const MAX_MONTHS = 60;

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

export function figuresOf(counts: Counts, groups: number, villages: number): ReachFigures {
  return {
    deliveries: counts.total,
    messages: counts.sent + counts.confirmed,
    sent: counts.sent,
    confirmed: counts.confirmed,
    awaiting: counts.awaiting,
    failed: counts.failed,
    uncertain: counts.uncertain,
    skipped: counts.skipped,
    pending: counts.pending,
    groupsReached: groups,
    villagesReached: villages,
    personTimes: counts.reachedMembers,
  };
}

class Tally {
  readonly counts = zeroCounts();
  readonly groups = new Set<string>();
  readonly villages = new Set<string>();

  add(doc: BucketDoc): void {
    for (const key of COUNT_KEYS) this.counts[key] += doc[key];
    for (const g of doc.groups) this.groups.add(g);
    for (const v of doc.villages) this.villages.add(v);
  }

  figures(): ReachFigures {
    return figuresOf(this.counts, this.groups.size, this.villages.size);
  }
}

export class ReachStats {
  constructor(private readonly regions: RegionService) {}

  async report(scope: Scope, query: ReachQuery): Promise<ReachReport> {
    const kind = checkRange(query.from, query.to);
    const groupBy = [...new Set(query.groupBy)];
    const base = query.regionCode ?? scope.regionCode;
    // Throws NotFound for a region outside the caller's scope.
    if (query.regionCode) await this.regions.get(scope, query.regionCode);
    if (query.campaignId) await visibleCampaign(this.regions, scope, query.campaignId);

    const docs = await this.buckets(scope, base, kind, query, groupBy);
    const totals = new Tally();
    const rows = new Map<string, { row: ReachRow; tally: Tally }>();
    for (const doc of docs) {
      totals.add(doc);
      const row = this.rowKeys(doc, groupBy, base);
      const key = JSON.stringify(row);
      const entry = rows.get(key) ?? { row, tally: new Tally() };
      rows.set(key, entry);
      entry.tally.add(doc);
    }
    const names = groupBy.includes('region')
      ? await this.regionNames([...rows.values()].map((e) => e.row.regionCode!))
      : null;
    const out = [...rows.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, { row, tally }]) => ({
        ...row,
        ...(names ? { regionName: names.get(row.regionCode!) ?? row.regionCode! } : {}),
        ...tally.figures(),
      }));
    return { from: query.from, to: query.to, groupBy, regionCode: base, totals: totals.figures(), rows: out };
  }

  /** The buckets of the query: month buckets when they can answer it, day buckets otherwise. */
  private async buckets(
    scope: Scope,
    base: string,
    kind: 'day' | 'month',
    query: ReachQuery,
    groupBy: Dimension[],
  ): Promise<BucketDoc[]> {
    const where: Record<string, unknown>[] = [scope.filter()];
    if (base !== scope.regionCode) where.push({ regionPath: base });
    if (query.category) where.push({ category: query.category });
    const monthsAnswer =
      kind === 'month' && !query.campaignId && !groupBy.includes('day') && !groupBy.includes('campaign');
    const projection = {
      _id: 0,
      groups: 1,
      villages: 1,
      category: 1,
      townshipCode: 1,
      countyCode: 1,
      regionPath: 1,
      month: 1,
    };
    const counts = Object.fromEntries(COUNT_KEYS.map((k) => [k, 1]));
    if (monthsAnswer) {
      where.push({ month: { $gte: query.from, $lte: query.to } });
      return ReachMonthModel.find({ $and: where }, { ...projection, ...counts }).lean<BucketDoc[]>();
    }
    // Day or campaign precision: the buckets' parts (one per batch) carry day and campaign.
    const [from, to] = kind === 'day' ? [query.from, query.to] : [`${query.from}-01`, `${query.to}-31`];
    where.push({ month: { $gte: from.slice(0, 7), $lte: to.slice(0, 7) } });
    const ledgers = await ReachLedgerModel.find({ $and: where }, { ...projection, parts: 1 }).lean<
      Array<Omit<BucketDoc, keyof Counts | 'groups' | 'villages'> & { parts: Part[] }>
    >();
    const docs: BucketDoc[] = [];
    for (const { parts, ...keys } of ledgers) {
      for (const part of parts) {
        if (part.day < from || part.day > to) continue;
        if (query.campaignId && part.campaignId !== query.campaignId) continue;
        docs.push({ ...keys, ...part });
      }
    }
    return docs;
  }

  private rowKeys(doc: BucketDoc, groupBy: Dimension[], base: string): ReachRow {
    const row: ReachRow = {} as ReachRow;
    for (const dim of groupBy) {
      if (dim === 'day') row.day = doc.day!;
      else if (dim === 'month') row.month = doc.month;
      else if (dim === 'category') row.category = doc.category;
      else if (dim === 'campaign') row.campaignId = doc.campaignId!;
      else if (dim === 'county') row.countyCode = doc.countyCode;
      else if (dim === 'township') row.townshipCode = doc.townshipCode;
      else {
        // One level below the region asked about; a township is as fine as buckets go.
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

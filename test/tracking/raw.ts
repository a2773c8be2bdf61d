// Reach figures counted straight from the raw delivery items, without the roll-ups: the
// independent answer every statistic is compared with.
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import type { ReachFigures } from '../../src/tracking/tally.js';

export interface RawBatch {
  day: string;
  month: string;
  category: string;
  campaignId: string;
  countyCode: string;
  townshipCode: string;
  regionPath: string[];
  items: Array<{ status?: string | null; groupId: string; villageCode: string; memberCount: number; channel: string }>;
}

export type Figures = ReachFigures;

export async function rawBatches(): Promise<RawBatch[]> {
  return DeliveryBatchModel.find({}).lean<RawBatch[]>();
}

/** Adds up raw batches one at a time (a benchmark streams a million deliveries through it). */
export class RawTally {
  private readonly figures: Figures = {
    deliveries: 0,
    messages: 0,
    sent: 0,
    confirmed: 0,
    awaiting: 0,
    failed: 0,
    uncertain: 0,
    skipped: 0,
    pending: 0,
    groupsReached: 0,
    villagesReached: 0,
    personTimes: 0,
    channels: {},
  };
  private readonly groups = new Set<string>();
  private readonly villages = new Set<string>();

  add(batch: Pick<RawBatch, 'items'>): void {
    const out = this.figures;
    for (const item of batch.items) {
      out.deliveries += 1;
      const s = item.status ?? 'pending';
      out.channels[item.channel] = (out.channels[item.channel] ?? 0) + (s === 'sent' || s === 'confirmed' ? 1 : 0);
      if (s === 'pending' || s === 'sending') out.pending += 1;
      else out[s as 'sent' | 'confirmed' | 'awaiting' | 'failed' | 'uncertain' | 'skipped'] += 1;
      if (s === 'sent' || s === 'confirmed') {
        out.messages += 1;
        out.personTimes += item.memberCount;
        this.groups.add(item.groupId);
        this.villages.add(item.villageCode);
      }
    }
  }

  result(): Figures {
    return {
      ...this.figures,
      channels: { ...this.figures.channels },
      groupsReached: this.groups.size,
      villagesReached: this.villages.size,
    };
  }
}

export function countBatches(batches: readonly RawBatch[], filter: (b: RawBatch) => boolean = () => true): Figures {
  const tally = new RawTally();
  for (const batch of batches) if (filter(batch)) tally.add(batch);
  return tally.result();
}

/** Counted from the raw items in the database now. */
export async function countRaw(filter: (b: RawBatch) => boolean = () => true): Promise<Figures> {
  return countBatches(await rawBatches(), filter);
}

export interface RawQuery {
  /** The caller's scope and the region asked about. */
  scope: string;
  base: string;
  from: string;
  to: string;
  groupBy: Array<'day' | 'month' | 'region' | 'county' | 'township' | 'category'>;
  category?: string;
}

type RowKeys = Partial<Record<'day' | 'month' | 'regionCode' | 'countyCode' | 'townshipCode' | 'category', string>>;

/** The report the endpoint should give, grouped from the raw batches (days when `from` is a day, else months). */
export function expectedReport(
  batches: readonly RawBatch[],
  q: RawQuery,
): { totals: Figures; rows: Array<RowKeys & Figures> } {
  const period = (b: RawBatch) => (q.from.length === 10 ? b.day : b.month);
  const inQuery = (b: RawBatch) =>
    b.regionPath.includes(q.scope) &&
    b.regionPath.includes(q.base) &&
    period(b) >= q.from &&
    period(b) <= q.to &&
    (!q.category || b.category === q.category);
  const keyOf = (b: RawBatch) => {
    const row: RowKeys = {};
    for (const dim of q.groupBy) {
      if (dim === 'day') row.day = b.day;
      else if (dim === 'month') row.month = b.month;
      else if (dim === 'county') row.countyCode = b.countyCode;
      else if (dim === 'township') row.townshipCode = b.townshipCode;
      else if (dim === 'category') row.category = b.category;
      else row.regionCode = b.regionPath[b.regionPath.indexOf(q.base) + 1] ?? q.base;
    }
    return row;
  };
  const keys = new Map<string, RowKeys>();
  for (const b of batches.filter(inQuery)) keys.set(JSON.stringify(keyOf(b)), keyOf(b));
  const rows = [...keys.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, row]) => ({ ...row, ...countBatches(batches, (b) => inQuery(b) && JSON.stringify(keyOf(b)) === key) }));
  return { totals: countBatches(batches, inQuery), rows };
}

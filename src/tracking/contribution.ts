// What one batch adds to the statistics, computed from its items (the source of truth),
// the same way countItems() derives a batch's counts.
import type { BatchItem } from './model.js';
import { type Counts, zeroCounts } from './rollup-model.js';

export interface BatchKeys {
  _id: string;
  campaignId: string;
  category: string;
  day: string;
  month: string;
  townshipCode: string;
  countyCode: string;
  regionPath: string[];
}

export interface Contribution extends BatchKeys, Counts {
  groups: string[];
  villages: string[];
}

export function isReached(status: string): boolean {
  return status === 'sent' || status === 'confirmed';
}

export function contributionOf(batch: BatchKeys & { items: readonly BatchItem[] }): Contribution {
  const counts = zeroCounts();
  const groups = new Set<string>();
  const villages = new Set<string>();
  for (const item of batch.items) {
    counts.total += 1;
    const status = item.status ?? 'pending';
    if (status === 'pending' || status === 'sending') counts.pending += 1;
    else counts[status as Exclude<typeof status, 'pending' | 'sending'>] += 1;
    if (isReached(status)) {
      counts.reachedMembers += item.memberCount;
      groups.add(item.groupId);
      villages.add(item.villageCode);
    }
  }
  return {
    _id: batch._id,
    campaignId: batch.campaignId,
    category: batch.category,
    day: batch.day,
    month: batch.month,
    townshipCode: batch.townshipCode,
    countyCode: batch.countyCode,
    regionPath: [...batch.regionPath],
    ...counts,
    groups: [...groups].sort(),
    villages: [...villages].sort(),
  };
}

export const monthBucketId = (c: BatchKeys) => `${c.month}|${c.townshipCode}|${c.category}`;

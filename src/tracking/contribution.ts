// What one batch adds to the statistics, computed from its items (the source of truth),
// counted by countDelivery() like a batch's own counts (countItems()).
import { type Counts, countDelivery, zeroCounts } from './counts.js';
import type { BatchItem } from './model.js';

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

export interface Contribution extends BatchKeys {
  counts: Counts;
  /** Distinct groups and villages reached (sent or confirmed). */
  groups: string[];
  villages: string[];
  /** Every group and village the batch delivers to, reached or not. */
  audience: { groups: string[]; villages: string[] };
}

/** The batch fields a contribution is computed from (a projection for reading batches). */
export const CONTRIBUTION_FIELDS = {
  campaignId: 1,
  category: 1,
  day: 1,
  month: 1,
  townshipCode: 1,
  countyCode: 1,
  regionPath: 1,
  'items.status': 1,
  'items.groupId': 1,
  'items.villageCode': 1,
  'items.memberCount': 1,
} as const;

type ItemFields = Pick<BatchItem, 'status' | 'groupId' | 'villageCode' | 'memberCount'>;

export function contributionOf(batch: BatchKeys & { items: readonly ItemFields[] }): Contribution {
  const counts = zeroCounts();
  const groups = new Set<string>();
  const villages = new Set<string>();
  const audience = { groups: new Set<string>(), villages: new Set<string>() };
  for (const item of batch.items) {
    audience.groups.add(item.groupId);
    audience.villages.add(item.villageCode);
    if (countDelivery(counts, item)) {
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
    counts,
    groups: [...groups],
    villages: [...villages],
    audience: { groups: [...audience.groups], villages: [...audience.villages] },
  };
}

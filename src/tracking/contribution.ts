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

/**
 * Messages per channel (sent + confirmed, the 发送消息数 of the monthly table), keyed by the
 * item's channel kind; every channel the batch delivers by has an entry, 0 while none of its
 * deliveries reached their group (awaiting, failed, over the cap). Sums to counts.sent + counts.confirmed.
 */
export type ChannelMessages = Record<string, number>;

export interface Contribution extends BatchKeys {
  counts: Counts;
  channels: ChannelMessages;
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
  'items.channel': 1,
} as const;

type ItemFields = Pick<BatchItem, 'status' | 'groupId' | 'villageCode' | 'memberCount' | 'channel'>;

export function contributionOf(batch: BatchKeys & { items: readonly ItemFields[] }): Contribution {
  const counts = zeroCounts();
  const groups = new Set<string>();
  const villages = new Set<string>();
  const channels: ChannelMessages = {};
  const audience = { groups: new Set<string>(), villages: new Set<string>() };
  for (const item of batch.items) {
    audience.groups.add(item.groupId);
    audience.villages.add(item.villageCode);
    const reached = countDelivery(counts, item);
    channels[item.channel] = (channels[item.channel] ?? 0) + (reached ? 1 : 0);
    if (reached) {
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
    channels,
    groups: [...groups],
    villages: [...villages],
    audience: { groups: [...audience.groups], villages: [...audience.villages] },
  };
}

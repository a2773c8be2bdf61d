// The counted figures of a batch's part or a cell of the statistics: deliveries, one count
// per final-or-queued status (`sending` counts as pending), and members of the groups
// reached. One fixed order: the packed documents store the counts as a vector in this
// order (a new status changes it, so it needs a new roll-up layout, rollups.ts).
import { type BatchCounts, type BatchItem, DELIVERY_STATUSES, type DeliveryStatus } from './model.js';

type CountedStatus = Exclude<DeliveryStatus, 'sending'>;
export type CountKey = 'total' | CountedStatus | 'reachedMembers';
export type Counts = Record<CountKey, number>;

export const COUNT_KEYS: readonly CountKey[] = [
  'total',
  ...DELIVERY_STATUSES.filter((s): s is CountedStatus => s !== 'sending'),
  'reachedMembers',
];

const ZERO = Object.freeze(Object.fromEntries(COUNT_KEYS.map((key) => [key, 0])) as Counts);

/** Reports make one per cell: copying one fixed object (~0.1 µs) is ~8× cheaper than building it from COUNT_KEYS. */
export function zeroCounts(): Counts {
  return { ...ZERO };
}

export function addCounts(into: Counts, more: Counts): void {
  for (const key of COUNT_KEYS) into[key] += more[key];
}

/**
 * Counts one delivery into `counts`: its status (`sending` counts as pending) and, when it
 * reached its group (sent or confirmed), the group's members. Returns whether it reached it.
 */
export function countDelivery(counts: Counts, item: Pick<BatchItem, 'status' | 'memberCount'>): boolean {
  const status = (item.status ?? 'pending') as DeliveryStatus;
  counts.total += 1;
  counts[status === 'sending' ? 'pending' : status] += 1;
  const reached = status === 'sent' || status === 'confirmed';
  if (reached) counts.reachedMembers += item.memberCount;
  return reached;
}

/** A batch's counts, derived from its items on every write so they never disagree. */
export function countItems(items: readonly BatchItem[]): BatchCounts {
  const counts = zeroCounts();
  const villages = new Set<string>();
  for (const item of items) if (countDelivery(counts, item)) villages.add(item.villageCode);
  return { ...counts, reachedVillages: villages.size };
}

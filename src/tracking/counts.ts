// The counted figures of a batch's part or a cell of the statistics: deliveries, one count
// per final-or-queued status (`sending` counts as pending), and members of the groups
// reached. One fixed order: the packed documents store the counts as a vector in this
// order (a new status changes it, so it needs a new roll-up layout, rollups.ts).
import { DELIVERY_STATUSES, type DeliveryStatus } from './model.js';

type CountedStatus = Exclude<DeliveryStatus, 'sending'>;
export type CountKey = 'total' | CountedStatus | 'reachedMembers';
export type Counts = Record<CountKey, number>;

export const COUNT_KEYS: readonly CountKey[] = [
  'total',
  ...DELIVERY_STATUSES.filter((s): s is CountedStatus => s !== 'sending'),
  'reachedMembers',
];

export function zeroCounts(): Counts {
  // A literal (not built from COUNT_KEYS): reports make one per cell, and objects of one
  // fixed shape are much cheaper; `satisfies` fails to compile when a status is added.
  return {
    total: 0,
    pending: 0,
    sent: 0,
    failed: 0,
    uncertain: 0,
    awaiting: 0,
    confirmed: 0,
    skipped: 0,
    reachedMembers: 0,
  } satisfies Counts;
}

export function addCounts(into: Counts, more: Counts): void {
  for (const key of COUNT_KEYS) into[key] += more[key];
}

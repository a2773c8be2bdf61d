// Reads the changed batches a refresh folds, each by `_id` (FerretDB answers an `_id` lookup
// from its index, docs/ferretdb.md), in pages: what a refresh costs grows with the batches that
// changed, never with the ledger's history. (Before issue 25, more than 64 changed batches
// were read in one pass over the whole batch collection, which a month in holds every run's
// batches: during a province dispatch almost every refresh read all of them.)
import { mapLimit } from '../lib/concurrency.js';
import { CONTRIBUTION_FIELDS, type Contribution, contributionOf } from './contribution.js';
import { type BatchDoc, DeliveryBatchModel } from './model.js';

/** `_id` lookups in flight at once. */
const LOOKUPS_AT_ONCE = 8;
/** Batches read between two asks of `keep`, so a long refresh renews the lease and stops when it is lost. */
export const CHANGED_PAGE = 500;

type Batch = BatchDoc & { _id: string };

export class LeaseLost extends Error {
  constructor() {
    super('the roll-up lease was taken over');
  }
}

/**
 * Calls `onBatch` with each batch of `batchIds` that exists and returns the ids of those
 * that do not. Throws LeaseLost when `keep` answers false between two pages.
 */
export async function readChangedBatches(
  batchIds: readonly string[],
  onBatch: (contribution: Contribution) => Promise<void>,
  keep: () => Promise<boolean>,
): Promise<string[]> {
  const wanted = [...new Set(batchIds)];
  const gone: string[] = [];
  for (let at = 0; at < wanted.length; at += CHANGED_PAGE) {
    if (at > 0 && !(await keep())) throw new LeaseLost();
    const page = wanted.slice(at, at + CHANGED_PAGE);
    const found = await mapLimit(page, LOOKUPS_AT_ONCE, (id) =>
      DeliveryBatchModel.findById(id, CONTRIBUTION_FIELDS).lean<Batch>(),
    );
    for (let i = 0; i < page.length; i += 1) {
      const batch = found[i];
      if (batch) await onBatch(contributionOf(batch));
      else gone.push(page[i]!);
    }
  }
  return gone;
}

// Reads the changed batches a refresh folds. On FerretDB 1.24 even an `_id` lookup reads
// every row of the batch collection up to `_id` (its pushdown does not use the `_id`
// index), and a pass over the collection decodes every batch: measured, one pass costs
// about as much as ~90 lookups, whatever the collection's size. So a few changed batches
// are looked up one by one and a backlog (a sweep, a bulk load) is read in one pass.
import { mapLimit } from '../lib/concurrency.js';
import { CONTRIBUTION_FIELDS, type Contribution, contributionOf } from './contribution.js';
import { type BatchDoc, DeliveryBatchModel } from './model.js';

const LOOKUP_MAX = 64;
const LOOKUPS_AT_ONCE = 4;
/** A pass asks `keep` this often, so a long one renews the lease and stops when it is lost. */
const KEEP_EVERY = 500;

type Batch = BatchDoc & { _id: string };

export class LeaseLost extends Error {
  constructor() {
    super('the roll-up lease was taken over');
  }
}

/**
 * Calls `onBatch` with each batch of `batchIds` that exists and returns the ids of those
 * that do not. Throws LeaseLost when `keep` answers false during a pass.
 */
export async function readChangedBatches(
  batchIds: readonly string[],
  onBatch: (contribution: Contribution) => Promise<void>,
  keep: () => Promise<boolean>,
): Promise<string[]> {
  const wanted = new Set(batchIds);
  if (wanted.size <= LOOKUP_MAX) {
    const gone: string[] = [];
    await mapLimit([...wanted], LOOKUPS_AT_ONCE, async (id) => {
      const batch = await DeliveryBatchModel.findById(id, CONTRIBUTION_FIELDS).lean<Batch>();
      if (batch) await onBatch(contributionOf(batch));
      else gone.push(id);
    });
    return gone;
  }
  let read = 0;
  const cursor = DeliveryBatchModel.find({}, CONTRIBUTION_FIELDS).lean<Batch[]>().cursor();
  for await (const batch of cursor as AsyncIterable<Batch>) {
    if (++read % KEEP_EVERY === 0 && !(await keep())) throw new LeaseLost();
    if (!wanted.delete(batch._id)) continue;
    await onBatch(contributionOf(batch));
  }
  return [...wanted];
}

// The only writer of delivery state. Every write of a batch is made by the holder of the
// batch's lease (a unique epoch claim, db/claims.ts), and rewrites items and counts together
// in one single-document update, so a batch is never half-written and its counts always
// match its items. The work list (QueueEntry) has one entry per batch with work due.
import { type Lease, acquireLease, claimMany, leaseTakenOver, SendAttemptModel } from '../db/claims.js';
import { countItems } from '../tracking/counts.js';
import { hotItems, withFixedItems } from '../tracking/batch-fixed.js';
import { type BatchDoc, type BatchItem, DeliveryBatchModel } from '../tracking/model.js';
import { runWriteDone, runWriteStarting } from '../tracking/run-generation.js';
import { QueueEntryModel } from './model.js';

export interface HeldBatch {
  batch: BatchDoc & { _id: string };
  lease: Lease;
  /**
   * False while the batch, as claimed or as this holder last wrote it, has a pending delivery:
   * no run summary can include it then (tracking/run-summaries.ts), so a write needs no bump
   * of the run's generation. Absent (or true): the next write bumps it.
   */
  settled?: boolean;
}

export const DEFAULT_LEASE_MS = 60_000;
/** How far apart two processes' clocks may be for the lease check in writeBatch. */
const LEASE_CLOCK_MARGIN_MS = 15_000;

/**
 * The due time of a parked entry: a batch of a paused (or edited, not yet re-approved)
 * campaign waits here, costing nothing, until resume or cancel puts it back (`requeueCampaign`).
 */
export const PARKED = new Date('9999-01-01T00:00:00Z');

const leaseKey = (batchId: string) => `batch:${batchId}`;

/** Batch ids with work due at `now`, urgent first. Small collection: only live batches. */
export async function dueBatchIds(now: Date, limit: number): Promise<string[]> {
  return (await dueBatches(now, limit)).map((entry) => entry.id);
}

/** Batches with work due at `now`, urgent first, each saying whether it is urgent. */
export async function dueBatches(now: Date, limit: number): Promise<{ id: string; urgent: boolean }[]> {
  const entries = await QueueEntryModel.find({ dueAt: { $lte: now } }, { _id: 1, rank: 1 })
    .sort({ rank: 1, dueAt: 1 })
    .limit(limit)
    .lean<{ _id: string; rank?: number }[]>();
  return entries.map((e) => ({ id: e._id, urgent: e.rank === 0 }));
}

export async function nextDueAt(): Promise<Date | null> {
  const entry = await QueueEntryModel.findOne({}, { dueAt: 1 }).sort({ dueAt: 1 }).lean<{ dueAt: Date }>();
  return entry?.dueAt ?? null;
}

/** Takes a batch's lease, or null when another live worker holds it. */
export async function claimBatch(
  batchId: string,
  owner: string,
  now: Date,
  leaseMs = DEFAULT_LEASE_MS,
): Promise<HeldBatch | null> {
  const batch = await DeliveryBatchModel.findById(batchId).lean<BatchDoc & { _id: string }>();
  if (!batch) {
    await QueueEntryModel.deleteOne({ _id: batchId });
    return null;
  }
  const current = batch.lease?.until ? { epoch: batch.lease.epoch, until: batch.lease.until } : null;
  // The lease is written onto the batch with the holder's first checkpoint, not here: a
  // claimer that reads an older epoch walks up the claimed epochs (one _id read each).
  const lease = await acquireLease(leaseKey(batchId), current, owner, now, leaseMs);
  if (!lease) {
    // A live holder renews its lease on the batch at each checkpoint, past the due time its
    // claim gave the entry: the entry comes due again only when that renewed lease would
    // lapse, so idle workers do not read the held batch on every look at the list.
    if (current && current.until > now)
      await QueueEntryModel.updateOne({ _id: batchId, dueAt: { $lte: now } }, { $set: { dueAt: current.until } });
    return null;
  }
  // Other workers look past a held batch (it comes due again when this lease would expire),
  // so any number of workers find work of their own in the first entries of the list.
  // The packed fixed part (names, robot, credentials), read once for the whole hold, is read
  // meanwhile (one wait for both).
  const [, whole] = await Promise.all([
    QueueEntryModel.updateOne({ _id: batchId }, { $set: { dueAt: lease.until } }),
    withFixedItems(batch),
  ]);
  return { batch: { ...whole, lease: { ...lease, owner } }, lease, settled: (batch.counts?.pending ?? 0) === 0 };
}

export function earliestDue(items: readonly BatchItem[]): Date | null {
  let earliest: Date | null = null;
  for (const item of items) {
    if (item.status !== 'pending') continue;
    const at = item.nextAt ?? new Date(0);
    if (!earliest || at < earliest) earliest = at;
  }
  return earliest;
}

/**
 * Writes the holder's view of a batch. `release` ends the lease (the batch may be taken
 * by anyone when next due; `park` leaves its entry parked instead). Returns false, writing
 * nothing, when the lease was taken over: the write is conditional on no later epoch
 * having written the batch (atomic on MongoDB; on FerretDB the claim check before it
 * narrows the window, and the stuck-batch sweep repairs what a stale write could leave).
 */
export async function writeBatch(
  held: HeldBatch,
  items: BatchItem[],
  now: Date,
  options: {
    release: boolean;
    renewMs?: number;
    park?: boolean;
    /** Tells the statistics (roll-up marker); a checkpoint may leave it to a later write. */
    written?: (batchIds: string[]) => Promise<void>;
    /** Records since when the batch is held (parked), or null once it is released; unchanged when absent. */
    heldSince?: Date | null;
  },
): Promise<boolean> {
  const id = held.batch._id;
  // Nobody can have taken a lease that has not lapsed yet (by any clock within the margin),
  // so the claim is looked up only for a holder that may have stalled past it.
  const mayHaveLapsed = now.getTime() >= held.lease.until.getTime() - LEASE_CLOCK_MARGIN_MS;
  if (mayHaveLapsed && (await leaseTakenOver(leaseKey(id), held.lease.epoch))) return false;
  const until = options.release ? now : new Date(now.getTime() + (options.renewMs ?? DEFAULT_LEASE_MS));
  const dueAt = earliestDue(items);
  const counts = countItems(items);
  // A batch with nothing pending may be in its run's summary: the summary is void from before
  // this write until after it (tracking/run-generation.ts). The dispatch's own writes skip this.
  const fence =
    held.settled !== false ? new Date(Math.max(until.getTime(), now.getTime()) + LEASE_CLOCK_MARGIN_MS) : null;
  if (fence) await runWriteStarting(held.batch.occurrenceId, fence);
  // The driver, not the model: the items are already what the schema stores (read lean,
  // changed by the worker), and mongoose's casting of a hundred items at every checkpoint
  // was most of a worker's CPU. `updatedAt` is what the model's timestamps would set.
  const result = await DeliveryBatchModel.collection.updateOne(
    { _id: id as never, 'lease.epoch': { $lte: held.lease.epoch } },
    {
      $set: {
        // The packed layout: only what changes; the fixed part was written once at planning.
        items: held.batch.fixedId ? hotItems(items) : items,
        counts,
        dueAt,
        lease: { epoch: held.lease.epoch, until, owner: held.batch.lease?.owner ?? null },
        ...(options.heldSince !== undefined ? { heldSince: options.heldSince } : {}),
        updatedAt: new Date(),
      },
    },
  );
  if (fence) await runWriteDone(held.batch.occurrenceId, fence);
  if (result.matchedCount === 0) return false;
  held.lease = { epoch: held.lease.epoch, until };
  held.settled = (counts?.pending ?? 0) === 0;
  if (!options.release) {
    await options.written?.([id]);
    return true;
  }
  // The roll-up marker and the entry's write depend only on the batch write: made at once.
  const marked = options.written?.([id]);
  // Awaited below; a failure must not go unhandled while the entry is written.
  marked?.catch(() => undefined);
  if (dueAt) {
    await QueueEntryModel.updateOne(
      { _id: id },
      {
        $set: {
          dueAt: options.park ? PARKED : dueAt,
          rank: held.batch.priority === 'urgent' ? 0 : 1,
          campaignId: held.batch.campaignId,
        },
      },
      { upsert: true },
    );
  } else {
    await QueueEntryModel.deleteOne({ _id: id });
  }
  await marked;
  return true;
}

/** Brings a released batch's entry forward to `now` (its campaign changed meanwhile). */
export async function expediteBatch(batch: HeldBatch['batch'], now: Date): Promise<void> {
  await QueueEntryModel.updateOne(
    { _id: batch._id },
    { $set: { dueAt: now, rank: batch.priority === 'urgent' ? 0 : 1, campaignId: batch.campaignId } },
    { upsert: true },
  );
}

/** The key of one send attempt of one delivery: inserting it is the right to send. */
export function attemptKey(deliveryId: string, attempt: number): string {
  return `${deliveryId}#${attempt}`;
}

/** Claims the next attempt of each delivery; the ones another worker already started are returned false. */
export async function claimAttempts(
  attempts: { deliveryId: string; attempt: number }[],
  owner: string,
  now: Date,
): Promise<Set<string>> {
  const keys = attempts.map((a) => attemptKey(a.deliveryId, a.attempt));
  return claimMany(keys, owner, now, SendAttemptModel);
}

export function deliveryId(occurrenceId: string, groupId: string): string {
  return `${occurrenceId}/${groupId}`;
}

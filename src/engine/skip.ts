// A stopped campaign's batches skipped in bulk (issue 25): when a campaign is cancelled or
// retracted, its batches that no worker holds are taken over here, a window at a time, and
// their pending deliveries recorded skipped with the reason, instead of one worker pass per
// batch (a cancelled province push left 1,432 batches for the workers to skip one by one,
// ahead of the normal sends). The rules are the worker's:
// - one writer per batch: we write a batch only holding its lease, taken by inserting the
//   next epoch's claim (`batch:<id>#<n>`, db/claims.ts); a batch whose claim we do not win
//   (a worker holds it, or took it between our read and our claim) is left to that holder,
//   and put on the work list so it is looked at now;
// - a pending delivery whose next attempt a previous holder (a worker that died) may have
//   claimed is uncertain, not skipped: for a batch held before (our epoch > 1) the next
//   attempt of each pending delivery is claimed, and one already taken is recorded uncertain;
// - the write is conditional on no later epoch having written the batch.
import { acquireLease, claimMany } from '../db/claims.js';
import { MAX_UPDATES_PER_COMMAND } from '../db/bulk.js';
import { countItems } from '../tracking/counts.js';
import { type BatchItem, DeliveryBatchModel } from '../tracking/model.js';
import { DEFAULT_LEASE_MS, attemptKey, deliveryId, earliestDue } from './queue.js';
import { QueueEntryModel } from './model.js';
import { SendAttemptModel } from '../db/claims.js';
import { mapLimited } from '../tracking/run-batches.js';
import { runWriteDone, runWriteStarting } from '../tracking/run-generation.js';

/**
 * Of attempt keys someone else claimed, those a stop claimed (a cancel or retraction killed
 * between its claim and its write): a stop posts nothing, so such an attempt was never sent.
 */
export async function claimedByStops(taken: string[]): Promise<string[]> {
  const claims = await mapLimited(taken, 8, (key) =>
    SendAttemptModel.findById(key, { owner: 1 }).lean<{ owner?: string }>(),
  );
  return taken.filter((_, k) => claims[k]?.owner?.startsWith(STOP_OWNER_PREFIX));
}

/** What a previous holder's unconfirmed attempt becomes (the worker's wording). */
export const TAKEN_OVER_REASON = '接管时发现未确认的发送（可能已发出）';
/** How a stop's claims are named (`stop-<pid>-<campaign>`): a stop never posts anything. */
export const STOP_OWNER_PREFIX = 'stop-';
/** Batches taken over per window (one claim insert, one read, bulk writes of 20). */
const WINDOW = 100;

export interface BulkSkipResult {
  /** Batches written here. */
  batches: number;
  /** Deliveries recorded skipped / uncertain here. */
  skipped: number;
  uncertain: number;
  /** Batches left to their holder (listed on the work list now). */
  leftToHolder: number;
}

interface LiveBatch {
  _id: string;
  priority: string;
  campaignId: string;
  lease?: { epoch?: number; until?: Date | null } | null;
}

/**
 * Skips the pending deliveries of these batches (a stopped campaign's, each with something
 * pending), in windows; `written` tells the statistics. Safe to repeat and to run beside
 * workers: a batch is written only under its lease.
 */
export async function skipBatchesInBulk(
  batches: readonly LiveBatch[],
  reason: string,
  now: Date,
  owner: string,
  written?: (batchIds: string[]) => Promise<void>,
): Promise<BulkSkipResult> {
  const result: BulkSkipResult = { batches: 0, skipped: 0, uncertain: 0, leftToHolder: 0 };
  for (let i = 0; i < batches.length; i += WINDOW) {
    const window = batches.slice(i, i + WINDOW);
    const leftToHolder: LiveBatch[] = [];
    // The next epoch of each batch not held now, claimed in one insert.
    const wanted = new Map<string, { batch: LiveBatch; epoch: number }>();
    for (const batch of window) {
      const until = batch.lease?.until ?? null;
      if (until && until > now) leftToHolder.push(batch);
      else
        wanted.set(`batch:${batch._id}#${(batch.lease?.epoch ?? 0) + 1}`, {
          batch,
          epoch: (batch.lease?.epoch ?? 0) + 1,
        });
    }
    const until = new Date(now.getTime() + DEFAULT_LEASE_MS);
    const won = await claimMany([...wanted.keys()], owner, now, undefined, until);
    const held = new Map<string, number>();
    for (const [key, { batch, epoch }] of wanted) {
      if (won.has(key)) {
        held.set(batch._id, epoch);
        continue;
      }
      // Taken: a worker holds a claim not yet written on the batch, or one that died did.
      // The claims are walked as a worker would (db/claims.ts acquireLease); a live one wins.
      const current = batch.lease?.until ? { epoch: batch.lease.epoch ?? 0, until: batch.lease.until } : null;
      const lease = await acquireLease(`batch:${batch._id}`, current, owner, now, DEFAULT_LEASE_MS);
      if (lease) held.set(batch._id, lease.epoch);
      else leftToHolder.push(batch);
    }
    if (held.size > 0) await skipHeld(held, reason, now, owner, result, written);
    result.leftToHolder += leftToHolder.length;
    for (let j = 0; j < leftToHolder.length; j += MAX_UPDATES_PER_COMMAND) {
      await QueueEntryModel.bulkWrite(
        leftToHolder.slice(j, j + MAX_UPDATES_PER_COMMAND).map((batch) => ({
          updateOne: {
            filter: { _id: batch._id },
            update: { $set: { dueAt: now, rank: batch.priority === 'urgent' ? 0 : 1, campaignId: batch.campaignId } },
            upsert: true,
          },
        })),
        { ordered: false },
      );
    }
  }
  return result;
}

/** Writes the batches whose lease we hold (id → epoch): pending → skipped (or uncertain), released. */
async function skipHeld(
  held: Map<string, number>,
  reason: string,
  now: Date,
  owner: string,
  result: BulkSkipResult,
  written?: (batchIds: string[]) => Promise<void>,
): Promise<void> {
  // By `_id` each (FerretDB answers `$in` by a scan), a few at once.
  const docs = (
    await mapLimited([...held.keys()], 8, (id) =>
      DeliveryBatchModel.findById(id).lean<{ _id: string; occurrenceId: string; items: BatchItem[] }>(),
    )
  ).filter((doc) => doc != null);
  // Batches held before: the next attempt of each pending delivery is claimed first; a
  // previous holder's claim means the delivery may have gone out.
  const attempts: string[] = [];
  for (const doc of docs) {
    if (held.get(doc._id)! <= 1) continue;
    for (const item of doc.items)
      if (item.status === 'pending')
        attempts.push(attemptKey(deliveryId(doc.occurrenceId, item.groupId), item.attempts + 1));
  }
  const ours = await claimMany(attempts, owner, now, SendAttemptModel);
  // A claim another stop took (a cancel killed before its write, then repeated) sent nothing.
  for (const key of await claimedByStops(attempts.filter((key) => !ours.has(key)))) ours.add(key);
  const writes = docs.map((doc) => {
    const epoch = held.get(doc._id)!;
    let skipped = 0;
    let uncertain = 0;
    const items = doc.items.map((item) => {
      if (item.status !== 'pending') return item;
      const attempt = item.attempts + 1;
      if (epoch > 1 && !ours.has(attemptKey(deliveryId(doc.occurrenceId, item.groupId), attempt))) {
        uncertain += 1;
        return { ...item, status: 'uncertain', attempts: attempt, lastError: TAKEN_OVER_REASON, nextAt: null };
      }
      skipped += 1;
      return { ...item, status: 'skipped', lastError: reason, nextAt: null };
    }) as BatchItem[];
    return { doc, epoch, items, skipped, uncertain };
  });
  // A batch with nothing pending may be in its run's summary: void it around the write
  // (tracking/run-generation.ts). A stop finds pending deliveries in the batches it takes.
  const fenceUntil = new Date(now.getTime() + DEFAULT_LEASE_MS);
  const fenced = [
    ...new Set(
      writes.filter(({ doc }) => !doc.items.some((i) => i.status === 'pending')).map(({ doc }) => doc.occurrenceId),
    ),
  ];
  for (const run of fenced) await runWriteStarting(run, fenceUntil);
  const done: string[] = [];
  for (let i = 0; i < writes.length; i += MAX_UPDATES_PER_COMMAND) {
    const these = writes.slice(i, i + MAX_UPDATES_PER_COMMAND);
    const outcome = await DeliveryBatchModel.collection.bulkWrite(
      these.map(({ doc, epoch, items }) => ({
        updateOne: {
          filter: { _id: doc._id as never, 'lease.epoch': { $lte: epoch } },
          update: {
            $set: {
              items,
              counts: countItems(items),
              dueAt: earliestDue(items),
              lease: { epoch, until: now, owner },
              heldSince: null,
              updatedAt: new Date(),
            },
          },
        },
      })),
      { ordered: false },
    );
    // Each write is conditional; the ones that matched are ours (re-read only if some did not).
    let landed = these;
    if (outcome.matchedCount !== these.length) {
      const check = await mapLimited(these, 8, ({ doc }) =>
        DeliveryBatchModel.findById(doc._id, { 'lease.epoch': 1, 'lease.owner': 1 }).lean<{
          lease?: { epoch?: number; owner?: string | null } | null;
        }>(),
      );
      landed = these.filter(
        ({ doc }, k) => check[k]?.lease?.owner === owner && check[k]?.lease?.epoch === held.get(doc._id),
      );
    }
    for (const write of landed) {
      done.push(write.doc._id);
      result.skipped += write.skipped;
      result.uncertain += write.uncertain;
    }
  }
  for (const run of fenced) await runWriteDone(run, fenceUntil);
  result.batches += done.length;
  if (done.length === 0) return;
  // Nothing is due in them any more: off the work list (an officer's later confirmation wakes
  // its batch again, as after a worker's release).
  await QueueEntryModel.deleteMany({ _id: { $in: done } });
  await written?.(done);
}

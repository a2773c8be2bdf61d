// How campaign state changes reach planned deliveries, without writing the batches (the
// lease holder is their only writer): the campaign's batches with something pending are put
// on the work list now (also batches parked while paused), so a worker looks at them and
// applies the campaign's state (skip, hold, send).
import type { DeliveryControl } from '../campaigns/ports.js';
import { MAX_UPDATES_PER_COMMAND } from '../db/bulk.js';
import type { Clock } from '../lib/clock.js';
import { DeliveryBatchModel } from '../tracking/model.js';
import { batchesOf } from '../tracking/run-batches.js';
import {
  campaignsWithNotice,
  groupsThatReceivedNotice,
  noticeWasPlanned,
  recipientIn,
} from '../tracking/recipients.js';
import { isDuplicateKey } from '../lib/errors.js';
import { BatchWakeModel, OccurrenceModel, PLANNING_WAKE, QueueEntryModel, SchedulerWakeModel } from './model.js';
import { openRun } from './open-runs.js';
import { type BulkSkipResult, STOP_OWNER_PREFIX, skipBatchesInBulk } from './skip.js';

/**
 * Puts every batch of the campaign that still has a pending delivery on the work list, due
 * `now` (an entry may exist, with a later due time, or not: a parked batch). Returns the
 * pending deliveries found.
 */
export async function requeueCampaign(campaignId: string, now: Date): Promise<number> {
  // The campaign's own batches by `_id` (tracking/run-batches.ts), not a scan of the ledger.
  const batches = await batchesOf<{ _id: string; priority: string; counts?: { pending?: number } }>(campaignId, {
    _id: 1,
    priority: 1,
    'counts.pending': 1,
  });
  const live = batches.filter((batch) => (batch.counts?.pending ?? 0) > 0);
  for (let i = 0; i < live.length; i += MAX_UPDATES_PER_COMMAND) {
    await QueueEntryModel.bulkWrite(
      live.slice(i, i + MAX_UPDATES_PER_COMMAND).map((batch) => ({
        updateOne: {
          filter: { _id: batch._id },
          update: { $set: { dueAt: now, rank: batch.priority === 'urgent' ? 0 : 1, campaignId } },
          upsert: true,
        },
      })),
      { ordered: false },
    );
  }
  return live.reduce((sum, batch) => sum + (batch.counts?.pending ?? 0), 0);
}

/**
 * Tells the schedulers to look for due runs now (they read this counter every second): a
 * campaign approved or resumed is created and planned at once. A lost increment (FerretDB's
 * `$inc` is not atomic) still changes the counter, which is all a scheduler looks at.
 */
export async function wakeSchedulers(): Promise<void> {
  await SchedulerWakeModel.updateOne({ _id: PLANNING_WAKE }, { $inc: { n: 1 } }, { upsert: true });
}

/**
 * Records the pending deliveries of a stopped campaign's batches skipped, in bulk
 * (engine/skip.ts): batches a worker holds are left to it (listed now). Safe to repeat.
 */
export async function stopCampaign(
  campaignId: string,
  reason: string,
  now: Date,
  written?: (batchIds: string[]) => Promise<void>,
): Promise<BulkSkipResult> {
  const batches = await batchesOf<{
    _id: string;
    priority: string;
    campaignId: string;
    counts?: { pending?: number };
    lease?: { epoch?: number; until?: Date | null } | null;
  }>(campaignId, { _id: 1, priority: 1, campaignId: 1, 'counts.pending': 1, lease: 1 });
  const live = batches.filter((batch) => (batch.counts?.pending ?? 0) > 0);
  return skipBatchesInBulk(live, reason, now, `${STOP_OWNER_PREFIX}${process.pid}-${campaignId}`, written);
}

export function deliveryControl(clock: Clock, written?: (batchIds: string[]) => Promise<void>): DeliveryControl {
  return {
    async stop(campaignId, reason) {
      await stopCampaign(campaignId, reason, clock.now(), written);
    },
    async requeue(campaignId) {
      // Pausing needs nothing: a worker finds the campaign paused and parks the batch.
      await requeueCampaign(campaignId, clock.now());
      // Approved or resumed: its run may be due now (an urgent push is planned at once).
      await wakeSchedulers();
    },
    async noticeWithdrawn(noticeId) {
      const campaignIds = await campaignsWithNotice(noticeId);
      for (const campaignId of campaignIds) await requeueCampaign(campaignId, clock.now());
      return campaignIds;
    },
    noticePlanned: (noticeId) => noticeWasPlanned(noticeId),
    async recipientCountiesOutside(noticeId, regionCode) {
      const counties = new Map<string, string[]>();
      for await (const chunk of groupsThatReceivedNotice(noticeId)) {
        for (const group of chunk) {
          if (recipientIn(group, regionCode) || counties.has(group.countyCode)) continue;
          const at = group.townshipPath.indexOf(group.countyCode);
          counties.set(
            group.countyCode,
            at >= 0 ? group.townshipPath.slice(0, at + 1) : group.townshipPath.slice(0, 4),
          );
        }
      }
      return [...counties].map(([code, regionPath]) => ({ code, regionPath }));
    },
    async lastRunAt(campaignId) {
      const latest = await OccurrenceModel.findOne({ campaignId }, { runAt: 1 })
        .sort({ runAt: -1 })
        .lean<{ runAt: Date }>();
      return latest?.runAt ?? null;
    },
  };
}

/** Manual deliveries whose officer's confirmation the batch has not recorded yet. */
const OPEN_STATUSES = new Set(['awaiting', 'uncertain']);

/**
 * Puts the batch holding a delivery back on the work list (an officer confirmed it). The
 * batch is found by key: `occurrence|township|part`, the township being the parent of the
 * group's village (`villagePath`, root first); parts are tried in order (one _id read each).
 * `onlyIfOpen` (the sweep) leaves alone a batch that has recorded the confirmation already.
 */
export async function wakeBatchOf(
  deliveryId: string,
  now: Date,
  villagePath: string[] = [],
  { onlyIfOpen = false } = {},
): Promise<void> {
  const cut = deliveryId.lastIndexOf('/');
  if (cut < 0) return; // a test message, not a delivery
  const occurrenceId = deliveryId.slice(0, cut);
  const groupId = deliveryId.slice(cut + 1);
  const township = villagePath.at(-2);
  let batch: { _id: string; campaignId: string } | null = null;
  for (let part = 1; township && !batch; part++) {
    const candidate = await DeliveryBatchModel.findById(`${occurrenceId}|${township}|${part}`, {
      campaignId: 1,
      'items.groupId': 1,
      'items.status': 1,
    }).lean<{ _id: string; campaignId: string; items: { groupId: string; status: string }[] }>();
    if (!candidate) break;
    const item = candidate.items.find((i) => i.groupId === groupId);
    if (item && onlyIfOpen && !OPEN_STATUSES.has(item.status)) return;
    if (item) batch = candidate;
  }
  // Older tasks without a path: look the delivery up (a scan on FerretDB).
  batch ??= await DeliveryBatchModel.findOne(
    { occurrenceId, 'items.groupId': groupId },
    { _id: 1, campaignId: 1 },
  ).lean<{
    _id: string;
    campaignId: string;
  }>();
  if (!batch) return;
  // The batch's wake marker before its entry: a holder whose release overwrites the entry
  // finds the marker by `_id` in its look after the release (engine/worker.ts).
  await markWoken(batch._id, now);
  // The run goes back on the stranded-batch sweep's watch list first (engine/open-runs.ts).
  await openRun(occurrenceId, batch.campaignId);
  await QueueEntryModel.updateOne(
    { _id: batch._id },
    { $set: { dueAt: now, rank: 0, campaignId: batch.campaignId } },
    { upsert: true },
  );
}

/** Records that a batch was woken from outside its holder (model.ts, `BatchWakeModel`). */
export async function markWoken(batchId: string, now: Date): Promise<void> {
  await BatchWakeModel.updateOne({ _id: batchId }, { $set: { at: now } }, { upsert: true }).catch((error: unknown) => {
    // Two wakes upserting at once: the other one's insert is the marker.
    if (!isDuplicateKey(error)) throw error;
  });
}

/** Whether the batch was ever woken from outside its holder (one `_id` read). */
export async function wasWoken(batchId: string): Promise<boolean> {
  return (await BatchWakeModel.exists({ _id: batchId })) !== null;
}

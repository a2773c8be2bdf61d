// How campaign state changes reach planned deliveries, without writing the batches (the
// lease holder is their only writer): the work list is pulled forward so a worker looks at
// the campaign's batches now and applies the campaign's state (skip, hold, send).
import type { DeliveryControl } from '../campaigns/ports.js';
import type { Clock } from '../lib/clock.js';
import { DeliveryBatchModel } from '../tracking/model.js';
import { QueueEntryModel } from './model.js';
import { expediteCampaign } from './queue.js';

export function deliveryControl(clock: Clock): DeliveryControl {
  return {
    async hold(campaignId, held) {
      // Holding needs nothing: a worker finds the campaign paused. Releasing wakes it up.
      if (!held) await expediteCampaign(campaignId, clock.now());
    },
    async skipPending(campaignId) {
      await expediteCampaign(campaignId, clock.now());
      const batches = await DeliveryBatchModel.find({ campaignId }, { 'counts.pending': 1 }).lean();
      return batches.reduce((sum, batch) => sum + (batch.counts?.pending ?? 0), 0);
    },
    async recipientCount(campaignId) {
      const batches = await DeliveryBatchModel.find({ campaignId }, { counts: 1 }).lean();
      return batches.reduce(
        (sum, b) =>
          sum +
          (b.counts?.sent ?? 0) +
          (b.counts?.uncertain ?? 0) +
          (b.counts?.awaiting ?? 0) +
          (b.counts?.confirmed ?? 0),
        0,
      );
    },
  };
}

/** Puts the batch holding a delivery back on the work list (an officer confirmed it). */
export async function wakeBatchOf(deliveryId: string, now: Date): Promise<void> {
  const cut = deliveryId.lastIndexOf('/');
  if (cut < 0) return; // a test message, not a delivery
  const occurrenceId = deliveryId.slice(0, cut);
  const groupId = deliveryId.slice(cut + 1);
  const batch = await DeliveryBatchModel.findOne(
    { occurrenceId, 'items.groupId': groupId },
    { _id: 1, campaignId: 1 },
  ).lean<{ _id: string; campaignId: string }>();
  if (!batch) return;
  await QueueEntryModel.updateOne(
    { _id: batch._id },
    { $set: { dueAt: now, rank: 0, campaignId: batch.campaignId } },
    { upsert: true },
  );
}

// A campaign's notification steps by `_id` (see StepSlotModel in model.ts): the campaign
// page's 民警通知 reads one slot per step of the campaign, then each step, never the step
// history of other campaigns.
import { mapLimit } from '../lib/concurrency.js';
import { isDuplicateKey } from '../lib/errors.js';
import {
  NotificationOutboxModel,
  type NotificationStepDoc,
  NotificationStepModel,
  StepSlotModel,
} from './model.js';

const slotId = (campaignId: string, n: number) => `${campaignId}|${n}`;
const hintId = (campaignId: string) => `${campaignId}|next`;
const BUILT = 'built';
/** Slots read at once while looking for the end of a campaign's list. */
const WINDOW = 16;

/** Lists a step on its campaign (call before inserting the step). */
export async function listStep(campaignId: string, stepId: string): Promise<void> {
  let n = (await StepSlotModel.findById(hintId(campaignId)).lean<{ next: number | null }>())?.next ?? 0;
  for (;;) {
    try {
      await StepSlotModel.create({ _id: slotId(campaignId, n), stepId });
      break;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      n++;
    }
  }
  await StepSlotModel.updateOne({ _id: hintId(campaignId) }, { $max: { next: n + 1 } }, { upsert: true });
}

/** Every step id listed for a campaign, in listing order, without repeats. */
export async function stepIdsOf(campaignId: string): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; ; n += WINDOW) {
    const slots = await mapLimit(
      Array.from({ length: WINDOW }, (_, i) => n + i),
      8,
      (k) => StepSlotModel.findById(slotId(campaignId, k)).lean<{ stepId: string | null }>(),
    );
    const end = slots.indexOf(null);
    for (const slot of end < 0 ? slots : slots.slice(0, end)) if (slot?.stepId) ids.push(slot.stepId);
    if (end >= 0) break;
  }
  return [...new Set(ids)];
}

/** A campaign's steps (each read by `_id`), oldest first. */
export async function stepsOfCampaign(campaignId: string): Promise<NotificationStepDoc[]> {
  const ids = await stepIdsOf(campaignId);
  const docs = await mapLimit(ids, 8, (id) => NotificationStepModel.findById(id).lean<NotificationStepDoc>());
  return docs
    .filter((doc): doc is NotificationStepDoc => doc !== null && doc.campaignId === campaignId)
    .sort((a, b) => a.at.getTime() - b.at.getTime() || (a._id < b._id ? -1 : 1));
}

/**
 * Lists the steps of a database written before the lists and the outbox existed (one pass over
 * the steps, once; later starts read the `built` marker by `_id`). Idempotent.
 */
export async function buildStepLists(): Promise<void> {
  if (await StepSlotModel.exists({ _id: BUILT })) return;
  const byCampaign = new Map<string, string[]>();
  const sending: { _id: string; attemptAt: Date }[] = [];
  const cursor = NotificationStepModel.find({}, { _id: 1, campaignId: 1, at: 1, status: 1, attemptAt: 1 })
    .lean<{ _id: string; campaignId: string; at: Date; status: string; attemptAt: Date | null }[]>()
    .cursor();
  for await (const step of cursor) {
    const list = byCampaign.get(step.campaignId) ?? [];
    byCampaign.set(step.campaignId, list);
    list.push(step._id);
    if (step.status === 'sending') sending.push({ _id: step._id, attemptAt: step.attemptAt ?? step.at });
  }
  for (const [campaignId, stepIds] of byCampaign) {
    const listed = new Set(await stepIdsOf(campaignId));
    if (listed.size === 0) {
      // A campaign never listed: its slots in one insert (a concurrent writer's slot wins, then one by one).
      const inserted = await StepSlotModel.insertMany(
        stepIds.map((stepId, n) => ({ _id: slotId(campaignId, n), stepId })),
        { ordered: true },
      ).then(
        () => true,
        (error: unknown) => {
          if (!isDuplicateKey(error)) throw error;
          return false;
        },
      );
      if (inserted) {
        await StepSlotModel.updateOne({ _id: hintId(campaignId) }, { $max: { next: stepIds.length } }, { upsert: true });
        continue;
      }
    }
    const again = new Set(await stepIdsOf(campaignId));
    for (const id of stepIds) if (!again.has(id)) await listStep(campaignId, id);
  }
  for (const entry of sending) {
    await NotificationOutboxModel.create(entry).catch((error) => {
      if (!isDuplicateKey(error)) throw error;
    });
  }
  await StepSlotModel.updateOne({ _id: BUILT }, { $set: { next: 0 } }, { upsert: true });
}

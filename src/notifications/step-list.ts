// A campaign's notification steps by `_id` (see StepSlotModel in model.ts): the campaign
// page's 民警通知 reads one page of slots from its cursor on, then each step of the page, never
// the campaign's other steps nor the step history of other campaigns (issue 25: the whole list
// of the province campaign was 2,872 commands at 50,000 groups).
//
// Contract:
// - A writer (`recordStep`) takes the first free slot `<campaignId>|<n>` (a unique insert,
//   with its time `at`), THEN inserts the step with `slot: n` (the unique `_id` decides which
//   process's step it is). Its caller THEN brings the campaign's counts up to date
//   (step-counts.ts `advanceCounts`). A writer killed after its slot leaves a slot naming no
//   step (or a step another writer inserts at its own slot): pages skip it, the counts keep it
//   open until LISTING_LEASE_MS after `at`, then pass over it. A writer never inserts a step
//   more than LISTING_LEASE_MS / 2 after taking its slot (it takes a new one).
// - Slot k shows a step (`slotVerdict`) when the step exists, is the campaign's, and names k
//   as its `slot`. A step written before steps named their slot (no `slot`) shows at its
//   listings of that time (slots without `at`) not marked `dup` (the backfill of step-counts.ts
//   marks each later one): a later writer that lists it again (and loses its insert) adds nothing.
//   Pages and counts use the same verdict, so the pages together are the list the counts count.
// - Pages are keyed by slot number (the row `id`): oldest first from `after`, newest first from
//   `before` (the end found from the `next` hint, a read or two by `_id`).
import { mapLimit } from '../lib/concurrency.js';
import { isDuplicateKey } from '../lib/errors.js';
import { NotificationOutboxModel, type NotificationStepDoc, NotificationStepModel, StepSlotModel } from './model.js';

export const slotId = (campaignId: string, n: number) => `${campaignId}|${n}`;
const hintId = (campaignId: string) => `${campaignId}|next`;
const BUILT = 'built';
/** Slots read at once while looking for the end of a campaign's list. */
const WINDOW = 16;
/** Concurrent `_id` reads of a page. */
const READ_LANES = 8;
/** A slot naming no step is waited for this long after it was taken (its writer may still insert the step). */
export const LISTING_LEASE_MS = 5 * 60_000;

/** A slot as readers see it. */
export interface SlotDoc {
  _id: string;
  stepId: string | null;
  at?: Date | null;
  dup?: boolean | null;
}
/** What a slot's verdict needs of its step. */
export interface SlotStep {
  campaignId: string;
  slot?: number | null;
}
export type SlotVerdict = 'shown' | 'passed' | 'open';

/** Whether slot `k` of the campaign shows (and counts) its step, never will, or may still (its writer within the lease). */
export function slotVerdict(
  campaignId: string,
  k: number,
  slot: SlotDoc,
  step: SlotStep | null,
  nowMs: number,
): SlotVerdict {
  if (!slot.stepId) return 'passed';
  if (!step) return slot.at && nowMs - slot.at.getTime() < LISTING_LEASE_MS ? 'open' : 'passed';
  if (step.campaignId !== campaignId) return 'passed';
  if (step.slot != null) return step.slot === k ? 'shown' : 'passed';
  // A step written before steps named their slot: at its listings of that time (no `at`), once.
  return slot.at || slot.dup ? 'passed' : 'shown';
}

/**
 * Lists a step on its campaign (call before inserting the step): its slot. `stamped: false`
 * lists a step written before steps named their slot (no `at`, as the older code listed).
 */
export async function listStep(campaignId: string, stepId: string, stamped = true): Promise<number> {
  return (await takeSlot(campaignId, stepId, stamped)).n;
}

async function takeSlot(campaignId: string, stepId: string, stamped = true): Promise<{ n: number; at: Date }> {
  let n = (await StepSlotModel.findById(hintId(campaignId)).lean<{ next: number | null }>())?.next ?? 0;
  let at: Date;
  for (;;) {
    at = new Date();
    try {
      await StepSlotModel.create({ _id: slotId(campaignId, n), stepId, at: stamped ? at : null });
      break;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      n++;
    }
  }
  await StepSlotModel.updateOne({ _id: hintId(campaignId) }, { $max: { next: n + 1 } }, { upsert: true });
  return { n, at };
}

/**
 * Lists the step on its campaign, then inserts it with its slot: false when another process's
 * step of that `_id` exists (the claim is theirs). The caller brings the counts up to date after.
 */
export async function recordStep(
  step: Omit<NotificationStepDoc, 'slot'> & { _id: string },
): Promise<NotificationStepDoc | null> {
  let taken = await takeSlot(step.campaignId, step._id);
  // Never a step long after its slot: the counts pass over a slot without step after the lease.
  while (Date.now() - taken.at.getTime() > LISTING_LEASE_MS / 2) taken = await takeSlot(step.campaignId, step._id);
  try {
    return (await NotificationStepModel.create({ ...step, slot: taken.n })).toObject() as NotificationStepDoc;
  } catch (error) {
    if (isDuplicateKey(error)) return null;
    throw error;
  }
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

/** Slot k and, when it names one, its step (projected), both by `_id`. */
export async function readSlot<T extends SlotStep>(
  campaignId: string,
  k: number,
  projection?: Record<string, 1>,
): Promise<{ slot: SlotDoc | null; step: T | null }> {
  const slot = await StepSlotModel.findById(slotId(campaignId, k)).lean<SlotDoc>();
  if (!slot?.stepId) return { slot, step: null };
  const step = await NotificationStepModel.findById(slot.stepId, projection).lean<T>();
  return { slot, step };
}

/** The fields a page row needs (not the outbox message, not the task ids). */
const ROW_FIELDS = {
  kind: 1,
  campaignId: 1,
  occurrenceId: 1,
  officerName: 1,
  recipientName: 1,
  groupNames: 1,
  status: 1,
  detail: 1,
  wecomDetail: 1,
  at: 1,
  slot: 1,
} as const;

export type PageStep = Pick<
  NotificationStepDoc,
  | 'kind'
  | 'campaignId'
  | 'occurrenceId'
  | 'officerName'
  | 'recipientName'
  | 'groupNames'
  | 'status'
  | 'detail'
  | 'wecomDetail'
  | 'at'
  | 'slot'
>;

export interface StepPageQuery {
  /** Oldest first (from `after`) or newest first (from `before`). */
  sort: 'oldest' | 'newest';
  /** The slot number of the last row of the previous page. */
  cursor?: number;
  limit: number;
}

/** One slot past the campaign's last: the `next` hint (never ahead), then slots by `_id` until one is free. */
async function endOf(campaignId: string): Promise<number> {
  let end = (await StepSlotModel.findById(hintId(campaignId)).lean<{ next: number | null }>())?.next ?? 0;
  while (await StepSlotModel.exists({ _id: slotId(campaignId, end) })) end++;
  return end;
}

/**
 * One page of the campaign's steps, `limit` at most, each with its slot number: slots read by
 * `_id` from the cursor on, in windows no larger than the rows the page still needs.
 */
export async function stepPage(campaignId: string, query: StepPageQuery): Promise<{ n: number; step: PageStep }[]> {
  const oldest = query.sort === 'oldest';
  let k = oldest ? (query.cursor ?? -1) + 1 : (query.cursor ?? (await endOf(campaignId))) - 1;
  const rows: { n: number; step: PageStep }[] = [];
  const now = Date.now();
  while (rows.length < query.limit && k >= 0) {
    const size = Math.min(READ_LANES, query.limit - rows.length, oldest ? Number.MAX_SAFE_INTEGER : k + 1);
    const ks = Array.from({ length: size }, (_, i) => (oldest ? k + i : k - i));
    const read = await mapLimit(ks, READ_LANES, (n) => readSlot<PageStep>(campaignId, n, ROW_FIELDS));
    let end = false;
    for (const [i, { slot, step }] of read.entries()) {
      if (!slot) {
        end = true;
        break;
      }
      const n = ks[i]!;
      if (step && slotVerdict(campaignId, n, slot, step, now) === 'shown') rows.push({ n, step });
      if (rows.length >= query.limit) break;
    }
    if (end) break;
    k = oldest ? k + size : k - size;
  }
  return rows;
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
        await StepSlotModel.updateOne(
          { _id: hintId(campaignId) },
          { $max: { next: stepIds.length } },
          { upsert: true },
        );
        continue;
      }
    }
    const again = new Set(await stepIdsOf(campaignId));
    for (const id of stepIds) if (!again.has(id)) await listStep(campaignId, id, false);
  }
  for (const entry of sending) {
    await NotificationOutboxModel.create(entry).catch((error) => {
      if (!isDuplicateKey(error)) throw error;
    });
  }
  await StepSlotModel.updateOne({ _id: BUILT }, { $set: { next: 0 } }, { upsert: true });
}

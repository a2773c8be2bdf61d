// A campaign's notification steps counted per kind (issue 25): the campaign page's 民警通知
// figures (共 N 条：任务汇总 / 提醒 / 督办 / 撤回告知) read one small document by `_id`, never the
// steps (the province campaign has thousands).
//
// Contract:
// - `notificationstepcounts`, `_id` = the campaign id: `kinds` counts the steps shown at slots
//   0 … upTo−1 of the campaign's list (step-list.ts `slotVerdict`), except the slots in `open`
//   (a slot whose step is not inserted yet and whose writer may still insert it). The document
//   is a function of those slots alone, written whole (`$set` of upTo, open and kinds), so two
//   processes advancing it at once (FerretDB 1.24 does not make a conditional update atomic)
//   write equal documents, or one that covers fewer slots, which the next advance extends.
// - Write order of a step (step-list.ts `recordStep`, then the notifier): the slot, the step,
//   THEN `advanceCounts`, which re-reads by `_id` the open slots and the slots from `upTo` on
//   (windows of 1, 2, 4, 8 until the first free slot) and counts each step once, at its slot.
//   A writer killed between the step and the count write leaves the step after `upTo`: the next
//   advance of the campaign (the next step written, or the summary read of the campaign page)
//   counts it. A writer killed between its slot and its step leaves an open slot: passed over
//   after LISTING_LEASE_MS; a step inserted later at another slot is counted at that one.
// - An install written before the counts is counted once at start (`buildStepCounts`, backfill
//   `notification-step-counts`, db/backfills.ts): one pass over the slots and one over the steps
//   (projected), marking `dup` each later slot of a step written before steps named their slot
//   and listed twice, then each campaign's document written whole from slot 0. Idempotent.
//   Until this process has seen the backfill finished, `advanceCounts` computes but writes
//   nothing (a document counted without the `dup` marks would count such a step twice).
import mongoose from 'mongoose';
import { BackfillModel, backfillOnce } from '../db/backfills.js';
import { mapLimit } from '../lib/concurrency.js';
import { NOTIFICATION_KINDS, type NotificationKind, NotificationStepModel, StepSlotModel } from './model.js';
import { readSlot, type SlotDoc, type SlotStep, slotVerdict } from './step-list.js';

export const BACKFILL = 'notification-step-counts';
const MAX_WINDOW = 8;

const countSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    upTo: { type: Number, required: true },
    open: { type: [Number], default: [] },
    kinds: { type: mongoose.Schema.Types.Mixed, default: {} },
    at: { type: Date, default: null },
  },
  { versionKey: false, minimize: false },
);
export const StepCountModel = mongoose.model('NotificationStepCount', countSchema, 'notificationstepcounts');

export interface StepCounts {
  total: number;
  kinds: Record<NotificationKind, number>;
}

interface CountDoc {
  upTo: number;
  open: number[];
  kinds: Partial<Record<NotificationKind, number>>;
}

type CountedStep = SlotStep & { kind: string };
const COUNT_FIELDS = { campaignId: 1, kind: 1, slot: 1 } as const;

/** Set once this process has seen the backfill finished (it never un-finishes). */
let ready = false;

const zero = (): Record<NotificationKind, number> =>
  Object.fromEntries(NOTIFICATION_KINDS.map((kind) => [kind, 0])) as Record<NotificationKind, number>;

function figures(kinds: Partial<Record<NotificationKind, number>>): StepCounts {
  const all = { ...zero(), ...kinds };
  return { total: Object.values(all).reduce((sum, n) => sum + n, 0), kinds: all };
}

function tally(kinds: Record<NotificationKind, number>, kind: string): void {
  if ((NOTIFICATION_KINDS as readonly string[]).includes(kind)) kinds[kind as NotificationKind]++;
}

/**
 * The campaign's counts brought up to date (see the contract): written when they moved. Reads
 * the count document, the open slots, and the slots from `upTo` to the first free one.
 */
export async function advanceCounts(campaignId: string, nowMs: number = Date.now()): Promise<StepCounts> {
  const [doc, finished] = await Promise.all([
    StepCountModel.findById(campaignId).lean<CountDoc>(),
    ready ? true : BackfillModel.exists({ _id: BACKFILL }).then(Boolean),
  ]);
  ready ||= finished;
  const kinds = { ...zero(), ...(doc?.kinds ?? {}) };
  let upTo = doc?.upTo ?? 0;
  let changed = false;
  const open: number[] = [];
  const judge = (k: number, read: { slot: SlotDoc | null; step: CountedStep | null }) => {
    const verdict = read.slot ? slotVerdict(campaignId, k, read.slot, read.step, nowMs) : 'passed';
    if (verdict === 'shown') tally(kinds, read.step!.kind);
    return verdict;
  };
  if (doc?.open.length) {
    const reads = await mapLimit(doc.open, MAX_WINDOW, (k) => readSlot<CountedStep>(campaignId, k, COUNT_FIELDS));
    for (const [i, read] of reads.entries()) {
      const k = doc.open[i]!;
      if (judge(k, read) === 'open') open.push(k);
      else changed = true;
    }
  }
  for (let size = 1; ; size = Math.min(size * 2, MAX_WINDOW)) {
    const ks = Array.from({ length: size }, (_, i) => upTo + i);
    const reads = await mapLimit(ks, MAX_WINDOW, (k) => readSlot<CountedStep>(campaignId, k, COUNT_FIELDS));
    const end = reads.findIndex((read) => !read.slot);
    for (const [i, read] of (end < 0 ? reads : reads.slice(0, end)).entries()) {
      if (judge(ks[i]!, read) === 'open') open.push(ks[i]!);
      upTo = ks[i]! + 1;
      changed = true;
    }
    if (end >= 0) break;
  }
  if (changed && ready) {
    await StepCountModel.updateOne(
      { _id: campaignId },
      { $set: { upTo, open, kinds, at: new Date(nowMs) } },
      { upsert: true },
    );
  }
  return figures(kinds);
}

/**
 * Counts an install's steps written before the counts existed (once; see the contract). One
 * cursor over the slots and one over the steps, then one write per campaign (and per slot of a
 * step listed twice).
 */
export async function buildStepCounts(nowMs: number = Date.now()): Promise<void> {
  await backfillOnce(BACKFILL, async () => {
    const lists = new Map<string, Map<number, SlotDoc>>();
    const slots = StepSlotModel.find({}, { stepId: 1, at: 1, dup: 1 }).lean<SlotDoc[]>().cursor();
    for await (const slot of slots) {
      const cut = slot._id.lastIndexOf('|');
      const tail = slot._id.slice(cut + 1);
      if (cut < 0 || !/^[0-9]+$/.test(tail)) continue;
      const campaignId = slot._id.slice(0, cut);
      const list = lists.get(campaignId) ?? new Map<number, SlotDoc>();
      lists.set(campaignId, list);
      list.set(Number(tail), slot);
    }
    const steps = new Map<string, CountedStep>();
    const cursor = NotificationStepModel.find({}, COUNT_FIELDS).lean<(CountedStep & { _id: string })[]>().cursor();
    for await (const step of cursor) steps.set(step._id, step);
    for (const [campaignId, list] of lists) {
      const kinds = zero();
      const open: number[] = [];
      const seen = new Set<string>();
      let upTo = 0;
      for (let k = 0; list.has(k); k++) {
        const slot = list.get(k)!;
        const step = slot.stepId ? (steps.get(slot.stepId) ?? null) : null;
        if (step && step.campaignId === campaignId && step.slot == null && !slot.at && slot.stepId) {
          if (seen.has(slot.stepId) && !slot.dup) {
            await StepSlotModel.updateOne({ _id: slot._id }, { $set: { dup: true } });
            slot.dup = true;
          }
          seen.add(slot.stepId);
        }
        const verdict = slotVerdict(campaignId, k, slot, step, nowMs);
        if (verdict === 'shown') tally(kinds, step!.kind);
        if (verdict === 'open') open.push(k);
        upTo = k + 1;
      }
      await StepCountModel.updateOne(
        { _id: campaignId },
        { $set: { upTo, open, kinds, at: new Date(nowMs) } },
        { upsert: true },
      );
    }
  });
  ready = true;
}

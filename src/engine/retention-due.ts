// Retention's due keys (issue 25): the runs that settled, filed by the UTC day they settled on,
// so retention reads only the runs whose keep period has passed since its last pass, each by
// `_id`, instead of scanning collections that grow with history (engine/retention.ts).
//
// Contract:
// - The stranded-batch sweep files a run when it closes it (engine/open-runs.ts): the day's
//   document `day:<YYYY-MM-DD>` gets the entry `<run>|<campaign>` (one `_id` upsert; a run
//   re-opened and closed again is filed again, on its later day).
// - Retention files a run again (on a later day) when something of it was written after the
//   run was filed or is not finished yet (a late confirmation, a step still sending).
// - `state` is where retention stands: the first day not fully done, how many of its entries
//   are done, and how many batches of the next entry. Days before `state.day` are never read again.
// - An install written before the keys existed files its settled runs once at start
//   (`buildRetentionDue`, by each run's last write), and retention starts at the earliest.
import mongoose from 'mongoose';
import { backfillOnce } from '../db/backfills.js';
import { OccurrenceModel } from './model.js';

const dueSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    /** `day:` documents: `<run>|<campaign>` of each run settled that day. */
    runs: { type: [String], default: undefined },
    /** `state`: the first day (YYYY-MM-DD) not fully done. */
    day: { type: String, default: undefined },
    /** `state`: entries of `day` done. */
    index: { type: Number, default: undefined },
    /** `state`: batches of the entry at `index` done. */
    batch: { type: Number, default: undefined },
    /** `state`: when the leftover lease claims were last swept (retention.ts). */
    claimsSweptAt: { type: Date, default: undefined },
  },
  { versionKey: false },
);
export const RetentionDueModel = mongoose.model('RetentionDue', dueSchema, 'retentiondue');

export const STATE_ID = 'state';
const DAY_MS = 24 * 60 * 60_000;

/** The UTC day of a time, `YYYY-MM-DD`. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The day after `day`. */
export function nextDay(day: string): string {
  return dayOf(new Date(Date.parse(`${day}T00:00:00.000Z`) + DAY_MS));
}

/** When `day` ends (the first instant of the next day). */
export function endOfDay(day: string): Date {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) + DAY_MS);
}

export const dayId = (day: string) => `day:${day}`;

/** Files a settled run for retention on the day of `at` (idempotent; one `_id` upsert). */
export async function fileSettledRun(occurrenceId: string, campaignId: string, at: Date): Promise<void> {
  await RetentionDueModel.updateOne(
    { _id: dayId(dayOf(at)) },
    { $addToSet: { runs: `${occurrenceId}|${campaignId}` } },
    { upsert: true },
  );
}

/**
 * For an install written before the keys existed (once, at start): every run neither open nor
 * planning is filed on the day of its last write, and retention starts at the earliest day
 * (today when there is none). An install that already has a state keeps it.
 */
export async function buildRetentionDue(now: Date): Promise<void> {
  await backfillOnce('retention-due', async () => {
    // The open-run list (engine/open-runs.ts, which files runs here: read through the driver).
    const listed = await mongoose.connection
      .collection<{ _id: string }>('openruns')
      .find({}, { projection: { _id: 1 } })
      .toArray();
    const open = new Set(listed.map((r) => r._id));
    const runs = await OccurrenceModel.find({}, { campaignId: 1, status: 1, updatedAt: 1, createdAt: 1 }).lean<
      { _id: string; campaignId: string; status: string; updatedAt?: Date; createdAt?: Date }[]
    >();
    const byDay = new Map<string, string[]>();
    for (const run of runs) {
      if (run.status === 'planning' || open.has(run._id)) continue;
      const day = dayOf(run.updatedAt ?? run.createdAt ?? now);
      const list = byDay.get(day) ?? [];
      list.push(`${run._id}|${run.campaignId}`);
      byDay.set(day, list);
    }
    for (const [day, entries] of byDay) {
      await RetentionDueModel.updateOne({ _id: dayId(day) }, { $addToSet: { runs: { $each: entries } } }, { upsert: true });
    }
    const first = [...byDay.keys()].sort()[0] ?? dayOf(now);
    await RetentionDueModel.updateOne(
      { _id: STATE_ID },
      { $setOnInsert: { day: first, index: 0, batch: 0 } },
      { upsert: true },
    );
  });
}

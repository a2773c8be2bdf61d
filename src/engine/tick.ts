// The scheduler tick: each due run of an approved campaign becomes one occurrence. The
// occurrence key is the campaign id and run time, inserted once: a double tick, two
// schedulers or a restart mid-tick all land on the same document.
import type { CampaignService } from '../campaigns/service.js';
import { type Priority, type QuietHours, deferForQuietHours, nextRunAfter, runMissed } from '../campaigns/schedule.js';
import { SCHEDULER_DUE, lowerDue } from '../db/due-marks.js';
import { isDuplicateKey } from '../lib/errors.js';
import { NoticeModel } from '../notices/model.js';
import mongoose from 'mongoose';
import { listRun } from '../tracking/run-batches.js';
import { OccurrenceModel, PlanningQueueModel } from './model.js';

export interface TickSettings {
  timeZone: string;
  quietHours: QuietHours;
}

export function occurrenceId(campaignId: string, runAt: Date): string {
  return `${campaignId}@${runAt.toISOString()}`;
}

/** When a run may go: its time, moved past quiet hours for a normal campaign. */
function dueTime(runAt: Date, priority: Priority, settings: TickSettings): Date {
  return deferForQuietHours(runAt, priority, settings.quietHours, settings.timeZone);
}

export const MISSED_RUN_REASON = '错过发送时间超过一小时（服务停止或审批过晚），本次不再补发';
/** At most this many missed runs of one campaign are recorded at once (a minutely cron down for days). */
const MAX_RECORDED_MISSES = 500;

/** The notice's approved version now: the run sends exactly this one (the worker renders it). */
export async function approvedNoticeVersion(noticeId: string): Promise<number | null> {
  if (!mongoose.isValidObjectId(noticeId)) return null;
  const notice = await NoticeModel.findById(noticeId, { approvedVersion: 1 }).lean<{
    approvedVersion?: number | null;
  }>();
  return notice?.approvedVersion ?? null;
}

/** Puts a run on the planning queue (idempotent). */
export async function enqueueForPlanning(id: string, priority: string, dueAt: Date): Promise<void> {
  // Another scheduler's idle tick reads only its due marker (db/due-marks.ts): lowered before
  // (a process killed after the insert) and after (a concurrent raise that read no entry).
  await lowerDue(SCHEDULER_DUE, dueAt);
  await PlanningQueueModel.updateOne({ _id: id }, { $set: { priority, dueAt } }, { upsert: true });
  await lowerDue(SCHEDULER_DUE, dueAt);
}

/**
 * Creates the occurrences due at `now`; returns how many this call created. A run whose
 * due time (after quiet hours) was missed by more than an hour (the service was down, or a
 * one-off was approved late) is not sent late: it is recorded as a skipped run, every one
 * of them, also when a later run is caught up, and the schedule moves on. A run caught up
 * late goes no earlier than `now`, and if `now` is in quiet hours a normal one waits for
 * their end. Each run records the notice version approved when it was created.
 */
export async function createDueOccurrences(
  campaigns: CampaignService,
  settings: TickSettings,
  now: Date,
): Promise<number> {
  let created = 0;
  for (const campaign of await campaigns.dueForRun(now)) {
    let runAt = campaign.nextRunAt!;
    const missed = (at: Date) => runMissed(at, campaign.priority, now, settings.quietHours, settings.timeZone);
    // Walk past runs missed long ago, keeping the schedule's rhythm; each is recorded.
    const skipped: Date[] = [];
    while (missed(runAt)) {
      skipped.push(runAt);
      const next = nextRunAfter(campaign.schedule, runAt, settings.timeZone);
      if (!next || next > now) break;
      runAt = next;
    }
    const send = !missed(runAt);
    const base = {
      campaignId: campaign.id,
      noticeId: campaign.noticeId,
      noticeVersion: await approvedNoticeVersion(campaign.noticeId),
      priority: campaign.priority,
      cardStyle: campaign.cardStyle,
      regionPath: [campaign.regionCode],
      revision: campaign.revision,
      audience: campaign.audience,
    };
    const misses = skipped.slice(-MAX_RECORDED_MISSES).map((at) => ({
      _id: occurrenceId(campaign.id, at),
      runAt: at,
      dueAt: dueTime(at, campaign.priority, settings),
      ...base,
      status: 'skipped',
      skipReason: MISSED_RUN_REASON,
    }));
    if (misses.length > 0) {
      await listRun(campaign.id, ...misses.map((miss) => miss._id));
      await OccurrenceModel.insertMany(misses, { ordered: false }).catch((error: unknown) => {
        if (!isDuplicateKey(error) && !allDuplicates(error)) throw error;
      });
    }
    if (send) {
      try {
        const due = dueTime(runAt, campaign.priority, settings);
        // Listed on its campaign first (tracking/run-batches.ts): one campaign's runs are
        // created one after another, so this list never loses a run to a concurrent write.
        await listRun(campaign.id, occurrenceId(campaign.id, runAt));
        const dueAt = dueTime(due < now ? now : due, campaign.priority, settings);
        // On the planning queue first (engine/model.ts): a tick that dies between the two
        // writes leaves an entry whose run does not exist, which the planner drops.
        await enqueueForPlanning(occurrenceId(campaign.id, runAt), campaign.priority, dueAt);
        await OccurrenceModel.create({ _id: occurrenceId(campaign.id, runAt), runAt, dueAt, ...base });
        created += 1;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
    }
    const last = send ? runAt : skipped.at(-1)!;
    const next = nextRunAfter(campaign.schedule, last, settings.timeZone);
    await campaigns.advancePastRun(
      campaign.id,
      campaign.nextRunAt!,
      next && next > last ? next : null,
      send ? runAt : null,
    );
  }
  return created;
}

function allDuplicates(error: unknown): boolean {
  const writeErrors = (error as { writeErrors?: { code?: number; err?: { code?: number } }[] }).writeErrors;
  return Array.isArray(writeErrors) && writeErrors.every((e) => (e.code ?? e.err?.code) === 11000);
}

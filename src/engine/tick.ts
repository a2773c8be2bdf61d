// The scheduler tick: each due run of an approved campaign becomes one occurrence. The
// occurrence key is the campaign id and run time, inserted once: a double tick, two
// schedulers or a restart mid-tick all land on the same document.
import type { CampaignService } from '../campaigns/service.js';
import { type Priority, type QuietHours, deferForQuietHours, nextRunAfter } from '../campaigns/schedule.js';
import { MISSED_RUN_MS } from '../campaigns/service.js';
import { isDuplicateKey } from '../lib/errors.js';
import { OccurrenceModel } from './model.js';

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

/**
 * Creates the occurrences due at `now`; returns how many this call created. A run whose
 * due time (after quiet hours) was missed by more than an hour (the service was down, or a
 * one-off was approved late) is not sent late: it is recorded as a skipped run and the
 * schedule moves on. A run caught up late goes no earlier than `now`, and if `now` is in
 * quiet hours a normal one waits for their end.
 */
export async function createDueOccurrences(
  campaigns: CampaignService,
  settings: TickSettings,
  now: Date,
): Promise<number> {
  let created = 0;
  for (const campaign of await campaigns.dueForRun(now)) {
    let runAt = campaign.nextRunAt!;
    const missed = (at: Date) => now.getTime() - dueTime(at, campaign.priority, settings).getTime() > MISSED_RUN_MS;
    // Walk past runs missed long ago, keeping the schedule's rhythm; the last one is recorded.
    let skipped: Date | null = null;
    while (missed(runAt)) {
      skipped = runAt;
      const next = nextRunAfter(campaign.schedule, runAt, settings.timeZone);
      if (!next || next > now) break;
      runAt = next;
    }
    const send = !missed(runAt);
    const base = {
      campaignId: campaign.id,
      noticeId: campaign.noticeId,
      priority: campaign.priority,
      cardStyle: campaign.cardStyle,
      regionPath: [campaign.regionCode],
      revision: campaign.revision,
      audience: campaign.audience,
    };
    const at = send ? runAt : skipped!;
    try {
      const due = dueTime(at, campaign.priority, settings);
      await OccurrenceModel.create({
        _id: occurrenceId(campaign.id, at),
        runAt: at,
        dueAt: send ? dueTime(due < now ? now : due, campaign.priority, settings) : due,
        ...base,
        ...(send ? {} : { status: 'skipped', skipReason: '错过发送时间超过一小时（服务停止或审批过晚），本次不再补发' }),
      });
      if (send) created += 1;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const next = nextRunAfter(campaign.schedule, at, settings.timeZone);
    await campaigns.advancePastRun(campaign.id, campaign.nextRunAt!, next && next > at ? next : null, send ? at : null);
  }
  return created;
}

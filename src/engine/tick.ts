// The scheduler tick: each due run of an approved campaign becomes one occurrence. The
// occurrence key is the campaign id and run time, inserted once: a double tick, two
// schedulers or a restart mid-tick all land on the same document.
import type { CampaignService } from '../campaigns/service.js';
import { type QuietHours, deferForQuietHours, nextRunAfter } from '../campaigns/schedule.js';
import { isDuplicateKey } from '../lib/errors.js';
import { OccurrenceModel } from './model.js';

export interface TickSettings {
  timeZone: string;
  quietHours: QuietHours;
}

// A cron run missed by more than this (service down) is skipped rather than sent late.
const MAX_CATCH_UP_MS = 60 * 60_000;

export function occurrenceId(campaignId: string, runAt: Date): string {
  return `${campaignId}@${runAt.toISOString()}`;
}

/** Creates the occurrences due at `now`; returns how many this call created. */
export async function createDueOccurrences(
  campaigns: CampaignService,
  settings: TickSettings,
  now: Date,
): Promise<number> {
  let created = 0;
  for (const campaign of await campaigns.dueForRun(now)) {
    let runAt = campaign.nextRunAt!;
    // Skip cron runs missed long ago, keeping the schedule's rhythm.
    while (campaign.schedule.kind === 'cron' && now.getTime() - runAt.getTime() > MAX_CATCH_UP_MS) {
      const next = nextRunAfter(campaign.schedule, runAt, settings.timeZone);
      if (!next || next > now) break;
      runAt = next;
    }
    try {
      await OccurrenceModel.create({
        _id: occurrenceId(campaign.id, runAt),
        campaignId: campaign.id,
        runAt,
        dueAt: deferForQuietHours(runAt, campaign.priority, settings.quietHours, settings.timeZone),
        noticeId: campaign.noticeId,
        priority: campaign.priority,
        cardStyle: campaign.cardStyle,
        regionPath: [campaign.regionCode],
      });
      created += 1;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const next = nextRunAfter(campaign.schedule, runAt, settings.timeZone);
    await campaigns.advancePastRun(campaign.id, campaign.nextRunAt!, next && next > runAt ? next : null);
  }
  return created;
}

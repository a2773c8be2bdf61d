// The calendar of runs (日程): for each campaign in scope, when it runs — past runs from the
// schedule's own times and planned ones up to the window's end — moved by quiet hours the
// way the engine moves them, so the calendar shows when a group will really receive it.
// Also the schedule preview the campaign wizard shows: the next five runs of a schedule.
import { mapLimit } from '../../lib/concurrency.js';
import { InvalidInput } from '../../lib/errors.js';
import type { Scope } from '../../regions/scope.js';
import {
  type Priority,
  type QuietHours,
  type Schedule,
  deferForQuietHours,
  firstRunAt,
  nextRunAfter,
  validateSchedule,
} from '../schedule.js';
import type { CalendarCampaign, CampaignService, CampaignStatus } from '../service.js';

export interface CalendarEntry {
  campaignId: string;
  title: string;
  status: CampaignStatus;
  category: string | null;
  priority: Priority;
  /** When the schedule says; `sendsAt` is after quiet hours (equal for urgent runs). */
  plannedAt: Date;
  sendsAt: Date;
  /** Before `now`: a run that has happened (or was due). */
  past: boolean;
}

export interface CalendarQuery {
  from: Date;
  to: Date;
  status?: CampaignStatus;
  category?: string;
}

export interface CalendarRules {
  timeZone: string;
  quietHours: QuietHours;
}

/** Most runs listed per campaign in one window (an every-minute cron would list 40,000 a month). */
export const MAX_RUNS_PER_CAMPAIGN = 200;
/** Longest window asked at once: a list view of about three months. */
const MAX_WINDOW_MS = 100 * 24 * 3600_000;

/** The times a campaign's schedule runs inside [from, to). */
export function scheduleTimes(campaign: CalendarCampaign, from: Date, to: Date, timeZone: string): Date[] {
  const schedule = campaign.schedule;
  if (schedule.kind === 'now') {
    const at = campaign.approvedAt ?? campaign.createdAt;
    return at >= from && at < to ? [at] : [];
  }
  if (schedule.kind === 'once') return schedule.at >= from && schedule.at < to ? [schedule.at] : [];
  const times: Date[] = [];
  // A recurring schedule runs from its start (or the campaign's creation), never before.
  const begin = new Date(Math.max(from.getTime(), (schedule.startAt ?? campaign.createdAt).getTime()));
  let at = firstRunAt(schedule, new Date(begin.getTime() - 1), timeZone);
  while (at && at < to && times.length < MAX_RUNS_PER_CAMPAIGN) {
    if (at >= from) times.push(at);
    at = nextRunAfter(schedule, at, timeZone);
  }
  return times;
}

export function calendarEntries(
  campaigns: CalendarCampaign[],
  categories: Map<string, string>,
  query: CalendarQuery,
  rules: CalendarRules,
  now: Date,
): CalendarEntry[] {
  const entries: CalendarEntry[] = [];
  for (const campaign of campaigns) {
    const category = categories.get(campaign.noticeId) ?? null;
    if (query.category && category !== query.category) continue;
    // Cancelled campaigns keep the runs they had; nothing after the cancellation is planned.
    for (const plannedAt of scheduleTimes(campaign, query.from, query.to, rules.timeZone)) {
      const past = plannedAt < now;
      if (!past && (campaign.status === 'cancelled' || campaign.status === 'completed')) continue;
      entries.push({
        campaignId: campaign.id,
        title: campaign.title,
        status: campaign.status,
        category,
        priority: campaign.priority,
        plannedAt,
        sendsAt: deferForQuietHours(plannedAt, campaign.priority, rules.quietHours, rules.timeZone),
        past,
      });
    }
  }
  return entries.sort((a, b) => a.sendsAt.getTime() - b.sendsAt.getTime());
}

export class CampaignCalendar {
  constructor(
    private readonly campaigns: CampaignService,
    private readonly noticeCategory: (scope: Scope, noticeId: string) => Promise<string | null>,
    private readonly rules: CalendarRules,
  ) {}

  async entries(scope: Scope, query: CalendarQuery, now: Date): Promise<CalendarEntry[]> {
    if (query.to <= query.from) throw new InvalidInput('结束日期必须晚于开始日期', 'to');
    if (query.to.getTime() - query.from.getTime() > MAX_WINDOW_MS) {
      throw new InvalidInput('一次最多查看 100 天的日程', 'to');
    }
    // Of the newest 500 in scope, those whose schedule can run in the window, from the index.
    const campaigns = await this.campaigns.forCalendar(scope, query, 500);
    // Each notice by its _id, 8 at a time (one after another they were a third of the call).
    const noticeIds = [...new Set(campaigns.map((c) => c.noticeId))];
    const found = await mapLimit(noticeIds, 8, (noticeId) => this.noticeCategory(scope, noticeId));
    const categories = new Map<string, string>();
    for (const [i, noticeId] of noticeIds.entries()) {
      const category = found[i];
      if (category) categories.set(noticeId, category);
    }
    return calendarEntries(campaigns, categories, query, this.rules, now);
  }

  /** The next `count` runs of a schedule seen at `now`, with quiet hours applied. */
  preview(schedule: Schedule, priority: Priority, now: Date, count = 5) {
    validateSchedule(schedule, now);
    const runs: { plannedAt: Date; sendsAt: Date; deferred: boolean }[] = [];
    let at = firstRunAt(schedule, now, this.rules.timeZone);
    while (at && runs.length < count) {
      const sendsAt = deferForQuietHours(at, priority, this.rules.quietHours, this.rules.timeZone);
      runs.push({ plannedAt: at, sendsAt, deferred: sendsAt.getTime() !== at.getTime() });
      at = nextRunAfter(schedule, at, this.rules.timeZone);
    }
    return { runs, quietHours: this.rules.quietHours, timeZone: this.rules.timeZone };
  }
}

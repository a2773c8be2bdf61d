// Schedule rules as pure functions of (schedule, time, zone): when a campaign runs, and
// how quiet hours move a normal send to the morning. No clock inside: callers pass `now`.
import { CronExpressionParser } from 'cron-parser';
import cron from 'node-cron';
import { InvalidInput } from '../lib/errors.js';

export type Schedule =
  | { kind: 'now' }
  | { kind: 'once'; at: Date }
  | { kind: 'cron'; cron: string; startAt: Date | null; endAt: Date };

export type Priority = 'normal' | 'urgent';

/** Local wall-clock window, e.g. 22:00–07:00 (may wrap past midnight). */
export interface QuietHours {
  start: string;
  end: string;
}

// A cron schedule with no end would run for ever; a year is the longest we plan.
const MAX_CRON_SPAN_MS = 366 * 24 * 3600_000;

export function validateSchedule(schedule: Schedule, now: Date): void {
  if (schedule.kind === 'once' && schedule.at.getTime() < now.getTime() - 60_000) {
    throw new InvalidInput('定时发送的时间已经过去，请选择将来的时间', 'schedule.at');
  }
  if (schedule.kind !== 'cron') return;
  const detail = cron.validate(schedule.cron);
  if (!detail) throw new InvalidInput(`周期表达式 "${schedule.cron}" 无效（格式：分 时 日 月 周）`, 'schedule.cron');
  const start = schedule.startAt ?? now;
  if (schedule.endAt.getTime() <= start.getTime()) {
    throw new InvalidInput('结束时间必须晚于开始时间', 'schedule.endAt');
  }
  if (schedule.endAt.getTime() - start.getTime() > MAX_CRON_SPAN_MS) {
    throw new InvalidInput('周期发送最长一年，请设置更早的结束时间', 'schedule.endAt');
  }
}

/** The first cron time strictly after `after` and not after `endAt`, in the zone. */
function nextCronTime(expression: string, after: Date, endAt: Date, timeZone: string): Date | null {
  try {
    const times = CronExpressionParser.parse(expression, { currentDate: after, endDate: endAt, tz: timeZone });
    return times.hasNext() ? times.next().toDate() : null;
  } catch {
    return null; // past the end date
  }
}

/** When the schedule first runs, seen at `now`; null when it never will. */
export function firstRunAt(schedule: Schedule, now: Date, timeZone: string): Date | null {
  switch (schedule.kind) {
    case 'now':
      return now;
    case 'once':
      return schedule.at;
    case 'cron': {
      const from = schedule.startAt && schedule.startAt > now ? new Date(schedule.startAt.getTime() - 1) : now;
      return nextCronTime(schedule.cron, from, schedule.endAt, timeZone);
    }
  }
}

/** The run after `previous`; null when the schedule is finished. */
export function nextRunAfter(schedule: Schedule, previous: Date, timeZone: string): Date | null {
  return schedule.kind === 'cron' ? nextCronTime(schedule.cron, previous, schedule.endAt, timeZone) : null;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

/**
 * One formatter per time zone, made once: making one per call was most of this function's
 * cost, and the worker asks isQuiet at every step of its send loop (a tenth of its CPU).
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Local date parts and the zone's offset (ms) at an instant. */
function localParts(at: Date, timeZone: string) {
  const parts = Object.fromEntries(
    formatterFor(timeZone)
      .formatToParts(at)
      .map((p) => [p.type, Number(p.value)]),
  ) as Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second', number>;
  const asUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return { ...parts, offsetMs: asUtc - Math.floor(at.getTime() / 1000) * 1000 };
}

export function isQuiet(at: Date, quiet: QuietHours, timeZone: string): boolean {
  const { hour, minute } = localParts(at, timeZone);
  const m = hour * 60 + minute;
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  return start > end ? m >= start || m < end : m >= start && m < end;
}

/**
 * Urgent sends go when planned; a normal send planned inside quiet hours moves to the
 * end of them (the next local `quiet.end`).
 */
export function deferForQuietHours(at: Date, priority: Priority, quiet: QuietHours, timeZone: string): Date {
  if (priority === 'urgent' || !isQuiet(at, quiet, timeZone)) return at;
  const local = localParts(at, timeZone);
  const end = minutesOf(quiet.end);
  const dayOffset = local.hour * 60 + local.minute >= end ? 1 : 0;
  const wall = Date.UTC(local.year, local.month - 1, local.day + dayOffset, Math.floor(end / 60), end % 60);
  const guess = new Date(wall - local.offsetMs);
  // Re-read the offset at the target, in case a daylight-saving change lies between.
  return new Date(wall - localParts(guess, timeZone).offsetMs);
}

/** A run missed by more than this (service down, or approved too late) is skipped, not sent late. */
export const MISSED_RUN_MS = 60 * 60_000;

/**
 * Whether the run at `runAt` was missed at `now`: its due time (moved past quiet hours for a
 * normal campaign) lies more than MISSED_RUN_MS back. The one rule the tick, approval and
 * the release of held deliveries use.
 */
export function runMissed(runAt: Date, priority: Priority, now: Date, quiet: QuietHours, timeZone: string): boolean {
  return now.getTime() - deferForQuietHours(runAt, priority, quiet, timeZone).getTime() > MISSED_RUN_MS;
}

/** The local calendar day (YYYY-MM-DD) of an instant: the bucket key for daily statistics. */
export function localDay(at: Date, timeZone: string): string {
  const { year, month, day } = localParts(at, timeZone);
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

import { describe, expect, it } from 'vitest';
import {
  deferForQuietHours,
  firstRunAt,
  isQuiet,
  localDay,
  nextRunAfter,
  validateSchedule,
} from '../../src/campaigns/schedule.js';

const TZ = 'Asia/Shanghai';
const QUIET = { start: '22:00', end: '07:00' };
const at = (iso: string) => new Date(iso);

describe('quiet hours', () => {
  it('defers a normal send that falls in quiet hours to 07:00', () => {
    // 23:30 Beijing time = 15:30 UTC
    expect(deferForQuietHours(at('2026-11-29T15:30:00Z'), 'normal', QUIET, TZ).toISOString()).toBe(
      '2026-11-29T23:00:00.000Z',
    );
    // 03:10 Beijing time, same morning's 07:00
    expect(deferForQuietHours(at('2026-11-29T19:10:00Z'), 'normal', QUIET, TZ).toISOString()).toBe(
      '2026-11-29T23:00:00.000Z',
    );
  });

  it('lets an urgent send through at night', () => {
    const night = at('2026-11-29T15:30:00Z');
    expect(deferForQuietHours(night, 'urgent', QUIET, TZ)).toEqual(night);
  });

  it('leaves a daytime send alone and knows the window edges', () => {
    const noon = at('2026-11-29T04:00:00Z');
    expect(deferForQuietHours(noon, 'normal', QUIET, TZ)).toEqual(noon);
    expect(isQuiet(at('2026-11-29T13:59:00Z'), QUIET, TZ)).toBe(false); // 21:59
    expect(isQuiet(at('2026-11-29T14:00:00Z'), QUIET, TZ)).toBe(true); // 22:00
    expect(isQuiet(at('2026-11-29T23:00:00Z'), QUIET, TZ)).toBe(false); // 07:00
  });

  it('handles a window that does not wrap midnight', () => {
    const lunch = { start: '12:00', end: '13:30' };
    expect(deferForQuietHours(at('2026-11-29T04:15:00Z'), 'normal', lunch, TZ).toISOString()).toBe(
      '2026-11-29T05:30:00.000Z',
    );
  });
});

describe('cron schedules', () => {
  const weeklyMonday9 = { kind: 'cron' as const, cron: '0 9 * * 1', startAt: null, endAt: at('2026-12-15T00:00:00Z') };

  it('runs at 09:00 Beijing time every Monday until the end date, then stops', () => {
    const first = firstRunAt(weeklyMonday9, at('2026-11-29T00:00:00Z'), TZ)!;
    expect(first.toISOString()).toBe('2026-11-30T01:00:00.000Z');
    const second = nextRunAfter(weeklyMonday9, first, TZ)!;
    expect(second.toISOString()).toBe('2026-12-07T01:00:00.000Z');
    const third = nextRunAfter(weeklyMonday9, second, TZ)!;
    expect(third.toISOString()).toBe('2026-12-14T01:00:00.000Z');
    expect(nextRunAfter(weeklyMonday9, third, TZ)).toBeNull();
  });

  it('starts no earlier than its start date', () => {
    const schedule = { ...weeklyMonday9, startAt: at('2026-12-01T00:00:00Z') };
    expect(firstRunAt(schedule, at('2026-11-29T00:00:00Z'), TZ)!.toISOString()).toBe('2026-12-07T01:00:00.000Z');
  });

  it('refuses an invalid expression, an end before the start and a once-time in the past', () => {
    const now = at('2026-11-29T00:00:00Z');
    expect(() => validateSchedule({ ...weeklyMonday9, cron: '61 * * * *' }, now)).toThrow('周期表达式');
    expect(() => validateSchedule({ ...weeklyMonday9, endAt: at('2026-11-28T00:00:00Z') }, now)).toThrow('结束时间');
    expect(() => validateSchedule({ kind: 'once', at: at('2026-11-28T00:00:00Z') }, now)).toThrow('已经过去');
    expect(() => validateSchedule(weeklyMonday9, now)).not.toThrow();
  });
});

describe('local day', () => {
  it('buckets by the Beijing calendar day, not UTC', () => {
    expect(localDay(at('2026-11-29T16:30:00Z'), TZ)).toBe('2026-11-30');
    expect(localDay(at('2026-11-29T15:59:59Z'), TZ)).toBe('2026-11-29');
  });
});

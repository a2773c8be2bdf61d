// Per-robot windows shared through the database (engine/rate-limit.ts): two limiters stand for
// two worker processes (their own memory, one database). Fixed times, no sleeps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, retryDelayMs } from '../../src/engine/backoff.js';
import { RateSlotModel } from '../../src/db/claims.js';
import {
  IDLE_FORGET_MS,
  MARGIN_MS,
  RateHeadModel,
  raiseHead,
  SharedRateLimiter,
  type Window,
  pruneRateSlots,
} from '../../src/engine/rate-limit.js';
import { type TestApp, startTestApp } from '../helpers/app.js';

const wecom: Window[] = [{ limit: 20, windowMs: 60_000 }];
const dingtalk: Window[] = [{ limit: 20, windowMs: 60_000 }];
const feishu: Window[] = [
  { limit: 5, windowMs: 1_000 },
  { limit: 100, windowMs: 60_000 },
];

/** The most accepted reservation times inside any span of `spanMs`. */
function mostInWindow(accepted: number[], spanMs: number): number {
  const sorted = [...accepted].sort((x, y) => x - y);
  let most = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= spanMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

describe('per-robot windows shared by several workers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('lets a burst of 20 through at once and makes the 21st wait a window (plus the margin) after the first', async () => {
    const a = new SharedRateLimiter('worker-a');
    const at = Date.parse('2026-12-01T00:00:00Z');
    const burst = Array.from({ length: 20 }, () => ({ robot: 'wecom:burst', windows: wecom }));
    expect(await a.reserve(burst, new Date(at))).toEqual(burst.map(() => 0));
    expect(await a.reserve([{ robot: 'wecom:burst', windows: wecom }], new Date(at + 3_000))).toEqual([
      60_000 + MARGIN_MS - 3_000,
    ]);
    // A second process, new to the robot, finds its ring through the duplicate key and the head.
    const b = new SharedRateLimiter('worker-b');
    expect(await b.reserve([{ robot: 'wecom:burst', windows: wecom }], new Date(at + 3_000))).toEqual([
      60_000 + MARGIN_MS - 3_000,
    ]);
    expect(await b.reserve([{ robot: 'wecom:other', windows: wecom }], new Date(at + 3_000))).toEqual([0]);
    expect(await b.reserve([{ robot: 'wecom:burst', windows: wecom }], new Date(at + 60_000 + MARGIN_MS))).toEqual([0]);
  });

  it('two workers asking for one robot every 100 ms never get more than 20 in any minute between them', async () => {
    const a = new SharedRateLimiter('worker-a');
    const b = new SharedRateLimiter('worker-b');
    const accepted: number[] = [];
    const start = Date.parse('2026-12-02T00:00:00Z');
    for (let t0 = start; t0 < start + 200_000; t0 += 100) {
      const now = new Date(t0);
      // Both ask at the same moment, two sends each: the database decides who gets a slot.
      const ask = () => [
        { robot: 'dingtalk:shared', windows: dingtalk },
        { robot: 'dingtalk:shared', windows: dingtalk },
      ];
      const [wa, wb] = await Promise.all([a.reserve(ask(), now), b.reserve(ask(), now)]);
      for (const w of [...wa, ...wb]) if (w === 0) accepted.push(t0);
    }
    // Even when every post arrives up to the margin after its reservation, in the worst order.
    expect(mostInWindow(accepted, 60_000 + MARGIN_MS)).toBeLessThanOrEqual(20);
    // Four rounds of 20 in 200 s: the robot is used, not starved.
    expect(accepted.length).toBe(80);
  });

  it('holds every window of a robot (Feishu: 5 a second and 100 a minute)', async () => {
    const a = new SharedRateLimiter('worker-a');
    const b = new SharedRateLimiter('worker-b');
    const accepted: number[] = [];
    const start = Date.parse('2026-12-03T00:00:00Z');
    for (let t0 = start; t0 < start + 150_000; t0 += 250) {
      const now = new Date(t0);
      const [wa, wb] = await Promise.all([
        a.reserve([{ robot: 'feishu:shared', windows: feishu }], now),
        b.reserve([{ robot: 'feishu:shared', windows: feishu }], now),
      ]);
      for (const w of [...wa, ...wb]) if (w === 0) accepted.push(t0);
    }
    expect(mostInWindow(accepted, 1_000 + 100)).toBeLessThanOrEqual(5);
    expect(mostInWindow(accepted, 60_000 + MARGIN_MS)).toBeLessThanOrEqual(100);
    expect(accepted.length).toBeGreaterThanOrEqual(200);
  });

  it('a ring’s head created by several workers at the same moment: every raise is answered, none fails the reservation', async () => {
    const at = new Date('2026-12-05T00:00:00Z');
    for (let ring = 0; ring < 20; ring++) {
      // Twelve raises of one new head at once: one upsert inserts it, the database refuses the
      // others' inserts with a duplicate key (E11000), which must not fail the reservation.
      await Promise.all(Array.from({ length: 12 }, (_, i) => raiseHead(`wecom:race-${ring}|60000`, i + 1, at)));
      // The head is a hint (FerretDB may lose one of concurrent $max updates; the walk from it is
      // then a little longer): it exists and holds one of the raised numbers.
      const head = await RateHeadModel.findById(`wecom:race-${ring}|60000`).lean();
      expect(head?.seq).toBeGreaterThanOrEqual(1);
      expect(head?.seq).toBeLessThanOrEqual(12);
    }
  });

  it('a robot without published limits is never held (manual forwarding)', async () => {
    const a = new SharedRateLimiter('worker-a');
    const many = Array.from({ length: 50 }, () => ({ robot: 'manual:g1', windows: [] }));
    expect((await a.reserve(many, new Date('2026-12-04T00:00:00Z'))).every((w) => w === 0)).toBe(true);
  });

  it('retention keeps the first round of an active robot, so a new process still finds its ring', async () => {
    const a = new SharedRateLimiter('worker-a');
    const at = Date.parse('2026-12-05T00:00:00Z');
    const ask = (n: number) => Array.from({ length: n }, () => ({ robot: 'wecom:prune', windows: wecom }));
    await a.reserve(ask(20), new Date(at));
    await a.reserve(ask(20), new Date(at + 70_000));
    const slots = () => RateSlotModel.countDocuments({ _id: { $regex: '^wecom:prune' } });
    expect(await slots()).toBe(40);
    await pruneRateSlots(new Date(at + 200_000));
    // Places 0…19 stay (the robot was used within the hour); the second round aged out.
    expect(await slots()).toBe(20);
    const b = new SharedRateLimiter('worker-b');
    const waits = await b.reserve(ask(21), new Date(at + 200_000));
    expect(waits.filter((w) => w === 0)).toHaveLength(20);
    // Idle for more than an hour: forgotten entirely, slots and head.
    await pruneRateSlots(new Date(at + 200_000 + IDLE_FORGET_MS + 120_000));
    expect(await slots()).toBe(0);
    expect(await RateHeadModel.countDocuments({ _id: { $regex: '^wecom:prune' } })).toBe(0);
  });
});

describe('retry backoff', () => {
  it('doubles from 5 s with jitter, caps at 10 minutes, and honours the platform’s wait', () => {
    expect(retryDelayMs(1, DEFAULT_RETRY, 0.5)).toBe(5_000);
    expect(retryDelayMs(3, DEFAULT_RETRY, 0.5)).toBe(20_000);
    expect(retryDelayMs(3, DEFAULT_RETRY, 0)).toBe(10_000);
    expect(retryDelayMs(3, DEFAULT_RETRY, 0.999)).toBeLessThan(30_000);
    expect(retryDelayMs(20, DEFAULT_RETRY, 0.5)).toBe(600_000);
    expect(retryDelayMs(1, DEFAULT_RETRY, 0.5, 600_000)).toBe(600_000);
  });
});

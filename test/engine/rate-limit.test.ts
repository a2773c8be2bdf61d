import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, retryDelayMs } from '../../src/engine/backoff.js';
import { RobotRateLimiter } from '../../src/engine/rate-limit.js';

describe('per-robot sliding windows', () => {
  const wecom = [{ limit: 20, windowMs: 60_000 }];

  it('allows 20 posts a minute to one robot and makes the 21st wait for the first to age out', () => {
    const limiter = new RobotRateLimiter();
    for (let i = 0; i < 20; i++) expect(limiter.reserve('robot-a', wecom, 1_000 + i * 100)).toBe(0);
    expect(limiter.reserve('robot-a', wecom, 3_000)).toBe(1_000 + 60_000 - 3_000);
    expect(limiter.reserve('robot-b', wecom, 3_000)).toBe(0);
    expect(limiter.reserve('robot-a', wecom, 61_001)).toBe(0);
  });

  it('never lets more than the limit through in any window, even across a window edge', () => {
    const limiter = new RobotRateLimiter();
    const accepted: number[] = [];
    for (let t = 0; t < 300_000; t += 250) if (limiter.reserve('r', wecom, t) === 0) accepted.push(t);
    for (const start of accepted) {
      expect(accepted.filter((t) => t >= start && t < start + 60_000).length).toBeLessThanOrEqual(20);
    }
    expect(accepted.length).toBeGreaterThanOrEqual(100);
  });

  it('applies every window of a robot: Feishu 5 a second and 100 a minute', () => {
    const feishu = [
      { limit: 5, windowMs: 1_000 },
      { limit: 100, windowMs: 60_000 },
    ];
    const limiter = new RobotRateLimiter();
    for (let i = 0; i < 5; i++) expect(limiter.reserve('f', feishu, 0)).toBe(0);
    expect(limiter.reserve('f', feishu, 10)).toBe(990);
    let sent = 5;
    for (let t = 1_000; t < 60_000; t += 200) if (limiter.reserve('f', feishu, t) === 0) sent++;
    expect(sent).toBe(100);
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

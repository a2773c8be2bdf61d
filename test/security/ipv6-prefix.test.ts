// Issue 26, finding 4: an IPv6 client holds a whole /64, so every per-address limit counts IPv6
// addresses by their /64: the request limits (login, tip form, pages), the failed-login
// delays and the tip limiter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TipLimiter } from '../../src/tips/limits.js';
import { ADMIN_PASSWORD, type TestApp, startTestApp } from '../helpers/app.js';

const at = new Date('2025-07-01T02:00:00.000Z');

describe('IPv6 clients are counted by their /64', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('stops the 21st login a minute from anywhere in one /64; another /64 is unaffected', async () => {
    const login = (from: string) =>
      t.app
        .inject({
          method: 'POST',
          url: '/api/auth/login',
          payload: { username: 'admin', password: ADMIN_PASSWORD },
          remoteAddress: from,
        })
        .then((r) => r.statusCode);
    for (let i = 1; i <= 20; i += 1) expect(await login(`2001:db8:7:1::${i.toString(16)}`)).toBe(200);
    expect(await login('2001:db8:7:1:ffff:ffff:ffff:fffe')).toBe(429);
    expect(await login('2001:db8:7:2::1')).toBe(200);
  });

  it('gives one /64 the tip limit of one sender', () => {
    const limiter = new TipLimiter({ perSender: 2, perNotice: 100, windowMs: 60_000 });
    expect(limiter.take('2001:db8:9:9::1', 'n1', at, '2025-07-01')).toEqual({ kind: 'ok' });
    expect(limiter.take('2001:db8:9:9::2', 'n1', at, '2025-07-01')).toEqual({ kind: 'ok' });
    expect(limiter.take('2001:db8:9:9:abcd::3', 'n1', at, '2025-07-01')).toEqual({ kind: 'wait', seconds: 60 });
    expect(limiter.take('2001:db8:9:a::1', 'n1', at, '2025-07-01')).toEqual({ kind: 'ok' });
  });
});

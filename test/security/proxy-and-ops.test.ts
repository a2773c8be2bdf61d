// Issue 26, findings 6 and 12: behind a reverse proxy without TRUST_PROXY every client looks
// like the proxy, so the first request from a private peer carrying X-Forwarded-For is warned
// about in the log and on /readyz; /docs and /metrics, open by default on a local install,
// answer loopback peers only (a same-host proxy does not publish them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';

describe('behind a proxy, and the operations endpoints', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('warns in the log and on /readyz when a private peer sends X-Forwarded-For without TRUST_PROXY', async () => {
    const before = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(before.json().warnings).toBeUndefined();
    await t.app.inject({
      method: 'GET',
      url: '/healthz',
      remoteAddress: '10.0.0.5',
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().warnings?.[0]).toContain('TRUST_PROXY');
    const warned = t
      .logs()
      .split('\n')
      .filter((line) => line.includes('"level":40') && line.includes('TRUST_PROXY'));
    expect(warned).toHaveLength(1);
    // Once: the next such request adds no line.
    await t.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.0.0.5', headers: { 'x-forwarded-for': '1.2.3.4' } });
    expect(t.logs().split('\n').filter((line) => line.includes('"level":40') && line.includes('TRUST_PROXY'))).toHaveLength(1);
  });

  it('serves /docs, /openapi.json and /metrics of a local install to loopback peers only', async () => {
    for (const url of ['/metrics', '/openapi.json', '/docs']) {
      const far = await t.app.inject({ method: 'GET', url, remoteAddress: '10.0.0.5' });
      expect(far.statusCode, url).toBe(404);
      const near = await t.app.inject({ method: 'GET', url, remoteAddress: '127.0.0.1' });
      expect(near.statusCode, url).not.toBe(404);
    }
  });
});

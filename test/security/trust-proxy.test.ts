// Finding 1 of issue 15: X-Forwarded-For is believed only from configured proxies, so every
// per-address limit (login, /t, /n), click de-duplication and the audit log's addresses use
// the socket's peer (or what a trusted proxy says about it), never a client-chosen header.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { type TestApp, startTestApp } from '../helpers/app.js';

const login = (t: TestApp, remoteAddress: string, forwardedFor: string) =>
  t.app.inject({
    method: 'POST',
    url: '/api/auth/login',
    remoteAddress,
    headers: { 'x-forwarded-for': forwardedFor },
    payload: { username: 'nobody', password: 'wrong-password' },
  });

/** 25 logins from one socket address, each claiming another client address. */
async function rotatingLogins(t: TestApp, remoteAddress: string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < 25; i++) statuses.push((await login(t, remoteAddress, `198.51.100.${i + 1}`)).statusCode);
  return statuses;
}

describe('TRUST_PROXY configuration', () => {
  it('is off unless set, and takes a list of proxy addresses and CIDRs', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'off' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '127.0.0.1, 10.1.0.0/16,::1' }).trustProxy).toEqual([
      '127.0.0.1',
      '10.1.0.0/16',
      '::1',
    ]);
  });

  it.each(['true', '*', '10.0.0.0/33', 'proxy.example', '10.0.0.1/8/8'])('refuses TRUST_PROXY=%s', (value) => {
    expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(ConfigError);
    expect(() => loadConfig({ TRUST_PROXY: value })).toThrow('TRUST_PROXY');
  });
});

describe('with no trusted proxy (the default)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('when a client rotates X-Forwarded-For, then the login limit still counts its socket address', async () => {
    const statuses = await rotatingLogins(t, '203.0.113.7');
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
  });

  it('records the socket address, not the claimed one, in the audit log', async () => {
    await login(t, '203.0.113.8', '192.0.2.99');
    const entries = await t.ctx.audit.list(t.ctx.regions.rootScope(), { action: 'auth.login-failed', limit: 5 });
    expect(entries[0]?.ip).toBe('203.0.113.8');
  });
});

describe('with TRUST_PROXY listing the proxy', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { TRUST_PROXY: '10.9.0.0/16' } });
  });
  afterAll(() => t.close());

  it('when the trusted proxy forwards different clients, then each has a limit of its own', async () => {
    const statuses = await rotatingLogins(t, '10.9.0.2');
    expect(statuses.filter((s) => s === 429)).toEqual([]);
    const entries = await t.ctx.audit.list(t.ctx.regions.rootScope(), { action: 'auth.login-failed', limit: 1 });
    expect(entries[0]?.ip).toBe('198.51.100.25');
  });

  it('when a client outside the proxy list sends X-Forwarded-For, then it is ignored', async () => {
    const statuses = await rotatingLogins(t, '203.0.113.9');
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
  });
});

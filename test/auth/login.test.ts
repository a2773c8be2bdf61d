import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { ADMIN_PASSWORD, type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

const clock = fixedClock('2026-11-29T08:00:00Z');

describe('login, tokens and failed-login delays', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      clock,
      env: { TOKEN_TTL_HOURS: '2', LOGIN_MAX_FAILURES: '3', LOGIN_LOCKOUT_MINUTES: '10' },
    });
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it('when the password is right, then it returns a token that every API route accepts', async () => {
    const response = await t.request('POST', '/api/auth/login', null, { username: 'admin', password: ADMIN_PASSWORD });
    expect(response.statusCode).toBe(200);
    const { token, user, expiresAt } = response.json();
    expect(token).toMatch(/^jx_/);
    expect(user).toMatchObject({ username: 'admin', role: 'admin', regionCode: '000000' });
    expect(user.passwordHash).toBeUndefined();
    expect(new Date(expiresAt).getTime() - clock.now().getTime()).toBe(2 * 3600_000);
    const me = await t.request('GET', '/api/auth/me', token);
    expect(me.statusCode).toBe(200);
    expect(me.json().username).toBe('admin');
  });

  it('when the password is wrong or the user unknown, then both get the same 401', async () => {
    const wrong = await t.request('POST', '/api/auth/login', null, { username: 'admin', password: 'nope-nope-nope' });
    const unknown = await t.request('POST', '/api/auth/login', null, { username: 'ghost', password: 'nope-nope-nope' });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json().message).toBe(unknown.json().message);
  });

  it('when a token has expired, then it answers 401 saying so', async () => {
    const { token } = await t.userToken('viewer', TREE.countyA.code);
    expect((await t.request('GET', '/api/auth/me', token)).statusCode).toBe(200);
    clock.advance(2 * 3600_000 + 1000);
    const response = await t.request('GET', '/api/auth/me', token);
    expect(response.statusCode).toBe(401);
    expect(response.json().message).toContain('过期');
    t.adminToken = await t.login('admin', ADMIN_PASSWORD); // the admin's token expired too
  });

  it('when logging out, then the token stops working at once', async () => {
    const { token } = await t.userToken('editor', TREE.countyA.code);
    expect((await t.request('POST', '/api/auth/logout', token)).statusCode).toBe(200);
    expect((await t.request('GET', '/api/auth/me', token)).statusCode).toBe(401);
  });

  it('delays an address after repeated failures, then lets it in after the delay', async () => {
    const { username } = await t.userToken('editor', TREE.countyA.code);
    const password = `pw-${username}-secret`;
    for (let i = 0; i < 3; i++) {
      expect(
        (await t.request('POST', '/api/auth/login', null, { username, password: 'wrong-password' })).statusCode,
      ).toBe(401);
    }
    const delayed = await t.request('POST', '/api/auth/login', null, { username, password });
    expect(delayed.statusCode).toBe(429);
    expect(delayed.json().message).toContain('秒后再试');
    expect(delayed.headers['retry-after']).toBe('5');
    clock.advance(5000);
    expect((await t.request('POST', '/api/auth/login', null, { username, password })).statusCode).toBe(200);
  });

  it('when an admin deactivates a user, then their open token is refused and they cannot log in', async () => {
    const user = await t.userToken('officer', TREE.countyA.code);
    const patch = await t.request('PATCH', `/api/users/${user.id}`, t.adminToken, { active: false });
    expect(patch.statusCode).toBe(200);
    expect((await t.request('GET', '/api/auth/me', user.token)).statusCode).toBe(401);
    const login = await t.request('POST', '/api/auth/login', null, {
      username: user.username,
      password: `pw-${user.username}-secret`,
    });
    expect(login.statusCode).toBe(401); // the same answer as a wrong password: nothing confirmed
  });

  it('when a user changes their password, then the old one and old tokens stop working', async () => {
    const user = await t.userToken('reviewer', TREE.countyA.code);
    const oldPassword = `pw-${user.username}-secret`;
    const change = await t.request('POST', '/api/auth/password', user.token, {
      currentPassword: oldPassword,
      newPassword: 'a-brand-new-password',
    });
    expect(change.statusCode).toBe(200);
    expect((await t.request('GET', '/api/auth/me', user.token)).statusCode).toBe(401);
    await expect(t.login(user.username, oldPassword)).rejects.toThrow();
    expect(await t.login(user.username, 'a-brand-new-password')).toMatch(/^jx_/);
  });

  it('refuses a new password shorter than 10 characters', async () => {
    const response = await t.request('POST', '/api/users', t.adminToken, {
      username: 'shortpw',
      displayName: '短密码',
      password: 'short',
      role: 'viewer',
      regionCode: TREE.countyA.code,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().field).toBe('body.password');
  });

  it('never writes passwords or tokens into the logs', async () => {
    const token = await t.login('admin', ADMIN_PASSWORD);
    await t.request('GET', '/api/auth/me', token);
    const logs = t.logs();
    expect(logs).toContain('/api/auth/login');
    expect(logs).not.toContain(ADMIN_PASSWORD);
    expect(logs).not.toContain(token);
  });
});

describe('login rate limit per address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('when one address tries more than 20 logins a minute, then it answers 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) {
      statuses.push((await t.request('POST', '/api/auth/login', null, { username: 'x', password: 'y' })).statusCode);
    }
    // one login already happened in startTestApp
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
    const limited = await t.request('POST', '/api/auth/login', null, { username: 'x', password: 'y' });
    expect(limited.statusCode, limited.body).toBe(429);
    expect(limited.json()).toMatchObject({ statusCode: 429, code: 'too_many_requests' });
    expect(limited.json().message).toContain('秒后再试');
  });
});

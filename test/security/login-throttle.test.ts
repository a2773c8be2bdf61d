// Findings 2 and 12 of issue 15: failed logins slow down the address that fails (per account
// and address, and per address), with growing delays, instead of locking the account for
// everyone; unknown, known and deactivated accounts answer alike; an admin can unlock;
// password changes are throttled and need the current password; dead sessions are purged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionModel } from '../../src/auth/model.js';
import { fixedClock } from '../../src/lib/clock.js';
import { ADMIN_PASSWORD, type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

const clock = fixedClock('2026-11-29T08:00:00Z');
let addressCounter = 0;
/** A fresh client address, so the per-address request limit of one test does not reach the next. */
const freshAddress = () => `198.51.100.${++addressCounter}`;

function loginFrom(t: TestApp, remoteAddress: string, username: string, password: string) {
  return t.app.inject({ method: 'POST', url: '/api/auth/login', remoteAddress, payload: { username, password } });
}

async function failures(t: TestApp, address: string, username: string, count: number) {
  const answers = [];
  for (let i = 0; i < count; i++) answers.push(await loginFrom(t, address, username, 'wrong-password'));
  return answers;
}

describe('failed logins: growing delays per account and address, never a lock strangers control', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ clock, env: { LOGIN_MAX_FAILURES: '3', LOGIN_LOCKOUT_MINUTES: '10' } });
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it("when a stranger keeps failing on the admin's name, then the admin still logs in from their own address", async () => {
    const stranger = freshAddress();
    const answers = await failures(t, stranger, 'admin', 6);
    expect(answers.map((a) => a.statusCode)).toContain(429);
    const own = await loginFrom(t, freshAddress(), 'admin', ADMIN_PASSWORD);
    expect(own.statusCode, own.body).toBe(200);
  });

  it('when the same address keeps failing, then each wait doubles, up to the longest delay', async () => {
    const { username } = await t.userToken('editor', TREE.countyA.code);
    const address = freshAddress();
    const waits: string[] = [];
    // 10 failures and 9 good tries: under the 20 a minute that one address may send at all.
    for (let i = 0; i < 10; i++) {
      const answer = await loginFrom(t, address, username, 'wrong-password');
      expect(answer.statusCode).toBe(401);
      if (i >= 2) {
        // Inside the delay nothing is checked: the right password gets the same 429.
        const waiting = await loginFrom(t, address, username, `pw-${username}-secret`);
        expect(waiting.statusCode).toBe(429);
        expect(waiting.json()).toMatchObject({ statusCode: 429, code: 'too_many_requests' });
        expect(waiting.json().message).toContain('秒后再试');
        waits.push(String(waiting.headers['retry-after']));
        clock.advance(Number(waiting.headers['retry-after']) * 1000);
      }
    }
    expect(waits).toEqual(['5', '10', '20', '40', '80', '160', '320', '600']);
    const after = await loginFrom(t, address, username, `pw-${username}-secret`);
    expect(after.statusCode, after.body).toBe(200);
  });

  it('answers an unknown username exactly as a known one, failure after failure', async () => {
    const { username } = await t.userToken('viewer', TREE.countyA.code);
    const known = await failures(t, freshAddress(), username, 5);
    const unknown = await failures(t, freshAddress(), `${username}-nobody`, 5);
    const shape = (a: (typeof known)[number]) => [a.statusCode, a.json().message, a.headers['retry-after']];
    expect(unknown.map(shape)).toEqual(known.map(shape));
  });

  it('when a deactivated account gives its right password, then the answer is the same 401 as a wrong one', async () => {
    const user = await t.userToken('officer', TREE.countyA.code);
    expect((await t.request('PATCH', `/api/users/${user.id}`, t.adminToken, { active: false })).statusCode).toBe(200);
    const right = await loginFrom(t, freshAddress(), user.username, `pw-${user.username}-secret`);
    const wrong = await loginFrom(t, freshAddress(), user.username, 'wrong-password');
    expect(right.statusCode).toBe(401);
    expect(right.json()).toEqual(wrong.json());
  });

  it('when one address tries many usernames, then the address itself is slowed down', async () => {
    const address = freshAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 13; i++) {
      statuses.push((await loginFrom(t, address, `spray-${i}`, 'wrong-password')).statusCode);
    }
    expect(statuses.slice(0, 12)).toEqual(Array(12).fill(401));
    expect((await loginFrom(t, address, `spray-new`, 'wrong-password')).statusCode).toBe(429);
  });

  it('counts failures arriving at once exactly, the first ones racing to create the counter', async () => {
    const address = freshAddress();
    const counts = await Promise.all(
      Array.from({ length: 8 }, () => t.ctx.sessions.throttle.failed('racing-user', address)),
    );
    expect([...counts].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('when an admin unlocks an account, then its owner gets in at once from the delayed address', async () => {
    const { id, username } = await t.userToken('reviewer', TREE.countyA.code);
    const address = freshAddress();
    await failures(t, address, username, 4);
    expect((await loginFrom(t, address, username, `pw-${username}-secret`)).statusCode).toBe(429);
    const unlock = await t.request('POST', `/api/users/${id}/unlock`, t.adminToken);
    expect(unlock.statusCode, unlock.body).toBe(200);
    expect(unlock.json().cleared).toBeGreaterThanOrEqual(1);
    expect((await loginFrom(t, address, username, `pw-${username}-secret`)).statusCode).toBe(200);
  });
});

describe('password changes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ clock, env: { LOGIN_MAX_FAILURES: '3' } });
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  const change = (token: string, remoteAddress: string, currentPassword: string) =>
    t.app.inject({
      method: 'POST',
      url: '/api/auth/password',
      remoteAddress,
      headers: { authorization: `Bearer ${token}` },
      payload: { currentPassword, newPassword: 'another-long-password' },
    });

  it('when wrong current passwords keep coming, then they are delayed like failed logins', async () => {
    const user = await t.userToken('editor', TREE.countyA.code);
    const address = freshAddress();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await change(user.token, address, 'wrong-password')).statusCode);
    expect(statuses).toEqual([400, 400, 400, 429]);
    expect((await change(user.token, address, `pw-${user.username}-secret`)).statusCode).toBe(429);
  });

  it('when one address calls it more than 20 times a minute, then it answers 429', async () => {
    const user = await t.userToken('viewer', TREE.countyA.code);
    const address = freshAddress();
    for (let i = 0; i < 20; i++) await change(user.token, address, 'wrong-password');
    const limited = await change(user.token, address, 'wrong-password');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().message).toContain('请求过于频繁');
  });

  it('when an admin sets their own password through PATCH /api/users/:id, then the current one is required', async () => {
    const admin = await t.userToken('admin', TREE.city.code);
    const me = (await t.request('GET', '/api/auth/me', admin.token)).json();
    const without = await t.request('PATCH', `/api/users/${me.id}`, admin.token, { password: 'stolen-token-password' });
    expect(without.statusCode).toBe(400);
    expect(without.json()).toMatchObject({ code: 'invalid_input', field: 'currentPassword' });
    const wrong = await t.request('PATCH', `/api/users/${me.id}`, admin.token, {
      password: 'stolen-token-password',
      currentPassword: 'wrong-password',
    });
    expect(wrong.json()).toMatchObject({ statusCode: 400, field: 'currentPassword' });
    const right = await t.request('PATCH', `/api/users/${me.id}`, admin.token, {
      password: 'my-own-new-password',
      currentPassword: `pw-${admin.username}-secret`,
    });
    expect(right.statusCode, right.body).toBe(200);
    expect(await t.login(admin.username, 'my-own-new-password')).toMatch(/^jx_/);
  });
});

describe('session purge', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ clock, env: { TOKEN_TTL_HOURS: '1' } });
  });
  afterAll(() => t.close());

  it('when sessions expired or were revoked over a day ago, then a later login deletes them', async () => {
    const revoked = await t.login('admin', ADMIN_PASSWORD);
    await t.request('POST', '/api/auth/logout', revoked);
    await t.login('admin', ADMIN_PASSWORD); // expires in an hour, like the others
    expect(await SessionModel.countDocuments()).toBe(3);
    clock.advance(26 * 3600_000);
    const fresh = await t.login('admin', ADMIN_PASSWORD);
    expect(await SessionModel.countDocuments()).toBe(1);
    expect((await t.request('GET', '/api/auth/me', fresh)).statusCode).toBe(200);
    expect((await t.request('GET', '/api/auth/me', revoked)).statusCode).toBe(401);
  });
});

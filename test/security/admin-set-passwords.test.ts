// Passwords an admin sets (a new user's first password, a reset) are known to the admin: the
// user must change them before using the API (issue 26, finding 9). A password the user sets
// themselves clears the flag.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('passwords set by an admin', () => {
  let t: TestApp;
  let userId: string;

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  const mustChange = async (password: string) => {
    const token = await t.login('newcomer', password);
    const me = await t.request('GET', '/api/auth/me', token);
    const notices = await t.request('GET', '/api/notices', token);
    return { flag: me.json().mustChangePassword, notices: notices.statusCode, token };
  };

  it('when an admin creates a user, then the first password must be changed before anything else', async () => {
    const created = await t.request('POST', '/api/users', t.adminToken, {
      username: 'newcomer',
      displayName: '新同事',
      password: 'set-by-the-admin-1',
      role: 'editor',
      regionCode: TREE.countyA.code,
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().mustChangePassword).toBe(true);
    userId = created.json().id;
    const first = await mustChange('set-by-the-admin-1');
    expect(first).toMatchObject({ flag: true, notices: 403 });
    const own = await t.request('POST', '/api/auth/password', first.token, {
      currentPassword: 'set-by-the-admin-1',
      newPassword: 'my-own-password-1',
    });
    expect(own.statusCode, own.body).toBe(200);
    expect(await mustChange('my-own-password-1')).toMatchObject({ flag: false, notices: 200 });
  });

  it('when an admin resets the password, then it must be changed again', async () => {
    const reset = await t.request('PATCH', `/api/users/${userId}`, t.adminToken, { password: 'reset-by-the-admin-2' });
    expect(reset.statusCode, reset.body).toBe(200);
    expect(reset.json().mustChangePassword).toBe(true);
    expect(await mustChange('reset-by-the-admin-2')).toMatchObject({ flag: true, notices: 403 });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserModel } from '../../src/auth/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';

describe('the generated first-start admin password', () => {
  let t: TestApp;
  let generated: string;
  let configuredAdminMustChange: unknown;

  beforeAll(async () => {
    t = await startTestApp();
    configuredAdminMustChange = (await t.request('GET', '/api/auth/me', t.adminToken)).json().mustChangePassword;
    // An empty user table, as on a first start with no ADMIN_PASSWORD configured.
    await UserModel.deleteMany({});
    generated = (await t.ctx.users.ensureFirstAdmin('boss', undefined))!;
  });
  afterAll(() => t.close());

  it('when the admin signs in with it, then the API says it must change and refuses everything but /api/auth', async () => {
    const token = await t.login('boss', generated);
    const me = await t.request('GET', '/api/auth/me', token);
    expect(me.json()).toMatchObject({ username: 'boss', mustChangePassword: true });
    const notices = await t.request('GET', '/api/notices', token);
    expect(notices.statusCode).toBe(403);
    expect(notices.json().message).toContain('初始密码');
  });

  it('when it has been changed, then the flag is gone and the API answers', async () => {
    const token = await t.login('boss', generated);
    const changed = await t.request('POST', '/api/auth/password', token, {
      currentPassword: generated,
      newPassword: 'a-password-of-my-own',
    });
    expect(changed.statusCode).toBe(200);
    const fresh = await t.login('boss', 'a-password-of-my-own');
    expect((await t.request('GET', '/api/auth/me', fresh)).json().mustChangePassword).toBe(false);
    expect((await t.request('GET', '/api/notices', fresh)).statusCode).toBe(200);
  });

  it('a configured ADMIN_PASSWORD is the operator’s choice: no change is asked', async () => {
    expect(configuredAdminMustChange).toBe(false);
  });
});

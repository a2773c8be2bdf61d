// Finding 10 of issue 15: an admin manages only users strictly below themselves (any other
// role inside their scope, admins of regions strictly inside it); a peer admin, or making a
// peer admin, needs a wider admin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('admins over admins', () => {
  let t: TestApp;
  let countyAdmin: { token: string; id: string };
  let peer: { token: string; id: string; username: string };

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    countyAdmin = await t.userToken('admin', TREE.countyA.code);
    peer = await t.userToken('admin', TREE.countyA.code);
  });
  afterAll(() => t.close());

  const newUser = (role: string, regionCode: string) => ({
    username: `u${Math.random().toString(36).slice(2, 10)}`,
    displayName: '新用户',
    password: 'long-enough-password',
    role,
    regionCode,
  });

  it('refuses a county admin creating another admin of the same county', async () => {
    const response = await t.request('POST', '/api/users', countyAdmin.token, newUser('admin', TREE.countyA.code));
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ statusCode: 403, code: 'forbidden' });
    expect(response.json().message).toContain('上级管理员');
  });

  it('refuses a county admin resetting the password, role or activation of a peer admin', async () => {
    for (const change of [{ password: 'taken-over-password' }, { role: 'viewer' }, { active: false }]) {
      const response = await t.request('PATCH', `/api/users/${peer.id}`, countyAdmin.token, change);
      expect(response.statusCode, JSON.stringify(change)).toBe(403);
    }
    expect((await t.request('GET', '/api/auth/me', peer.token)).statusCode).toBe(200);
    expect((await t.request('POST', `/api/users/${peer.id}/unlock`, countyAdmin.token)).statusCode).toBe(403);
  });

  it('refuses promoting a user of the same county to admin', async () => {
    const viewer = await t.userToken('viewer', TREE.countyA.code);
    const response = await t.request('PATCH', `/api/users/${viewer.id}`, countyAdmin.token, { role: 'admin' });
    expect(response.statusCode).toBe(403);
  });

  it('lets a county admin manage township admins and other roles of the county', async () => {
    const created = await t.request('POST', '/api/users', countyAdmin.token, newUser('admin', TREE.townshipA.code));
    expect(created.statusCode, created.body).toBe(201);
    const reset = await t.request('PATCH', `/api/users/${created.json().id}`, countyAdmin.token, {
      password: 'a-reset-password',
    });
    expect(reset.statusCode, reset.body).toBe(200);
    const editor = await t.request('POST', '/api/users', countyAdmin.token, newUser('editor', TREE.countyA.code));
    expect(editor.statusCode).toBe(201);
  });

  it('lets a wider admin manage the county admins', async () => {
    const response = await t.request('PATCH', `/api/users/${peer.id}`, t.adminToken, { password: 'reset-by-the-city' });
    expect(response.statusCode, response.body).toBe(200);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('audit log', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it('records logins, failed logins and admin changes with actor, target, time and address', async () => {
    const user = await t.userToken('editor', TREE.countyA.code);
    await t.request('POST', '/api/auth/login', null, { username: user.username, password: 'wrong-password' });
    await t.request('PATCH', `/api/users/${user.id}`, t.adminToken, { displayName: '改过名' });
    const response = await t.request('GET', '/api/audit?limit=50', t.adminToken);
    expect(response.statusCode).toBe(200);
    const entries = response.json() as Array<Record<string, unknown>>;
    const actions = entries.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['auth.login', 'auth.login-failed', 'user.create', 'user.update']));
    const update = entries.find((e) => e.action === 'user.update')!;
    expect(update).toMatchObject({ actorName: 'admin', targetKind: 'user', targetId: user.id, ip: '127.0.0.1' });
    expect(new Date(update.at as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('keeps secrets out of entries even when a password is changed', async () => {
    const user = await t.userToken('viewer', TREE.countyA.code);
    await t.request('PATCH', `/api/users/${user.id}`, t.adminToken, { password: 'secret-new-password-1' });
    const body = (await t.request('GET', '/api/audit?action=user.update', t.adminToken)).body;
    expect(body).toContain('password');
    expect(body).not.toContain('secret-new-password-1');
  });

  it('pages newest first with a before cursor', async () => {
    const first = (await t.request('GET', '/api/audit?limit=2', t.adminToken)).json();
    expect(first).toHaveLength(2);
    const next = (await t.request('GET', `/api/audit?limit=2&before=${first[1].id}`, t.adminToken)).json();
    expect(next[0].id < first[1].id).toBe(true);
  });

  it('shows a county admin only what happened inside the county', async () => {
    const countyAdmin = await t.userToken('admin', TREE.countyA.code);
    const body = (await t.request('GET', '/api/audit?limit=500', countyAdmin.token)).json() as Array<{
      actorName: string | null;
    }>;
    expect(body.length).toBeGreaterThan(0);
    expect(body.map((e) => e.actorName)).not.toContain('admin');
  });

  it('refuses an inverted date range', async () => {
    const response = await t.request(
      'GET',
      '/api/audit?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z',
      t.adminToken,
    );
    expect(response.statusCode).toBe(400);
  });

  it('has no route that changes or deletes an entry', () => {
    const writes = t.app.accessTable.filter((r) => r.url.startsWith('/api/audit') && r.method !== 'GET');
    expect(writes).toEqual([]);
  });
});

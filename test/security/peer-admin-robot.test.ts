// Issue 26, finding 8: an admin cannot change or clear a same-level admin's notification robot
// (it would redirect the peer's digests and task links), as user edits already forbid; a wider
// admin can, and everyone can set their own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('a peer admin’s notification robot', () => {
  let t: TestApp;
  let admin: { token: string; id: string };
  let peer: { token: string; id: string };
  const robot = (key: string) => ({ channel: { kind: 'wecom', key } });

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    admin = await t.userToken('admin', TREE.countyA.code);
    peer = await t.userToken('admin', TREE.countyA.code);
  });
  afterAll(() => t.close());

  it('refuses a same-level admin setting or clearing it', async () => {
    const own = await t.request('PUT', `/api/users/${peer.id}/notify-robot`, peer.token, robot('peer-own-robot'));
    expect(own.statusCode, own.body).toBe(200);
    const set = await t.request('PUT', `/api/users/${peer.id}/notify-robot`, admin.token, robot('attacker-robot'));
    expect(set.statusCode).toBe(403);
    expect(set.json().message).toContain('同级管理员');
    const cleared = await t.request('DELETE', `/api/users/${peer.id}/notify-robot`, admin.token);
    expect(cleared.statusCode).toBe(403);
  });

  it('lets a wider admin set it', async () => {
    const set = await t.request('PUT', `/api/users/${peer.id}/notify-robot`, t.adminToken, robot('city-set-robot'));
    expect(set.statusCode, set.body).toBe(200);
  });
});

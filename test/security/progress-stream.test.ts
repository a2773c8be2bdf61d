// Finding 9 of issue 15: the campaign progress stream (SSE) re-checks the caller's session at
// every update, so a logout or deactivation ends it, and one user holds only a few at once.
// The stream's wait between updates is a gate the test opens, so nothing sleeps.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessControl } from '../../src/http/access.js';
import { errorHandling } from '../../src/http/errors.js';
import { validation } from '../../src/http/validation.js';
import { trackingRoutes } from '../../src/tracking/routes.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { createCampaign, writeBatch } from '../tracking/ledger.js';

const path = ['000000', TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code];

describe('campaign progress stream', () => {
  let t: TestApp;
  let streams: FastifyInstance;
  let campaignId: string;
  /** Streams parked in their wait between two updates, each with the key that lets it go on. */
  const parked: Array<() => void> = [];
  let onPark: (() => void) | null = null;
  const parkedCount = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (parked.length >= count) resolve();
        else onPark = check;
      };
      check();
    });

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    campaignId = await createCampaign(path.slice(0, 4), '进行中的活动');
    await writeBatch(t.ctx, {
      id: `${campaignId}@r1|${TREE.townshipA.code}|0`,
      campaignId,
      category: 'anti_fraud',
      day: '2026-11-29',
      regionPath: path,
      items: [
        { groupId: '65f000000000000000000001', villageCode: TREE.villageA.code, memberCount: 10, status: 'pending' },
      ],
    });
    streams = Fastify();
    await streams.register(validation);
    await streams.register(errorHandling);
    await streams.register(accessControl, { sessions: t.ctx.sessions });
    await streams.register(trackingRoutes, {
      ...t.ctx.tracking,
      streamsPerUser: 2,
      streamWait: () =>
        new Promise<void>((resolve) => {
          parked.push(resolve);
          onPark?.();
        }),
    });
    await streams.ready();
  });
  afterAll(async () => {
    await streams.close();
    await t.close();
  });

  const open = (token: string) =>
    streams.inject({
      method: 'GET',
      url: `/api/campaigns/${campaignId}/progress/stream`,
      headers: { authorization: `Bearer ${token}` },
    });

  it('when the user logs out while the stream runs, then the next update ends it with a message', async () => {
    const { token } = await t.userToken('viewer', TREE.countyA.code);
    const stream = open(token);
    await parkedCount(1);
    expect((await t.request('POST', '/api/auth/logout', token)).statusCode).toBe(200);
    parked.shift()!();
    const answer = await stream;
    expect(answer.body.match(/event: progress/g)).toHaveLength(1);
    expect(answer.body).toContain('event: error');
    expect(answer.body).toContain('登录已失效');
    expect(parked).toHaveLength(0);
  });

  it('when an admin deactivates the user, then the stream ends at the next update', async () => {
    const user = await t.userToken('editor', TREE.countyA.code);
    const stream = open(user.token);
    await parkedCount(1);
    expect((await t.request('PATCH', `/api/users/${user.id}`, t.adminToken, { active: false })).statusCode).toBe(200);
    parked.shift()!();
    expect((await stream).body).toContain('登录已失效');
  });

  it('refuses a user more streams than the cap while theirs run, and allows one again when one ends', async () => {
    const { token, username } = await t.userToken('viewer', TREE.countyA.code);
    const first = open(token);
    const second = open(token);
    await parkedCount(2);
    const third = await open(token);
    expect(third.statusCode).toBe(429);
    expect(third.json()).toMatchObject({ statusCode: 429, code: 'too_many_requests' });
    expect(third.json().message).toContain('实时进度过多');
    const other = await t.userToken('viewer', TREE.countyA.code);
    const othersStream = open(other.token);
    await parkedCount(3);
    await t.request('POST', '/api/auth/logout', token);
    await t.request('POST', '/api/auth/logout', other.token);
    while (parked.length > 0) parked.shift()!();
    await Promise.all([first, second, othersStream]);
    const again = await t.login(username, `pw-${username}-secret`);
    const reopened = open(again);
    await parkedCount(1);
    await t.request('POST', '/api/auth/logout', again);
    parked.shift()!();
    expect((await reopened).statusCode).toBe(200);
  });
});

// A campaign whose audience is "villages within R km of the incident" posts to exactly the
// groups of those villages: the radius term travels with the campaign to the engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

const clock = fixedClock('2026-11-29T02:00:00Z');

describe('a campaign targeted by distance', () => {
  let w: DeliveryWorld;
  // Three villages of township A: two about 1 and 3 km from the incident, one about 20 km away.
  const near = { lat: 35.95, lng: 114.9, radiusKm: 5 };
  const VILLAGES = [
    { code: '440106001011', name: '近村', lat: 35.959, lng: 114.9 },
    { code: '440106001012', name: '次近村', lat: 35.95, lng: 114.933 },
    { code: '440106001013', name: '远村', lat: 36.13, lng: 114.9 },
  ];

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    for (const village of VILLAGES) {
      const response = await w.t.request('POST', '/api/regions', w.t.adminToken, {
        ...village,
        parentCode: TREE.townshipA.code,
      });
      expect(response.statusCode, response.body).toBe(201);
    }
  });
  afterAll(() => w.close());

  it('posts to the groups of the villages within the radius, and to no other', async () => {
    const inside = [...(await wecomGroups(w, 2, VILLAGES[0]!.code)), ...(await wecomGroups(w, 1, VILLAGES[1]!.code))];
    const outside = [...(await wecomGroups(w, 2, VILLAGES[2]!.code)), ...(await wecomGroups(w, 1, TREE.villageA.code))];
    const noticeId = await approvedNotice(w);
    const audience = { ...audienceOf([]), near };
    const preview = await w.t.request('POST', '/api/audience/preview', w.editor, audience);
    expect(preview.json()).toMatchObject({ groupCount: 3, radius: { villageCount: 2, groupCount: 3 } });
    const id = await approvedCampaign(w, { title: '案发地周边', noticeId, audience, schedule: { kind: 'now' } });
    expect((await w.t.request('GET', `/api/campaigns/${id}`, w.editor)).json().audience.near).toEqual(near);
    await runUntilIdle(w);
    const robots = new Set(w.doubles.received({ platform: 'wecom' }).map((m) => m.robot));
    for (const group of inside) expect(robots.has(group.key), group.key).toBe(true);
    for (const group of outside) expect(robots.has(group.key), group.key).toBe(false);
  });
});

// Radius targeting: "villages within R km of a point", checked against a great-circle
// distance computed here in another way (angle between unit vectors, not the haversine the
// service uses), over villages spread like the demo county's (35.8–36.1°N, 114.7–115.1°E).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/lib/seeded-random.js';
import { Scope } from '../../src/regions/scope.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { createGroup } from '../helpers/groups.js';

const COUNTY_X = '410922';
const COUNTY_Y = '410923';

interface Village {
  code: string;
  county: string;
  lat: number | null;
  lng: number | null;
}
interface Made {
  id: string;
  village: string;
  county: string;
  tags: string[];
  selectable: boolean;
}

/** Great-circle distance as the angle between the points' unit vectors (atan2 of |a×b| and a·b). */
function distanceKm(lat1: number, lng1: number, lat2: number, lng2: number): number {
  const unit = (lat: number, lng: number) => {
    const φ = (lat * Math.PI) / 180;
    const λ = (lng * Math.PI) / 180;
    return [Math.cos(φ) * Math.cos(λ), Math.cos(φ) * Math.sin(λ), Math.sin(φ)] as const;
  };
  const [ax, ay, az] = unit(lat1, lng1);
  const [bx, by, bz] = unit(lat2, lng2);
  const cross = Math.hypot(ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx);
  const dot = ax * bx + ay * by + az * bz;
  return 6371.0088 * Math.atan2(cross, dot);
}

describe('audience selection by distance', () => {
  let t: TestApp;
  const villages: Village[] = [];
  const groups: Made[] = [];

  const within = (lat: number, lng: number, km: number, county?: string) =>
    villages.filter(
      (v) =>
        v.lat !== null &&
        v.lng !== null &&
        (!county || v.county === county) &&
        distanceKm(lat, lng, v.lat, v.lng) <= km,
    );

  beforeAll(async () => {
    t = await startTestApp();
    const rand = seededRandom(1313);
    const post = async (body: object) => {
      const response = await t.request('POST', '/api/regions', t.adminToken, body);
      if (response.statusCode !== 201) throw new Error(response.body);
    };
    await post({ code: '410000', name: '河南省', parentCode: '000000' });
    await post({ code: '410900', name: '濮阳市', parentCode: '410000' });
    for (const [county, name, townships] of [
      [COUNTY_X, '清丰县', 3],
      [COUNTY_Y, '南乐县', 1],
    ] as const) {
      await post({ code: county, name, parentCode: '410900' });
      for (let tw = 1; tw <= townships; tw += 1) {
        const township = `${county}${String(tw).padStart(3, '0')}`;
        await post({ code: township, name: `${name}${tw}镇`, parentCode: county });
        for (let v = 1; v <= 18; v += 1) {
          const code = `${township}${String(v).padStart(3, '0')}`;
          // Three villages of county X have no coordinates yet.
          const located = !(county === COUNTY_X && tw === 1 && v <= 3);
          const lat = located ? 35.8 + rand() * 0.3 : null;
          const lng = located ? 114.7 + rand() * 0.4 : null;
          await post({ code, name: `${tw}镇${v}村`, parentCode: township, ...(located ? { lat, lng } : {}) });
          villages.push({ code, county, lat, lng });
        }
      }
    }
    for (const [i, village] of villages.entries()) {
      for (let g = 0; g < (i % 4 === 0 ? 2 : 1); g += 1) {
        const tags = i % 5 === 0 ? ['学校'] : i % 7 === 0 ? ['重点村'] : [];
        const active = i % 13 !== 0;
        const made = await createGroup(t, {
          regionCode: village.code,
          memberCount: 50 + i,
          tags,
          active,
          channel: { kind: 'manual' },
        });
        groups.push({ id: made.id, village: village.code, county: village.county, tags, selectable: active });
      }
    }
    // One flagged group: never selected.
    const flagged = groups.find((g) => g.selectable && g.county === COUNTY_X)!;
    await t.ctx.groups.flagGroup(flagged.id, '机器人已被移除');
    flagged.selectable = false;
  });
  afterAll(() => t.close());

  const POINTS = [
    { lat: 35.95, lng: 114.9 },
    { lat: 35.82, lng: 114.72 },
    { lat: 36.08, lng: 115.05 },
    { lat: 35.9, lng: 115.2 }, // east of every village
  ];
  const RADII = [1.5, 6, 15, 60];

  it('takes in exactly the villages and groups an independent great-circle computation finds, for several points and radii', async () => {
    for (const point of POINTS) {
      for (const radiusKm of RADII) {
        const near = { ...point, radiusKm };
        const expectedVillages = new Set(within(point.lat, point.lng, radiusKm).map((v) => v.code));
        const expectedGroups = groups.filter((g) => g.selectable && expectedVillages.has(g.village));
        const response = await t.request('POST', '/api/audience/preview', t.adminToken, { near });
        const label = JSON.stringify(near);
        if (expectedGroups.length === 0 && expectedVillages.size === 0) {
          expect(response.json().radius, label).toMatchObject({ villageCount: 0, groupCount: 0 });
          continue;
        }
        expect(response.statusCode, response.body).toBe(200);
        const totals = response.json();
        expect(totals.radius, label).toMatchObject({
          villageCount: expectedVillages.size,
          groupCount: expectedGroups.length,
        });
        expect(totals.groupCount, label).toBe(expectedGroups.length);
        // The engine's stream sends to exactly those groups.
        const streamed: string[] = [];
        for await (const batch of t.ctx.audience.selectedGroupBatches(t.ctx.regions.rootScope(), { near })) {
          streamed.push(...batch.map((m) => m.groupId));
        }
        expect(new Set(streamed), label).toEqual(new Set(expectedGroups.map((g) => g.id)));
      }
    }
  });

  it('combines with tags, exclusions and the caller’s scope', async () => {
    const { token } = await t.userToken('editor', COUNTY_X);
    const near = { lat: 35.95, lng: 114.9, radiusKm: 15 };
    const spec = { near, tags: ['重点村'], excludeTags: ['学校'], excludeRegions: [`${COUNTY_X}002`] };
    const inRadius = new Set(within(near.lat, near.lng, near.radiusKm, COUNTY_X).map((v) => v.code));
    const expected = groups.filter(
      (g) =>
        g.selectable &&
        g.county === COUNTY_X &&
        (inRadius.has(g.village) || g.tags.includes('重点村')) &&
        !g.tags.includes('学校') &&
        !g.village.startsWith(`${COUNTY_X}002`),
    );
    const response = await t.request('POST', '/api/audience/preview', token, spec);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ groupCount: expected.length, radius: { villageCount: inRadius.size } });
    const streamed: string[] = [];
    for await (const batch of t.ctx.audience.selectedGroupBatches(new Scope(COUNTY_X), spec)) {
      streamed.push(...batch.map((m) => m.groupId));
    }
    expect(new Set(streamed)).toEqual(new Set(expected.map((g) => g.id)));
  });

  it('reports the villages without coordinates instead of silently leaving them out', async () => {
    const response = await t.request('POST', '/api/audience/preview', t.adminToken, {
      near: { lat: 35.95, lng: 114.9, radiusKm: 20 },
    });
    expect(response.json().radius).toMatchObject({
      villagesWithoutCoordinates: 3,
      withoutCoordinates: [
        { code: `${COUNTY_X}001001`, name: '1镇1村' },
        { code: `${COUNTY_X}001002`, name: '1镇2村' },
        { code: `${COUNTY_X}001003`, name: '1镇3村' },
      ],
    });
    const { token } = await t.userToken('editor', COUNTY_Y);
    const inY = await t.request('POST', '/api/audience/preview', token, {
      near: { lat: 35.95, lng: 114.9, radiusKm: 20 },
    });
    expect(inY.json().radius).toMatchObject({ villagesWithoutCoordinates: 0, withoutCoordinates: [] });
  });

  it('refuses a radius of 0, a negative or huge radius, a point outside China and coordinates given as text, naming the field', async () => {
    const cases: [object, string][] = [
      [{ lat: 35.9, lng: 114.9, radiusKm: 0 }, 'near.radiusKm'],
      [{ lat: 35.9, lng: 114.9, radiusKm: -3 }, 'near.radiusKm'],
      [{ lat: 35.9, lng: 114.9, radiusKm: 20000 }, 'near.radiusKm'],
      [{ lat: 60.5, lng: 114.9, radiusKm: 5 }, 'near.lat'],
      [{ lat: 35.9, lng: -73.9, radiusKm: 5 }, 'near.lng'],
      [{ lat: '35.9', lng: 114.9, radiusKm: 5 }, 'near.lat'],
      [{ lat: 35.9, lng: '114.9E', radiusKm: 5 }, 'near.lng'],
      [{ lat: 35.9, lng: 114.9, radiusKm: '5km' }, 'near.radiusKm'],
    ];
    for (const [near, field] of cases) {
      const response = await t.request('POST', '/api/audience/preview', t.adminToken, { near });
      expect(response.statusCode, JSON.stringify(near)).toBe(400);
      // Type errors come from the schema ("body.near.lat"), range errors from the service ("near.radiusKm").
      expect(response.json(), JSON.stringify(near)).toMatchObject({
        code: 'invalid_input',
        field: expect.stringMatching(new RegExp(`(^|\\.)${field.replace('.', '\\.')}$`)),
      });
      expect(response.json().message).toMatch(/[\u4e00-\u9fff]/);
    }
  });
});

// Radius totals read the villages' coordinates from a per-process copy kept while the region
// version token is unchanged (audience/radius.ts, regions/model.ts). Every way regions are
// written — the API's create and update, the model's bulkWrite (ledger import, demo
// placements), insertMany (seed) and a delete — must make the next answer see the change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warmVillages } from '../../src/audience/radius.js';
import { RegionModel } from '../../src/regions/model.js';
import { driverCallsDuring } from '../helpers/commands.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { createGroup } from '../helpers/groups.js';

const COUNTY = '410924';
const TOWNSHIP = `${COUNTY}001`;
const POINT = { lat: 35.95, lng: 114.9 };
const NEAR = { ...POINT, radiusKm: 5 };
// ~1 km and ~50 km from the point.
const INSIDE = { lat: 35.955, lng: 114.905 };
const OUTSIDE = { lat: 36.4, lng: 114.9 };

describe('radius totals see every region write at once', () => {
  let t: TestApp;

  const radius = async () => {
    const response = await t.request('POST', '/api/audience/preview', t.adminToken, { near: NEAR });
    expect(response.statusCode, response.body).toBe(200);
    return response.json().radius as { villageCount: number; groupCount: number; villagesWithoutCoordinates: number };
  };
  const post = async (body: object) => {
    const response = await t.request('POST', '/api/regions', t.adminToken, body);
    expect(response.statusCode, response.body).toBe(201);
  };

  beforeAll(async () => {
    t = await startTestApp();
    await post({ code: '410000', name: '河南省', parentCode: '000000' });
    await post({ code: '410900', name: '濮阳市', parentCode: '410000' });
    await post({ code: COUNTY, name: '范县', parentCode: '410900' });
    await post({ code: TOWNSHIP, name: '范县1镇', parentCode: COUNTY });
    for (let v = 1; v <= 4; v += 1) {
      const at = v <= 2 ? INSIDE : OUTSIDE;
      await post({ code: `${TOWNSHIP}00${v}`, name: `${v}村`, parentCode: TOWNSHIP, ...at });
      await createGroup(t, { regionCode: `${TOWNSHIP}00${v}`, memberCount: 100, channel: { kind: 'manual' } });
    }
  });
  afterAll(() => t.close());

  it('an API update moving a village into the radius counts it at the next call, and out again', async () => {
    expect(await radius()).toMatchObject({ villageCount: 2, groupCount: 2 });
    const moved = await t.request('PATCH', `/api/regions/${TOWNSHIP}003`, t.adminToken, INSIDE);
    expect(moved.statusCode, moved.body).toBe(200);
    expect(await radius()).toMatchObject({ villageCount: 3, groupCount: 3 });
    await t.request('PATCH', `/api/regions/${TOWNSHIP}003`, t.adminToken, OUTSIDE);
    expect(await radius()).toMatchObject({ villageCount: 2, groupCount: 2 });
  });

  it('a new village created through the API is measured at the next call', async () => {
    await radius();
    await post({ code: `${TOWNSHIP}005`, name: '5村', parentCode: TOWNSHIP, ...INSIDE });
    await createGroup(t, { regionCode: `${TOWNSHIP}005`, memberCount: 100, channel: { kind: 'manual' } });
    expect(await radius()).toMatchObject({ villageCount: 3, groupCount: 3 });
  });

  it('bulkWrite, insertMany and delete on the model are seen at the next call', async () => {
    await radius();
    await RegionModel.bulkWrite([
      { updateOne: { filter: { code: `${TOWNSHIP}004` }, update: { $set: INSIDE } } },
    ] as never);
    expect(await radius()).toMatchObject({ villageCount: 4 });
    await RegionModel.insertMany([
      { code: `${TOWNSHIP}006`, name: '6村', level: 'village', parentCode: TOWNSHIP, regionPath: ['000000', '410000', '410900', COUNTY, TOWNSHIP, `${TOWNSHIP}006`], ...INSIDE },
    ]);
    expect(await radius()).toMatchObject({ villageCount: 5 });
    await RegionModel.deleteOne({ code: `${TOWNSHIP}006` });
    expect(await radius()).toMatchObject({ villageCount: 4 });
    await RegionModel.updateOne({ code: `${TOWNSHIP}004` }, { $set: { lat: null, lng: null } });
    expect(await radius()).toMatchObject({ villageCount: 3, villagesWithoutCoordinates: 1 });
  });

  it('once warmed (as main.ts does at start), the first radius call after a region write reads only the token', async () => {
    await RegionModel.updateOne({ code: `${TOWNSHIP}004` }, { $set: INSIDE });
    await warmVillages();
    const seen = await driverCallsDuring(async () => {
      expect(await radius()).toMatchObject({ villageCount: 4, villagesWithoutCoordinates: 0 });
    });
    const regionReads = seen
      .filter((c) => c.collection === 'regions')
      .map((c) => ({ method: c.method, filter: c.args[0] }));
    expect(regionReads).toEqual([]);
  });
});

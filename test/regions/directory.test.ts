// Regions are read by code from the process's copy (regions/directory.ts): once it is read, a
// region, its children, a subtree page and a township's name cost one `_id` lookup of the
// version token and no read of the regions collection (a scan on FerretDB: 19 s for a
// county's township names on the 50,000-group province). Every write — through the API or
// the model from another code path — shows at the next call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegionModel } from '../../src/regions/model.js';
import { RegionNames } from '../../src/tracking/region-names.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';

const COUNTY = '410924';
const TOWNSHIP = `${COUNTY}001`;

describe('regions by code from the process copy', () => {
  let t: TestApp;

  const get = async (path: string) => {
    const response = await t.request('GET', path, t.adminToken);
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  };
  const post = async (body: object) => {
    const response = await t.request('POST', '/api/regions', t.adminToken, body);
    expect(response.statusCode, response.body).toBe(201);
  };
  const regionReads = async (work: () => Promise<unknown>) =>
    (await commandsDuring(work)).filter((command) => command.collection === 'regions');

  beforeAll(async () => {
    t = await startTestApp();
    await post({ code: '410000', name: '河南省', parentCode: '000000' });
    await post({ code: '410900', name: '濮阳市', parentCode: '410000' });
    await post({ code: COUNTY, name: '范县', parentCode: '410900' });
    await post({ code: TOWNSHIP, name: '范县1镇', parentCode: COUNTY });
    await post({ code: `${COUNTY}002`, name: '范县2镇', parentCode: COUNTY });
    for (let v = 3; v >= 1; v -= 1) await post({ code: `${TOWNSHIP}00${v}`, name: `${v}村`, parentCode: TOWNSHIP });
  });
  afterAll(() => t.close());

  it('answers a region, its children and a subtree page without reading the regions collection', async () => {
    await get(`/api/regions/${COUNTY}`); // the copy is read once
    const reads = await regionReads(async () => {
      expect(await get(`/api/regions/${TOWNSHIP}`)).toMatchObject({
        code: TOWNSHIP,
        name: '范县1镇',
        level: 'township',
        parentCode: COUNTY,
        regionPath: ['000000', '410000', '410900', COUNTY, TOWNSHIP],
      });
      const children = (await get(`/api/regions?parent=${TOWNSHIP}`)) as { code: string }[];
      expect(children.map((r) => r.code)).toEqual([`${TOWNSHIP}001`, `${TOWNSHIP}002`, `${TOWNSHIP}003`]);
      const page = (await get(`/api/regions?parent=${COUNTY}&level=village&limit=2&after=${TOWNSHIP}001`)) as {
        code: string;
      }[];
      expect(page.map((r) => r.code)).toEqual([`${TOWNSHIP}002`, `${TOWNSHIP}003`]);
      expect(await new RegionNames().of([TOWNSHIP, '999999001'])).toEqual(
        new Map([
          [TOWNSHIP, '范县1镇'],
          ['999999001', '999999001'],
        ]),
      );
    });
    expect(reads).toEqual([]);
  });

  it('a rename through the API shows at the next call, in the region and in the names', async () => {
    await get(`/api/regions/${TOWNSHIP}`);
    const renamed = await t.request('PATCH', `/api/regions/${TOWNSHIP}`, t.adminToken, { name: '樱桃园镇' });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect((await get(`/api/regions/${TOWNSHIP}`)).name).toBe('樱桃园镇');
    expect((await new RegionNames().of([TOWNSHIP])).get(TOWNSHIP)).toBe('樱桃园镇');
  });

  it('a region written through the model elsewhere (an import) and a delete show at the next call', async () => {
    await get(`/api/regions?parent=${COUNTY}`);
    await RegionModel.insertMany([
      {
        code: `${COUNTY}003`,
        name: '范县3镇',
        level: 'township',
        parentCode: COUNTY,
        regionPath: ['000000', '410000', '410900', COUNTY, `${COUNTY}003`],
      },
    ]);
    const children = (await get(`/api/regions?parent=${COUNTY}`)) as { code: string }[];
    expect(children.map((r) => r.code)).toEqual([TOWNSHIP, `${COUNTY}002`, `${COUNTY}003`]);
    await RegionModel.deleteOne({ code: `${COUNTY}003` });
    const missing = await t.request('GET', `/api/regions/${COUNTY}003`, t.adminToken);
    expect(missing.statusCode).toBe(404);
  });

  it('a county user is still refused a region outside the county', async () => {
    const user = await t.userToken('editor', COUNTY);
    const other = await t.request('GET', '/api/regions/410900', user.token);
    expect(other.statusCode).toBe(404);
    const own = await t.request('GET', `/api/regions/${TOWNSHIP}`, user.token);
    expect(own.statusCode, own.body).toBe(200);
  });
});

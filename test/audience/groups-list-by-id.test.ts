// The groups list (first screen and its paging, in scope and by region, oldest or newest first)
// reads a page of groups by `_id` from the per-county listings (audience/group-listing.ts)
// instead of scanning the groups collection, and answers exactly what the scan answers after
// every kind of group write: API create and move, deactivation, the model's insertMany,
// updateMany and delete. An install written before the listings existed is listed once at
// start with the same answers (issue 25 item 2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupListing, GroupListingModel, type PlacedReader } from '../../src/audience/group-listing.js';
import { GroupModel, groupReadModel } from '../../src/audience/model.js';
import { byIdEquality, driverCallsDuring } from '../helpers/commands.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { createGroup, groupBody } from '../helpers/groups.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('groups list by _id from the county listings', () => {
  let t: TestApp;
  let countyEditor: string;

  /** What the list showed before: the scan of the groups in scope, in _id order. */
  async function scanned(codes: string[], newest = false) {
    const docs = await GroupModel.find({ $and: codes.map((code) => ({ regionPath: code })) }, { _id: 1 })
      .sort({ _id: newest ? -1 : 1 })
      .lean();
    return docs.map((d) => String(d._id));
  }

  /** Every page of the list, 3 at a time, following its cursor. */
  async function listed(token: string, params: { regionCode?: string; sort?: 'newest' | 'oldest' } = {}) {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page += 1) {
      const query = new URLSearchParams({ limit: '3', ...params });
      if (cursor) query.set(params.sort === 'newest' ? 'before' : 'after', cursor);
      const response = await t.request('GET', `/api/groups?${query}`, token);
      expect(response.statusCode, response.body).toBe(200);
      const rows = response.json() as { id: string }[];
      ids.push(...rows.map((r) => r.id));
      if (rows.length < 3) return ids;
      cursor = rows.at(-1)!.id;
    }
    throw new Error('more than 50 pages');
  }

  async function expectSameAsScan() {
    expect(await listed(t.adminToken)).toEqual(await scanned(['000000']));
    expect(await listed(t.adminToken, { sort: 'newest' })).toEqual(await scanned(['000000'], true));
    expect(await listed(countyEditor)).toEqual(await scanned([TREE.countyA.code]));
    expect(await listed(t.adminToken, { regionCode: TREE.townshipB.code })).toEqual(await scanned([TREE.townshipB.code]));
    expect(await listed(countyEditor, { regionCode: TREE.villageB.code })).toEqual([]);
    expect(await listed(t.adminToken, { regionCode: TREE.city.code, sort: 'newest' })).toEqual(
      await scanned([TREE.city.code], true),
    );
  }

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    countyEditor = (await t.userToken('editor', TREE.countyA.code)).token;
    for (let i = 0; i < 5; i += 1) await createGroup(t, { regionCode: i % 2 ? TREE.villageB.code : TREE.villageA.code });
  });
  afterAll(() => t.close());

  it('lists what the scan lists, for the admin, a county editor, a region filter and newest first', async () => {
    await expectSameAsScan();
  });

  it('stays the scan’s answer after creates, moves, deactivation, insertMany, updateMany and deletes', async () => {
    const moved = await createGroup(t, { regionCode: TREE.villageA.code });
    await expectSameAsScan();
    const patch = await t.request('PATCH', `/api/groups/${moved.id}`, t.adminToken, { regionCode: TREE.villageB.code });
    expect(patch.statusCode, patch.body).toBe(200);
    const off = await t.request('POST', '/api/groups/batch', t.adminToken, { ids: [moved.id], action: 'deactivate' });
    expect(off.statusCode, off.body).toBe(200);
    await expectSameAsScan();
    expect(await listed(t.adminToken)).toContain(moved.id); // an inactive group is still listed

    const inserted = await GroupModel.insertMany(
      [TREE.villageA, TREE.villageB].map((village) => {
        const body = groupBody({ regionCode: village.code });
        return {
          name: body.name,
          regionCode: village.code,
          regionPath: ['000000', TREE.province.code, TREE.city.code, village.parentCode.slice(0, 6), village.parentCode, village.code],
          channelKind: 'manual',
          credentialsSealed: 'x',
          memberCount: 10,
        };
      }),
    );
    await expectSameAsScan();
    await GroupModel.updateMany(
      { _id: { $in: inserted.map((g) => g._id) } },
      {
        $set: {
          regionCode: TREE.villageA.code,
          regionPath: ['000000', TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code, TREE.villageA.code],
        },
      },
    );
    await expectSameAsScan();
    await GroupModel.deleteOne({ _id: inserted[0]!._id });
    await GroupModel.deleteOne({ _id: moved.id });
    await expectSameAsScan();
  });

  it('reads no group but by _id', async () => {
    const seen = await driverCallsDuring(async () => {
      await listed(t.adminToken);
      await listed(countyEditor, { sort: 'newest' });
    });
    const reads = seen.filter((c) => c.collection === 'groups').map((c) => ({ method: c.method, filter: c.args[0] }));
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.filter((r) => !byIdEquality(r.filter))).toEqual([]);
  });

  it('filters it cannot answer from the listings (tag, name) still give the scan’s answer', async () => {
    const tagged = (await t.request('GET', '/api/groups?tag=重点村&limit=100', t.adminToken)).json() as { id: string }[];
    const truth = await GroupModel.find({ tags: '重点村' }, { _id: 1 }).sort({ _id: 1 }).lean();
    expect(tagged.map((g) => g.id)).toEqual(truth.map((d) => String(d._id)));
  });

  it('an install from before the listings is listed once at start, with the same answers', async () => {
    await GroupListingModel.deleteMany({});
    const fresh = new GroupListing(() => GroupModel as unknown as PlacedReader, groupReadModel);
    await fresh.prepare();
    expect(await GroupListingModel.exists({ _id: '_built:2' })).toBeTruthy();
    expect((await fresh.candidates(['000000'])).sort()).toEqual(await scanned(['000000']));
    expect((await fresh.candidates([TREE.countyA.code])).sort()).toEqual(await scanned([TREE.countyA.code]));
    expect((await fresh.candidates([TREE.townshipB.code])).sort()).toEqual(await scanned([TREE.townshipB.code]));
    // A second start reads only the marker.
    const again = new GroupListing(() => GroupModel as unknown as PlacedReader, groupReadModel);
    const reads = (await driverCallsDuring(() => again.prepare())).map((c) => c.collection);
    expect(reads).toEqual(['grouplistings']);
    await createGroup(t, { regionCode: TREE.villageB.code });
    expect((await again.candidates([TREE.city.code])).sort()).toEqual(await scanned([TREE.city.code]));
  });
});

// The province admin's first calls in a fresh api process (issue 25, eighth session, screens):
// the audience totals and the groups list's opening page read a handful of documents by `_id`,
// whatever the counties in the province, instead of one change-log lookup, one kept totals
// document and one listing per county; the answers stay a plain computation over the groups
// (totals) and the scan (list) after writes made "through another process" (a write does not
// touch this process's copies), a fresh process after a write, a write whose writer died with
// its intent open, and such an intent turned into records after its time-out.
//
// "A fresh process" is this process with its per-process copies forgotten (the stored
// documents stay, as they do across an api restart).

import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countyTotals } from '../../src/audience/county-totals.js';
import { listHeads } from '../../src/audience/list-heads.js';
import { GroupModel, groupListing } from '../../src/audience/model.js';
import { AudienceIntentModel, INTENT_TIMEOUT_MS } from '../../src/audience/read-model.js';
import type { AudienceSpec } from '../../src/audience/selection.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { type RawGroup, rawTotals } from '../helpers/audience-totals.js';
import { byIdOnly, commandsDuring, type SeenCommand } from '../helpers/commands.js';
import { channelOfKind, createGroup } from '../helpers/groups.js';
import { addRegions, createRegionTree, TREE } from '../helpers/regions.js';

const TAGS = ['重点村', '学校', '商户'];
const KINDS = ['wecom', 'dingtalk', 'manual'] as const;
/** Ten counties besides the tree's two: more than a call checks one by one. */
const COUNTIES = Array.from({ length: 10 }, (_, i) => String(440112 + i));
const SPEC: AudienceSpec = { regions: [TREE.province.code], excludeTags: ['学校'] };

/** Straight from the definition, over every group in the collection (test/helpers/audience-totals.ts). */
async function rawTotalsNow(scopeCode: string, spec: AudienceSpec) {
  return rawTotals((await GroupModel.collection.find({}).toArray()) as unknown as RawGroup[], scopeCode, spec);
}

/** The scan: groups in scope by `_id` (id and name, as the list shows them). */
async function scanned(newest = false, limit = 5): Promise<string[]> {
  const docs = await GroupModel.collection
    .find({ regionPath: '000000' }, { projection: { _id: 1, name: 1 } })
    .sort({ _id: newest ? -1 : 1 })
    .limit(limit)
    .toArray();
  return docs.map((d) => `${d._id} ${d.name}`);
}

function freshProcess(): void {
  countyTotals.forget();
  groupListing.forget();
  listHeads.forget();
}

describe('the province admin’s first calls of a process', () => {
  let t: TestApp;

  async function totalsCall(): Promise<{ body: unknown; seen: SeenCommand[] }> {
    let body: unknown;
    const seen = await commandsDuring(async () => {
      const response = await t.request('POST', '/api/audience/preview', t.adminToken, SPEC);
      expect(response.statusCode, response.body).toBe(200);
      body = response.json();
    });
    return { body, seen };
  }

  async function listCall(newest = false): Promise<{ ids: string[]; seen: SeenCommand[] }> {
    let ids: string[] = [];
    const seen = await commandsDuring(async () => {
      const response = await t.request('GET', `/api/groups?limit=5${newest ? '&sort=newest' : ''}`, t.adminToken);
      expect(response.statusCode, response.body).toBe(200);
      ids = (response.json() as { id: string; name: string }[]).map((g) => `${g.id} ${g.name}`);
    });
    return { ids, seen };
  }

  async function expectExact(): Promise<void> {
    expect((await totalsCall()).body).toEqual(await rawTotalsNow('000000', SPEC));
    expect((await listCall()).ids).toEqual(await scanned());
    expect((await listCall(true)).ids).toEqual(await scanned(true));
  }

  /** Reads other than the session's and the small lists', or not by `_id`. */
  const perCounty = ['audiencechanges', 'audiencecountytotals', 'audiencedigests', 'grouplistings'];

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    const villages: string[] = [TREE.villageA.code, TREE.villageB.code];
    for (const [i, county] of COUNTIES.entries()) {
      const added = await addRegions(t, [
        { code: county, name: `第${i + 1}区`, parentCode: TREE.city.code },
        { code: `${county}001`, name: `第${i + 1}街道`, parentCode: county },
        { code: `${county}001001`, name: `第${i + 1}社区`, parentCode: `${county}001` },
      ]);
      villages.push(...added);
    }
    for (let i = 0; i < villages.length * 2; i += 1) {
      const kind = KINDS[i % KINDS.length]!;
      await createGroup(t, {
        regionCode: villages[i % villages.length],
        memberCount: 10 + ((i * 37) % 500),
        tags: [TAGS[i % TAGS.length]!],
        channel: channelOfKind(kind, `first-call-${i}`),
      });
    }
  }, 300_000);
  afterAll(() => t.close());

  it('a fresh process answers the province’s totals and opening list pages by a handful of `_id` reads', async () => {
    // An earlier process answered them (what it keeps in the database stays across a restart).
    await expectExact();
    freshProcess();
    const totals = await totalsCall();
    expect(totals.body).toEqual(await rawTotalsNow('000000', SPEC));
    const reads = (seen: SeenCommand[]) =>
      seen.filter((c) => ['find', 'count', 'aggregate', 'distinct'].includes(c.name));
    expect(reads(totals.seen).filter((c) => perCounty.includes(c.collection) || c.collection === 'groups')).toEqual([]);
    const listed = ['audiencecounties', 'audienceintents', 'sessions', 'users'];
    expect(reads(totals.seen).filter((c) => !listed.includes(c.collection) && !byIdOnly(c.filter))).toEqual([]);
    // The session (2), the county list, the intents, the write token, the summary.
    expect(totals.seen.length).toBeLessThanOrEqual(6);

    for (const newest of [false, true]) {
      freshProcess();
      const list = await listCall(newest);
      expect(list.ids).toEqual(await scanned(newest));
      expect(reads(list.seen).filter((c) => perCounty.includes(c.collection))).toEqual([]);
      // The page's groups by `_id` (with the scope's filter), everything else by `_id` alone.
      const byId = (c: SeenCommand) =>
        byIdOnly(c.filter) ||
        (c.collection === 'groups' &&
          (typeof c.filter?._id === 'string' || (c.filter?._id as { _bsontype?: string })?._bsontype === 'ObjectId'));
      expect(reads(list.seen).filter((c) => !listed.includes(c.collection) && !byId(c))).toEqual([]);
      // The session (2), the intents, the write token, the head, the page's five groups.
      expect(list.seen.length).toBeLessThanOrEqual(5 + 5);
    }
  }, 180_000);

  it('a fresh process warmed at start answers a filtered list without reading a listing', async () => {
    await expectExact();
    freshProcess();
    await groupListing.warm();
    let ids: string[] = [];
    const seen = await commandsDuring(async () => {
      const response = await t.request('GET', `/api/groups?tag=${encodeURIComponent('商户')}&limit=5`, t.adminToken);
      expect(response.statusCode, response.body).toBe(200);
      ids = (response.json() as { id: string }[]).map((g) => g.id);
    });
    const want = await GroupModel.collection
      .find({ regionPath: '000000', tags: '商户' }, { projection: { _id: 1 } })
      .sort({ _id: 1 })
      .limit(5)
      .toArray();
    expect(ids).toEqual(want.map((d) => String(d._id)));
    expect(seen.filter((c) => perCounty.includes(c.collection))).toEqual([]);
  }, 180_000);

  it('a repeated call checks no county and reads no group', async () => {
    await expectExact();
    const totals = await totalsCall();
    expect(totals.seen.filter((c) => perCounty.includes(c.collection))).toEqual([]);
    const list = await listCall();
    expect(list.seen.filter((c) => perCounty.includes(c.collection))).toEqual([]);
    // The opening page this process answered under the same token: no group read again.
    expect(list.seen.filter((c) => c.collection === 'groups')).toEqual([]);
    expect(list.seen.length).toBeLessThanOrEqual(4);
    // Any page (a filter, a column sort) answered under the same token: the same.
    for (const query of [`tag=${encodeURIComponent('商户')}&limit=5`, 'sort=-members&limit=5']) {
      const calls: SeenCommand[][] = [];
      const bodies: string[] = [];
      for (let i = 0; i < 2; i += 1) {
        calls.push(
          await commandsDuring(async () => {
            const response = await t.request('GET', `/api/groups?${query}`, t.adminToken);
            expect(response.statusCode, response.body).toBe(200);
            bodies.push(response.body);
          }),
        );
      }
      expect(bodies[1]).toBe(bodies[0]);
      expect(calls[1]!.filter((c) => c.collection === 'groups' || perCounty.includes(c.collection))).toEqual([]);
    }
  }, 180_000);

  it('stays exact after writes this process’s copies never saw, in this process and a fresh one', async () => {
    await expectExact();
    const first = (await scanned(false, 3))[0]!.split(' ')[0]!;
    const edits: [string, Record<string, unknown>][] = [
      [first, { tags: ['学校'] }],
      [first, { name: '改名后的群' }], // a field neither the totals nor the listing filters look at
      [first, { officer: { name: '李警官', phone: '13900000000' } }],
      [first, { tags: ['商户'], memberCount: 999 }],
      [first, { active: false }],
      [first, { regionCode: `${COUNTIES[3]}001001` }],
    ];
    for (const [id, change] of edits) {
      const response = await t.request('PATCH', `/api/groups/${id}`, t.adminToken, change);
      expect(response.statusCode, response.body).toBe(200);
      await expectExact();
      freshProcess();
      await expectExact();
    }
    await GroupModel.deleteOne({ _id: first });
    await expectExact();
    await createGroup(t, { regionCode: `${COUNTIES[7]}001001`, tags: ['重点村'], memberCount: 77 });
    freshProcess();
    await expectExact();
    await GroupModel.updateMany({ tags: '商户' }, { $inc: { memberCount: 3 } });
    await expectExact();
  }, 300_000);

  it('a writer that died after its group write: counted while its intent is open, and after its time-out', async () => {
    await expectExact();
    // What a process killed between its write and its records leaves: the group and the intent.
    const _id = new mongoose.Types.ObjectId('000000000000000000000001'); // first in `_id` order
    const village = `${COUNTIES[5]}001001`;
    await GroupModel.collection.insertOne({
      _id,
      name: '中断写入群',
      regionCode: village,
      regionPath: ['000000', TREE.province.code, TREE.city.code, COUNTIES[5]!, `${COUNTIES[5]}001`, village],
      channelKind: 'manual',
      credentialsSealed: 'x',
      memberCount: 321,
      tags: ['重点村'],
      active: true,
      flaggedAt: null,
      forTests: false,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    const intent = await AudienceIntentModel.create({ _id: 'died', ids: [String(_id)], at: new Date() });
    await expectExact();
    freshProcess();
    await expectExact();
    expect((await listCall()).ids[0]).toBe(`${_id} 中断写入群`);
    // Past its time-out the next reader records it (and moves the token); then it is gone.
    await AudienceIntentModel.updateOne(
      { _id: intent._id },
      { $set: { at: new Date(Date.now() - INTENT_TIMEOUT_MS - 1000) } },
    );
    await expectExact();
    expect(await AudienceIntentModel.countDocuments({})).toBe(0);
    await expectExact();
    freshProcess();
    await expectExact();
  }, 300_000);
});

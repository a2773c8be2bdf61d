// The groups list's filters and column sorts (tag, channel, name search with Chinese
// substrings, officer, active, test groups, flagged, creation dates; by name and by members,
// both ways) pick their page from the per-county listings' rows and read only that page by
// `_id` (issue 25, screens): every answer, page after page, equals the scan of the groups
// collection with the same filter and sort, also after API edits, an import's bulk writes,
// insertMany, updateMany and deletes, and after an install whose listings are in the first
// layout ([id, township, village]) is listed again.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupListing, GroupListingModel, type PlacedReader } from '../../src/audience/group-listing.js';
import { GroupModel, groupReadModel } from '../../src/audience/model.js';
import { byIdEquality, driverCallsDuring } from '../helpers/commands.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { createGroup } from '../helpers/groups.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

type Params = Record<string, string>;

const SORTS: Record<string, Record<string, 1 | -1>> = {
  name: { name: 1, _id: 1 },
  '-name': { name: -1, _id: -1 },
  members: { memberCount: 1, _id: 1 },
  '-members': { memberCount: -1, _id: -1 },
  newest: { _id: -1 },
  oldest: { _id: 1 },
};

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('groups list filters and sorts from the listings', () => {
  let t: TestApp;
  let countyEditor: string;

  /** The scan: what the list answered before, computed straight from the collection. */
  async function scanned(scopeCode: string, params: Params): Promise<string[]> {
    const filter: Record<string, unknown> = { regionPath: scopeCode };
    const and: Record<string, unknown>[] = [];
    if (params.regionCode) and.push({ regionPath: params.regionCode });
    if (params.tag) filter.tags = params.tag;
    if (params.channelKind) filter.channelKind = params.channelKind;
    if (params.active) filter.active = params.active === 'true';
    if (params.forTests) filter.forTests = params.forTests === 'true' ? true : { $ne: true };
    if (params.flagged) filter.flaggedAt = params.flagged === 'true' ? { $ne: null } : null;
    if (params.q) filter.name = { $regex: literal(params.q) };
    if (params.officer) {
      const like = { $regex: literal(params.officer) };
      and.push({ $or: [{ officerName: like }, { officerPhone: like }] });
    }
    if (params.from) filter.createdAt = { $gte: new Date(params.from) };
    if (and.length) filter.$and = and;
    const docs = await GroupModel.find(filter, { _id: 1 })
      .sort(SORTS[params.sort ?? 'oldest']!)
      .lean();
    return docs.map((d) => String(d._id));
  }

  /** Every page of the list, 2 at a time, following its cursor. */
  async function listed(token: string, params: Params): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 60; page += 1) {
      const query = new URLSearchParams({ limit: '2', ...params });
      if (cursor) query.set(params.sort === 'newest' ? 'before' : 'after', cursor);
      const response = await t.request('GET', `/api/groups?${query}`, token);
      expect(response.statusCode, response.body).toBe(200);
      const rows = response.json() as { id: string }[];
      ids.push(...rows.map((r) => r.id));
      if (rows.length < 2) return ids;
      cursor = rows.at(-1)!.id;
    }
    throw new Error('more than 60 pages');
  }

  const CASES: Params[] = [
    { tag: '学校' },
    { tag: '重点村', sort: 'newest' },
    { channelKind: 'dingtalk' },
    { channelKind: 'manual', sort: '-members' },
    { q: '平安' },
    { q: '二群' },
    { q: '河东', sort: 'name' },
    { officer: '李' },
    { officer: '1390000' },
    { sort: 'name' },
    { sort: '-name' },
    { sort: 'members' },
    { sort: '-members' },
    { active: 'false' },
    { active: 'true', tag: '学校', sort: '-name' },
    { forTests: 'true' },
    { forTests: 'false', sort: 'members' },
    { flagged: 'true' },
    { regionCode: TREE.townshipB.code, sort: 'name' },
  ];

  async function expectSameAsScan() {
    for (const params of CASES) {
      expect(await listed(t.adminToken, params), JSON.stringify(params)).toEqual(await scanned('000000', params));
      expect(await listed(countyEditor, params), `county ${JSON.stringify(params)}`).toEqual(
        await scanned(TREE.countyA.code, params),
      );
    }
  }

  const NAMES = ['河东平安一群', '河东平安二群', '河西二群', 'Alpha 群', '东村防诈群', '河东平安三群', '二群备用', '西岭平安群'];

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    countyEditor = (await t.userToken('editor', TREE.countyA.code)).token;
    for (const [i, name] of NAMES.entries()) {
      await createGroup(t, {
        name,
        regionCode: i % 3 === 0 ? TREE.villageB.code : TREE.villageA.code,
        memberCount: [120, 80, 120, 300, 5, 80, 120, 42][i],
        tags: i % 2 ? ['学校'] : ['重点村'],
        channel: i % 4 === 1 ? { kind: 'manual' } : i % 4 === 2 ? { kind: 'dingtalk', accessToken: `tok-${i}-abcdefgh`, secret: 'SEC-secret-1234' } : { kind: 'wecom', key: `wecom-filter-${i}-0000` },
        officer: i % 2 ? { name: '李警官', phone: `1390000000${i}` } : { name: '张警官', phone: `1380000000${i}` },
        forTests: i === 4,
      });
    }
  });
  afterAll(() => t.close());

  it('answers every filter and sort as the scan does, page after page', async () => {
    await expectSameAsScan();
  });

  it('stays the scan’s answer after edits, an import’s bulk writes, insertMany, updateMany and deletes', async () => {
    const [first, second] = (await GroupModel.find({}, { _id: 1 }).sort({ _id: 1 }).limit(2).lean()).map((d) => String(d._id));
    const edit = await t.request('PATCH', `/api/groups/${first}`, t.adminToken, {
      name: '改名后二群',
      tags: ['学校', '新标签'],
      officer: { name: '王警官', phone: '13700000000' },
      memberCount: 999,
    });
    expect(edit.statusCode, edit.body).toBe(200);
    const off = await t.request('POST', '/api/groups/batch', t.adminToken, { ids: [second], action: 'deactivate' });
    expect(off.statusCode, off.body).toBe(200);
    await GroupModel.updateOne({ _id: second }, { $set: { flaggedAt: new Date(), flagReason: '机器人已移除' } });
    await expectSameAsScan();

    const path = (village: { code: string; parentCode: string }) => [
      '000000',
      TREE.province.code,
      TREE.city.code,
      village.parentCode.slice(0, 6),
      village.parentCode,
      village.code,
    ];
    const inserted = await GroupModel.insertMany(
      ['导入平安群', '导入二群'].map((name, i) => ({
        name,
        regionCode: (i ? TREE.villageB : TREE.villageA).code,
        regionPath: path(i ? TREE.villageB : TREE.villageA),
        channelKind: 'dingtalk',
        credentialsSealed: 'x',
        memberCount: 80,
        tags: ['学校'],
        officerName: '李警官',
        officerPhone: '13900000099',
      })),
    );
    // What the sheet import writes: upserts by (regionCode, name).
    await GroupModel.bulkWrite([
      {
        updateOne: {
          filter: { regionCode: TREE.villageA.code, name: '导入平安群' },
          update: { $set: { memberCount: 7, tags: ['重点村'], officerName: '赵警官' } },
          upsert: true,
        },
      },
      {
        updateOne: {
          filter: { regionCode: TREE.villageA.code, name: '导入新群' },
          update: {
            $set: { memberCount: 66, tags: ['学校'], channelKind: 'manual', credentialsSealed: 'x', regionPath: path(TREE.villageA) },
          },
          upsert: true,
        },
      },
    ]);
    await expectSameAsScan();
    await GroupModel.updateMany({ _id: { $in: inserted.map((g) => g._id) } }, { $set: { name: '批量改名二群', memberCount: 120 } });
    await GroupModel.deleteOne({ _id: first });
    await expectSameAsScan();
  });

  it('reads no group but by _id, and a page reads only about its own groups', async () => {
    await listed(t.adminToken, { q: '二群' }); // the process holds the listings
    const seen = await driverCallsDuring(async () => {
      for (const params of CASES) {
        const response = await t.request('GET', `/api/groups?${new URLSearchParams({ limit: '2', ...params })}`, countyEditor);
        expect(response.statusCode, response.body).toBe(200);
      }
    });
    const reads = seen.filter((c) => c.collection === 'groups').map((c) => ({ filter: c.args[0] }));
    expect(reads.filter((r) => !byIdEquality(r.filter))).toEqual([]);
    expect(reads.length).toBeLessThanOrEqual(CASES.length * 4);
  });

  it('a stale cursor under a column sort is a 400 naming after', async () => {
    const gone = new mongoose.Types.ObjectId().toHexString();
    const response = await t.request('GET', `/api/groups?sort=name&after=${gone}`, t.adminToken);
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('after');
    expect(response.body).toContain('翻页位置');
  });

  it('listings in the first layout are listed again once, with the same answers', async () => {
    // Old layout: rows [id, township, village] and the first marker only.
    const docs = await GroupListingModel.find({}).lean<{ _id: string; seq: number; rows: string }[]>();
    for (const doc of docs) {
      if (doc._id.startsWith('_')) continue;
      const old = (JSON.parse(doc.rows) as unknown[][]).map((r) => r.slice(0, 3));
      await GroupListingModel.replaceOne({ _id: doc._id }, { seq: doc.seq, rows: JSON.stringify(old) });
    }
    await GroupListingModel.deleteOne({ _id: '_built:2' });
    await GroupListingModel.updateOne({ _id: '_built' }, { seq: 0, rows: '[]' }, { upsert: true });
    const fresh = new GroupListing(() => GroupModel as unknown as PlacedReader, groupReadModel);
    await fresh.prepare();
    expect(await GroupListingModel.exists({ _id: '_built:2' })).toBeTruthy();
    const { rows } = await fresh.candidateRows(['000000']);
    const truth = await GroupModel.find({}).lean();
    expect(rows.size).toBe(truth.length);
    for (const doc of truth) {
      const row = rows.get(String(doc._id));
      expect(row?.name).toBe(doc.name);
      expect(row?.tags).toEqual(doc.tags);
      expect(row?.memberCount).toBe(doc.memberCount);
      expect(row?.officerName).toBe(doc.officerName ?? null);
      expect(row?.active).toBe(doc.active);
    }
    // A short row met later (older code saved it) is read again by _id.
    const county = TREE.countyA.code;
    const doc = await GroupListingModel.findById(county).lean<{ seq: number; rows: string }>();
    const old = (JSON.parse(doc!.rows) as unknown[][]).map((r) => r.slice(0, 3));
    await GroupListingModel.replaceOne({ _id: county }, { seq: doc!.seq, rows: JSON.stringify(old) });
    const later = new GroupListing(() => GroupModel as unknown as PlacedReader, groupReadModel);
    const again = await later.candidateRows([county]);
    for (const [id, row] of again.rows) {
      const truthRow = truth.find((d) => String(d._id) === id)!;
      expect(row.name).toBe(truthRow.name);
    }
    expect(again.rows.size).toBe(truth.filter((d) => d.regionPath.includes(county)).length);
  });
});

// The running totals come from a read model kept by the writes themselves; here they are
// checked against a plain computation over the groups collection, for many random
// selections, after writes through every path that writes groups (the API, the sheet
// import, the demo script, the engine's flagging, model-level bulk writes, another process).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { COUNTY_SHAPE, seedDemo } from '../../scripts/demo-data.js';
import { GroupModel, groupReadModel } from '../../src/audience/model.js';
import { AudienceIntentModel, INTENT_TIMEOUT_MS } from '../../src/audience/read-model.js';
import type { AudienceSpec } from '../../src/audience/selection.js';
import { seededRandom } from '../../src/lib/seeded-random.js';
import { RegionModel } from '../../src/regions/model.js';
import { Scope } from '../../src/regions/scope.js';
import { startTestApp, type TestApp, withDatabase } from '../helpers/app.js';
import { type RawGroup, rawTotals } from '../helpers/audience-totals.js';
import { channelOfKind, createGroup } from '../helpers/groups.js';
import { addRegions, createRegionTree, TREE } from '../helpers/regions.js';
import { upload } from '../helpers/upload.js';

const run = promisify(execFile);
const TAGS = ['重点村', '学校', '商户', '景区', '留守老人'];
const KINDS = ['wecom', 'dingtalk', 'feishu', 'webhook', 'manual'] as const;

function pick<T>(rand: () => number, from: readonly T[], most: number): T[] {
  const count = Math.floor(rand() * (most + 1));
  return [...new Set(Array.from({ length: count }, () => from[Math.floor(rand() * from.length)]!))];
}

describe('audience totals equal a raw computation over the groups, whatever wrote them', () => {
  let t: TestApp;
  const rand = seededRandom(20261202);
  const villages: string[] = [TREE.villageA.code, TREE.villageB.code];
  const extra = [
    { code: '440106002', name: '石牌街道', parentCode: TREE.countyA.code },
    { code: '440106002001', name: '石牌村', parentCode: '440106002' },
    { code: '440106002002', name: '棠下村', parentCode: '440106002' },
    { code: '440106001002', name: '五山村', parentCode: TREE.townshipA.code },
    { code: '440111002004', name: '三元里村', parentCode: TREE.townshipB.code },
  ];

  /**
   * Every region code of the tree inside each scope (the API refuses regions outside it), from
   * one read of the tree (a scan on FerretDB, which pushes down no filter but an `_id`).
   */
  async function regionsIn(scopeCodes: string[]): Promise<Map<string, string[]>> {
    const regions = await RegionModel.find({}, { _id: 0, code: 1, regionPath: 1 }).lean<
      { code: string; regionPath: string[] }[]
    >();
    return new Map(
      scopeCodes.map((scopeCode) => [
        scopeCode,
        regions.filter((r) => r.regionPath.includes(scopeCode)).map((r) => r.code),
      ]),
    );
  }

  function randomSpec(codes: string[], ids: string[]): AudienceSpec {
    for (;;) {
      const spec: AudienceSpec = {
        regions: pick(rand, codes, 3),
        tags: pick(rand, TAGS, 2),
        groups: pick(rand, ids, 3),
        excludeRegions: pick(rand, codes, 2),
        excludeTags: pick(rand, TAGS, 1),
        excludeGroups: pick(rand, ids, 2),
      };
      if (spec.regions!.length + spec.tags!.length + spec.groups!.length > 0) return spec;
    }
  }

  /** Many random selections, from the top and from inside one county. */
  async function expectExact(rounds = 25): Promise<void> {
    const docs = await GroupModel.find({}).lean<RawGroup[]>();
    const ids = docs.map((g) => String(g._id));
    for (const [scopeCode, codes] of await regionsIn(['000000', TREE.countyA.code])) {
      for (let i = 0; i < rounds; i += 1) {
        const spec = randomSpec(codes, ids);
        const totals = await t.ctx.audience.totals(new Scope(scopeCode), spec);
        expect(totals, JSON.stringify({ scopeCode, spec })).toEqual(rawTotals(docs, scopeCode, spec));
      }
    }
    // The same through HTTP, as the console asks.
    const spec = { regions: ['000000'] };
    const response = await t.request('POST', '/api/audience/preview', t.adminToken, spec);
    expect(response.json()).toEqual(rawTotals(docs, '000000', spec));
  }

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    villages.push(...(await addRegions(t, extra)));
    for (let i = 0; i < 30; i += 1) {
      const channel = channelOfKind(KINDS[i % KINDS.length]!, `exact-group-${i}`);
      await createGroup(t, {
        regionCode: villages[Math.floor(rand() * villages.length)],
        memberCount: 10 + Math.floor(rand() * 900),
        tags: pick(rand, TAGS, 2),
        channel,
        active: rand() > 0.1,
      });
    }
  });
  afterAll(() => t.close());

  it('after groups are created through the API', async () => {
    await expectExact();
  });

  it('after API edits: members, tags, deactivation, a move to a village of another county', async () => {
    const list = (await t.request('GET', '/api/groups?limit=500', t.adminToken)).json() as { id: string }[];
    for (const [i, group] of list.slice(0, 12).entries()) {
      const change =
        i % 4 === 0
          ? { memberCount: 1 + i }
          : i % 4 === 1
            ? { tags: pick(rand, TAGS, 3) }
            : i % 4 === 2
              ? { active: false }
              : { regionCode: villages[(i * 3) % villages.length] };
      const response = await t.request('PATCH', `/api/groups/${group.id}`, t.adminToken, change);
      expect(response.statusCode, response.body).toBe(200);
    }
    await expectExact();
  });

  it('after the engine flags groups and an admin clears a flag', async () => {
    const ids = (await GroupModel.find({ active: true }, { _id: 1 }).lean()).map((g) => String(g._id));
    for (const id of ids.slice(0, 5)) await t.ctx.groups.flagGroup(id, '机器人已被移除');
    await expectExact(10);
    await t.request('PATCH', `/api/groups/${ids[0]}`, t.adminToken, { clearFlag: true });
    await expectExact(10);
  });

  it('after many writes to one county at once (API edits and engine flags racing)', async () => {
    const ids = (await GroupModel.find({ regionPath: TREE.countyA.code }, { _id: 1 }).lean()).map((g) => String(g._id));
    await Promise.all(
      ids
        .slice(0, 10)
        .map((id, i) =>
          i % 3 === 0
            ? t.ctx.groups.flagGroup(id, '并发标记')
            : t.request('PATCH', `/api/groups/${id}`, t.adminToken, { memberCount: 700 + i, tags: [TAGS[i % 5]!] }),
        ),
    );
    await expectExact(10);
  });

  it('after a sheet import that creates, updates and deactivates groups', async () => {
    const existing = await GroupModel.find({ regionCode: TREE.villageA.code }).lean<{ name: string }[]>();
    const lines = ['群名称,村（社区）代码,渠道,机器人地址,群人数,标签,启用'];
    lines.push(`导入新群1,440106002001,人工转发,,77,重点村,是`);
    lines.push(
      `导入新群2,440111002004,企业微信,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=importkey0002,55,学校,是`,
    );
    for (const [i, group] of existing.slice(0, 3).entries()) {
      lines.push(`${group.name},${TREE.villageA.code},,,${300 + i},${TAGS[i]},${i === 2 ? '否' : '是'}`);
    }
    const response = await upload(t, '/api/groups/import', t.adminToken, '台账.csv', Buffer.from(lines.join('\n')));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ applied: true, created: 2 });
    await expectExact();
  });

  it('after the demo script seeds a county', async () => {
    await seedDemo(t.ctx.groups, { groups: 120, doublesUrl: 'http://127.0.0.1:4010' });
    expect(COUNTY_SHAPE.groups).toBeGreaterThan(120);
    await expectExact();
    // A second run inserts nothing (every insert a duplicate): still exact.
    await seedDemo(t.ctx.groups, { groups: 120, doublesUrl: 'http://127.0.0.1:4010' });
    await expectExact(5);
  }, 180_000);

  it('after the demo script seeds a province of several counties, twice', async () => {
    // Past one county's shape the demo seeds a province: one full county and a second one of
    // 10 groups in its full tree of villages (the several counties' path, both kinds of county;
    // a third county added only more of the same rows to every later scan).
    const groups = COUNTY_SHAPE.groups + 10;
    const first = await seedDemo(t.ctx.groups, { groups, doublesUrl: 'http://127.0.0.1:4010' });
    expect(first.groupsCreated).toBe(groups);
    await expectExact();
    const second = await seedDemo(t.ctx.groups, { groups, doublesUrl: 'http://127.0.0.1:4010' });
    expect(second).toEqual({ regionsCreated: 0, groupsCreated: 0 });
    await expectExact(5);
  }, 180_000);

  it('after model-level writes: updateMany, bulkWrite, insertMany, save with a move, deleteMany', async () => {
    await GroupModel.updateMany({ tags: '景区' }, { $set: { active: false } });
    await GroupModel.updateMany({ regionPath: '990101', tags: '学校' }, { $inc: { memberCount: 5 } });
    const some = await GroupModel.find({ regionPath: TREE.countyB.code }).lean<RawGroup[]>();
    await GroupModel.bulkWrite([
      { updateOne: { filter: { _id: some[0]!._id }, update: { $set: { memberCount: 4321 } } } },
      {
        updateOne: {
          filter: { regionCode: TREE.villageB.code, name: { $exists: true } },
          update: { $set: { tags: ['商户'] } },
        },
      },
      {
        insertOne: {
          document: {
            name: '批量新群',
            regionCode: TREE.villageA.code,
            regionPath: ['000000', '440000', '440100', '440106', '440106001', TREE.villageA.code],
            channelKind: 'manual',
            credentialsSealed: t.ctx.groups.sealCredentials({ kind: 'manual' }),
            memberCount: 12,
          },
        },
      },
    ]);
    await GroupModel.insertMany([
      {
        name: '直接插入群',
        regionCode: '440111002004',
        regionPath: ['000000', '440000', '440100', '440111', '440111002', '440111002004'],
        channelKind: 'manual',
        credentialsSealed: t.ctx.groups.sealCredentials({ kind: 'manual' }),
        memberCount: 34,
        tags: ['重点村'],
      },
    ]);
    const mover = await GroupModel.findOne({ regionPath: TREE.countyA.code, active: true });
    mover!.set({
      regionCode: '440111002004',
      regionPath: ['000000', '440000', '440100', '440111', '440111002', '440111002004'],
    });
    await mover!.save();
    await expectExact(15);
    await GroupModel.deleteMany({ name: /^导入新群/ });
    await GroupModel.findByIdAndUpdate(some[1]!._id, { $set: { flaggedAt: new Date(), flagReason: 'x' } });
    await expectExact(15);
  }, 120_000);

  it('when a writer dies between its write and its change records, readers still count the write, and repair it', async () => {
    const victim = await GroupModel.findOne({
      regionPath: TREE.countyA.code,
      active: true,
      flaggedAt: null,
    }).lean<RawGroup>();
    const id = String(victim!._id);
    // What a dying writer leaves: its intent, and the write itself (made here without the hooks).
    const intent = await groupReadModel.beginWrite([id]);
    await GroupModel.collection.updateOne({ _id: victim!._id }, { $set: { memberCount: 31337, tags: ['景区'] } });
    await expectExact(10);
    // Ten minutes on, a reader turns the orphaned intent into records and removes it.
    await AudienceIntentModel.updateOne(
      { _id: intent },
      { $set: { at: new Date(Date.now() - INTENT_TIMEOUT_MS - 1) } },
    );
    await t.ctx.audience.totals(new Scope('000000'), { regions: ['000000'] });
    expect(await AudienceIntentModel.countDocuments()).toBe(0);
    await expectExact(10);
  }, 120_000);

  it('after another process writes groups (nothing is taken from this process’s memory)', async () => {
    const uri = withDatabase(inject('mongoServerUri'), t.ctx.db.connection.name);
    const before = await t.ctx.audience.totals(new Scope('000000'), { regions: ['000000'] });
    await run(process.execPath, ['--import', 'tsx', 'test/audience/fixtures/other-process-writes.ts', uri], {
      cwd: process.cwd(),
      timeout: 60_000,
    });
    const after = await t.ctx.audience.totals(new Scope('000000'), { regions: ['000000'] });
    expect(after).not.toEqual(before);
    await expectExact();
  }, 120_000);
});

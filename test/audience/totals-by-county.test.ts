// A province's audience totals (the picker's figures for a whole province, a city, a county,
// with tags included or excluded) read each county's kept totals under its change-log position
// (audience/county-totals.ts), not the county digests' 50,000 rows (issue 25, screens): a
// repeated call reads no digest and no group, one `_id` lookup per county; the figures stay
// those of a plain computation over the groups after every kind of group write, and an install
// whose digests were made before the county totals existed gives the same answers.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AudienceCountyTotalsModel, countyTotals } from '../../src/audience/county-totals.js';
import { GroupModel } from '../../src/audience/model.js';
import type { AudienceSpec } from '../../src/audience/selection.js';
import { seededRandom } from '../../src/lib/seeded-random.js';
import { Scope } from '../../src/regions/scope.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { type RawGroup, rawTotals } from '../helpers/audience-totals.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { channelOfKind, createGroup } from '../helpers/groups.js';
import { addRegions, createRegionTree, TREE } from '../helpers/regions.js';

const TAGS = ['重点村', '学校', '商户', '景区'];
const KINDS = ['wecom', 'dingtalk', 'manual'] as const;

/** The picker's selections: whole regions with tags excluded, tags alone, a county left out, a township named. */
const SPECS: AudienceSpec[] = [
  { regions: ['000000'], excludeTags: ['学校'] },
  { regions: ['000000'] },
  { regions: [TREE.province.code], excludeTags: ['学校', '景区'] },
  { tags: ['商户', '重点村'], excludeTags: ['景区'] },
  { regions: [TREE.city.code], excludeRegions: [TREE.countyB.code] },
  { regions: [TREE.countyA.code], tags: ['学校'] },
  { regions: [TREE.townshipB.code, TREE.countyA.code], excludeTags: ['商户'] },
  { regions: [TREE.city.code], excludeRegions: [TREE.villageA.code] },
];

describe('province audience totals from per-county totals', () => {
  let t: TestApp;
  const rand = seededRandom(20261206);
  const villages: string[] = [TREE.villageA.code, TREE.villageB.code];
  const extra = [
    { code: '440106002', name: '石牌街道', parentCode: TREE.countyA.code },
    { code: '440106002001', name: '石牌村', parentCode: '440106002' },
    { code: '440111002004', name: '三元里村', parentCode: TREE.townshipB.code },
  ];

  async function expectExact(): Promise<void> {
    const docs = await GroupModel.find({}).lean<RawGroup[]>();
    for (const spec of SPECS) {
      const totals = await t.ctx.audience.totals(new Scope('000000'), spec);
      expect(totals, JSON.stringify(spec)).toEqual(rawTotals(docs, '000000', spec));
    }
    const city = await t.ctx.audience.totals(new Scope(TREE.city.code), {
      regions: [TREE.city.code],
      excludeTags: ['学校'],
    });
    expect(city).toEqual(rawTotals(docs, TREE.city.code, { regions: [TREE.city.code], excludeTags: ['学校'] }));
  }

  /** The province's totals through HTTP, as the picker asks, with the commands it sent. */
  async function provinceCall() {
    let body: unknown;
    const seen = await commandsDuring(async () => {
      const response = await t.request('POST', '/api/audience/preview', t.adminToken, {
        regions: [TREE.province.code],
        excludeTags: ['学校'],
      });
      expect(response.statusCode, response.body).toBe(200);
      body = response.json();
    });
    return { body, seen };
  }

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    villages.push(...(await addRegions(t, extra)));
    for (let i = 0; i < 24; i += 1) {
      const channel = channelOfKind(KINDS[i % KINDS.length]!, `county-totals-${i}`);
      await createGroup(t, {
        regionCode: villages[i % villages.length],
        memberCount: 10 + Math.floor(rand() * 900),
        tags: [...new Set([TAGS[Math.floor(rand() * TAGS.length)]!, TAGS[Math.floor(rand() * TAGS.length)]!])].slice(
          0,
          1 + (i % 2),
        ),
        channel,
      });
    }
  }, 180_000);
  afterAll(() => t.close());

  it('a repeated province call reads no digest, no group and no change log', async () => {
    const docs = await GroupModel.find({}).lean<RawGroup[]>();
    const want = rawTotals(docs, '000000', { regions: [TREE.province.code], excludeTags: ['学校'] });
    expect((await provinceCall()).body).toEqual(want);
    const { body, seen } = await provinceCall();
    expect(body).toEqual(want);
    const reads = seen.filter((c) => ['find', 'count', 'aggregate', 'distinct'].includes(c.name));
    expect(reads.filter((c) => c.collection === 'audiencedigests')).toEqual([]);
    expect(reads.filter((c) => c.collection === 'groups')).toEqual([]);
    // The county list and the open intents are listed whole (small); everything else by `_id`.
    const listed = ['audiencecounties', 'audienceintents', 'sessions', 'users'];
    expect(reads.filter((c) => !listed.includes(c.collection) && !byIdOnly(c.filter))).toEqual([]);
    // None: the write token (audience/write-token.ts) has not moved since the first call.
    expect(reads.filter((c) => c.collection === 'audiencechanges')).toEqual([]);
  }, 180_000);

  it('equals a plain computation after creates, tag edits, deactivation, a move and model-level writes', async () => {
    await expectExact();
    const list = (await t.request('GET', '/api/groups?limit=100', t.adminToken)).json() as { id: string }[];
    const edits = [
      { tags: ['学校', '商户'] },
      { memberCount: 4321 },
      { active: false },
      { regionCode: TREE.villageB.code },
      { tags: [] },
    ];
    for (const [i, change] of edits.entries()) {
      const response = await t.request('PATCH', `/api/groups/${list[i]!.id}`, t.adminToken, change);
      expect(response.statusCode, response.body).toBe(200);
      await expectExact();
    }
    await createGroup(t, { regionCode: '440106002001', tags: ['景区'], channel: { kind: 'manual' }, memberCount: 55 });
    await GroupModel.updateMany({ tags: '商户' }, { $inc: { memberCount: 7 } });
    await t.ctx.groups.flagGroup(list[6]!.id, '机器人已被移除');
    await GroupModel.deleteOne({ _id: list[7]!.id });
    await expectExact();
  }, 180_000);

  it('an install whose digests predate the county totals gives the same answers, then keeps them', async () => {
    const docs = await GroupModel.find({}).lean<RawGroup[]>();
    await AudienceCountyTotalsModel.deleteMany({});
    countyTotals.forget();
    await expectExact();
    expect(await AudienceCountyTotalsModel.countDocuments({})).toBe(2);
    // A fresh process finds them current: no digest read.
    countyTotals.forget();
    const { body, seen } = await provinceCall();
    expect(body).toEqual(rawTotals(docs, '000000', { regions: [TREE.province.code], excludeTags: ['学校'] }));
    expect(seen.filter((c) => c.collection === 'audiencedigests')).toEqual([]);
  }, 180_000);
});

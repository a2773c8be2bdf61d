// Reach by day from the day documents (tracking/reach-days.ts): figures equal to counts made
// from the raw delivery items on a province of several counties over three months (every
// day breakdown, scopes, categories, a retraction, a deleted batch, a group that moved
// county), after a fold stopped between its ledgers and its county-years, and after the
// backfill of an install folded by older code (ledgers only). The province admin's day
// report reads a few documents by `_id`, not the ledgers and not one per county.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readChangedBatches } from '../../src/tracking/changed-batches.js';
import { Fold } from '../../src/tracking/fold.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { forgetDaysReady } from '../../src/tracking/reach-days.js';
import { ReachSet } from '../../src/tracking/reach-set.js';
import { STATE_ID } from '../../src/tracking/rollup-lease.js';
import {
  ReachDayModel,
  ReachIndexLengthsModel,
  RollupMarkerModel,
  RollupStateModel,
} from '../../src/tracking/rollup-model.js';
import { ReachRollups } from '../../src/tracking/rollups.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';
import { createRegionTree, TREE } from '../helpers/regions.js';
import { createCampaign, type FixtureBatch, type FixtureItem, writeBatch } from './ledger.js';
import { expectedReport, type RawBatch, type RawQuery, rawBatches } from './raw.js';

const ROOT = '000000';
const COUNTIES = 10;
/** Counties 440120 … 440129 of the city, each with one township and one village, besides TREE's two. */
const extra = Array.from({ length: COUNTIES }, (_, n) => {
  const county = `4401${20 + n}`;
  return {
    county: { code: county, name: `县${n}`, parentCode: TREE.city.code },
    township: { code: `${county}001`, name: `镇${n}`, parentCode: county },
    village: { code: `${county}001001`, name: `村${n}`, parentCode: `${county}001` },
  };
});
const pathOf = (county: string, township: string) => [ROOT, TREE.province.code, TREE.city.code, county, township];
const A = pathOf(TREE.countyA.code, TREE.townshipA.code);
const B = pathOf(TREE.countyB.code, TREE.townshipB.code);
const gid = (n: number) => n.toString(16).padStart(24, '0');
const DIMENSIONS = ['day', 'region', 'county', 'township', 'category'] as const;
/** Every combination holding `day`, and a few without it. */
const combinations: RawQuery['groupBy'][] = [
  ...Array.from({ length: 2 ** (DIMENSIONS.length - 1) }, (_, n) => [
    'day' as const,
    ...DIMENSIONS.slice(1).filter((_, bit) => n & (1 << bit)),
  ]),
  [],
  ['region'],
  ['county', 'category'],
];

describe('reach by day from the day documents', () => {
  let t: TestApp;
  let campaign: string;
  let provinceAdmin: string;
  let viewerA: string;
  let n = 0;
  const batch = (day: string, regionPath: string[], category: string, items: FixtureItem[]): FixtureBatch => ({
    id: `${campaign}@r${++n}|${regionPath.at(-1)}|0`,
    campaignId: campaign,
    category,
    day,
    regionPath,
    items,
  });
  const item = (g: number, village: string, status: FixtureItem['status'], memberCount = 100 + g): FixtureItem => ({
    groupId: gid(g),
    villageCode: village,
    memberCount,
    status,
  });

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    for (const { county, township, village } of extra) {
      for (const region of [county, township, village]) await t.request('POST', '/api/regions', t.adminToken, region);
    }
    provinceAdmin = (await t.userToken('admin', TREE.province.code)).token;
    viewerA = (await t.userToken('viewer', TREE.countyA.code)).token;
    campaign = await createCampaign(A.slice(0, 4));

    const fixture: FixtureBatch[] = [
      batch('2024-01-31', A, 'anti_fraud', [
        item(1, TREE.villageA.code, 'sent'),
        item(2, TREE.villageA.code, 'failed'),
      ]),
      batch('2024-02-01', A, 'anti_fraud', [item(1, TREE.villageA.code, 'sent'), item(2, TREE.villageA.code, 'sent')]),
      batch('2024-02-01', A, 'anti_theft', [
        item(1, TREE.villageA.code, 'confirmed'),
        item(4, TREE.villageA.code, 'awaiting'),
      ]),
      batch('2024-02-01', B, 'anti_fraud', [
        item(10, TREE.villageB.code, 'sent'),
        item(11, TREE.villageB.code, 'uncertain'),
      ]),
      // Group 2 moved to county B: a day's union across counties counts it once.
      batch('2024-02-15', B, 'anti_fraud', [item(2, TREE.villageB.code, 'sent'), item(10, TREE.villageB.code, 'sent')]),
      batch('2024-02-15', A, 'anti_fraud', [item(1, TREE.villageA.code, 'pending')]),
      batch('2024-03-01', B, 'anti_theft', [item(11, TREE.villageB.code, 'confirmed')]),
    ];
    // A province campaign: every extra county on two days of two months.
    extra.forEach(({ county, township, village }, c) => {
      for (const day of ['2024-02-15', '2024-03-02']) {
        fixture.push(
          batch(day, pathOf(county.code, township.code), 'anti_fraud', [
            item(100 + 2 * c, village.code, 'sent'),
            item(101 + 2 * c, village.code, day === '2024-02-15' ? 'sent' : 'failed'),
          ]),
        );
      }
    });
    for (const b of fixture) await writeBatch(t.ctx, b);
    await t.ctx.tracking.rollups.refreshAll('test');
    // A retraction (the pending delivery skipped) and a deleted batch after the first fold.
    await writeBatch(t.ctx, { ...fixture[5]!, items: [{ ...fixture[5]!.items[0]!, status: 'skipped' }] });
    await DeliveryBatchModel.deleteOne({ _id: fixture[0]!.id });
    await t.ctx.tracking.rollups.batchesWritten([fixture[0]!.id]);
    await t.ctx.tracking.rollups.refreshAll('test');
  });
  afterAll(() => t.close());

  const report = async (params: URLSearchParams, token: string) => {
    const response = await t.request('GET', `/api/reach?${params}`, token);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    return { totals: body.totals, rows: body.rows.map(({ regionName: _, ...row }: Record<string, unknown>) => row) };
  };
  /**
   * The report of `q` against the raw counts. `raw`: the raw batches when the caller has read
   * them since the last write (a run of comparisons with nothing written between them reads
   * them once; they are the same documents each comparison would read).
   */
  const compare = async (q: RawQuery, token = t.adminToken, raw?: RawBatch[]) => {
    const params = new URLSearchParams({ from: q.from, to: q.to, groupBy: q.groupBy.join(',') });
    if (q.base !== q.scope) params.set('regionCode', q.base);
    if (q.category) params.set('category', q.category);
    expect(await report(params, token), `${params}`).toEqual(expectedReport(raw ?? (await rawBatches()), q));
  };
  const compareAll = async () => {
    const raw = await rawBatches();
    for (const groupBy of combinations) {
      for (const base of [ROOT, TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipB.code]) {
        await compare({ scope: ROOT, base, from: '2024-01-01', to: '2024-03-31', groupBy }, t.adminToken, raw);
      }
      await compare(
        { scope: ROOT, base: ROOT, from: '2024-02-01', to: '2024-03-01', groupBy, category: 'anti_fraud' },
        t.adminToken,
        raw,
      );
      await compare(
        { scope: TREE.countyA.code, base: TREE.countyA.code, from: '2024-01-15', to: '2024-02-20', groupBy },
        viewerA,
        raw,
      );
    }
    await compare(
      { scope: TREE.province.code, base: TREE.province.code, from: '2024-02-01', to: '2024-03-31', groupBy: ['day'] },
      provinceAdmin,
      raw,
    );
  };

  it('gives every day breakdown equal to the raw counts, in every scope', async () => {
    expect(await ReachDayModel.countDocuments()).toBeGreaterThan(0);
    await compareAll();
  });

  it('shows a fold stopped after its ledgers in the day report, and ends exact', async () => {
    await writeBatch(t.ctx, batch('2024-03-20', B, 'anti_theft', [item(12, TREE.villageB.code, 'sent', 999)]));
    const markers = await RollupMarkerModel.find({}).lean();
    const fold = new Fold();
    await readChangedBatches(
      markers.flatMap((m) => m.batchIds),
      (c) => fold.add(c),
      async () => true,
    );
    let asked = 0;
    expect(await fold.write(async () => ++asked === 1)).toBe(false);
    const q: RawQuery = { scope: ROOT, base: ROOT, from: '2024-03-01', to: '2024-03-31', groupBy: ['day', 'county'] };
    await compare(q);
    await compare({ ...q, base: TREE.province.code, groupBy: ['day'] }, provinceAdmin);
    await t.ctx.tracking.rollups.refreshAll('test');
    await compareAll();
  });

  it('builds the day documents of an install folded by older code, once, and gives the same figures', async () => {
    const before = (await ReachDayModel.find({}).lean()).sort((a, b) => (a._id < b._id ? -1 : 1));
    // The older layout: ledgers, county-years and county indexes only.
    await ReachDayModel.deleteMany({});
    await ReachIndexLengthsModel.deleteMany({});
    await RollupStateModel.updateOne({ _id: STATE_ID }, { $unset: { days: 1 } });
    forgetDaysReady();
    // Until they are built, reports read the ledgers (still exact).
    await compare({ scope: ROOT, base: ROOT, from: '2024-01-01', to: '2024-03-31', groupBy: ['day', 'county'] });

    // A process starting: builds them under the roll-up lease; a second start does nothing.
    const started = new ReachRollups(t.ctx.clock);
    await started.prepareDays('start-1');
    const built = (await ReachDayModel.find({}).lean()).sort((a, b) => (a._id < b._id ? -1 : 1));
    expect(built).toEqual(before);
    const again = await commandsDuring(() => new ReachRollups(t.ctx.clock).prepareDays('start-2'));
    expect(again.filter((c) => c.collection === 'reachdays')).toEqual([]);
    forgetDaysReady();
    await compareAll();
    // Built twice (a build stopped half-way and run again): the same documents.
    await RollupStateModel.updateOne({ _id: STATE_ID }, { $unset: { days: 1 } });
    await new ReachRollups(t.ctx.clock).prepareDays('start-3');
    expect((await ReachDayModel.find({}).lean()).sort((a, b) => (a._id < b._id ? -1 : 1))).toEqual(before);
  });

  it("reads the province admin's day report from a few documents by _id, not the ledgers nor one per county", async () => {
    const params = new URLSearchParams({
      from: '2024-02-01',
      to: '2024-03-31',
      groupBy: 'day',
      regionCode: TREE.province.code,
    });
    await report(params, provinceAdmin); // this process's first look may read the county indexes
    const seen = await commandsDuring(() => report(params, provinceAdmin));
    const of = (collection: string) => seen.filter((c) => c.collection === collection);
    expect(of('reachledgers'), 'no ledger read').toEqual([]);
    expect(of('reachcountyindexes'), 'county indexes kept while their lengths are unchanged').toEqual([]);
    // One document per month asked for, by _id, whatever the number of counties (12 here).
    expect(of('reachdays').map((c) => c.filter)).toEqual([
      { _id: `${TREE.province.code}|2024-02` },
      { _id: `${TREE.province.code}|2024-03` },
    ]);
    expect(seen.length, JSON.stringify(seen)).toBeLessThanOrEqual(8);
  });

  it('counts a group reached in several counties once without listing any reached set', async () => {
    // Group 500 reached in three counties on one day and in a fourth on another, a village
    // of county 0 reached from county 1's batch, group 2 (moved A -> B) in both again.
    const [c0, c1, c2] = [extra[0]!, extra[1]!, extra[2]!];
    const at = (e: (typeof extra)[number]) => pathOf(e.county.code, e.township.code);
    for (const b of [
      batch('2024-03-05', at(c0), 'anti_fraud', [
        item(500, c0.village.code, 'sent'),
        item(501, c0.village.code, 'sent'),
      ]),
      batch('2024-03-05', at(c1), 'anti_fraud', [
        item(500, c0.village.code, 'sent'),
        item(502, c1.village.code, 'failed'),
      ]),
      batch('2024-03-05', A, 'anti_theft', [
        item(500, TREE.villageA.code, 'confirmed'),
        item(2, TREE.villageA.code, 'sent'),
      ]),
      batch('2024-03-05', B, 'anti_fraud', [item(2, TREE.villageB.code, 'sent')]),
      batch('2024-03-06', at(c2), 'anti_fraud', [item(500, c2.village.code, 'sent')]),
    ]) {
      await writeBatch(t.ctx, b);
    }
    await t.ctx.tracking.rollups.refreshAll('test');
    const raw = await rawBatches();
    const listed = vi.spyOn(ReachSet.prototype, 'indices');
    try {
      for (const groupBy of [
        ['day'],
        [],
        ['day', 'category'],
        ['region'],
        ['day', 'county'],
      ] as RawQuery['groupBy'][]) {
        await compare({ scope: ROOT, base: ROOT, from: '2024-02-01', to: '2024-03-31', groupBy }, t.adminToken, raw);
        await compare(
          { scope: TREE.province.code, base: TREE.province.code, from: '2024-03-01', to: '2024-03-31', groupBy },
          provinceAdmin,
          raw,
        );
      }
      // The figures across counties are popcounts less the repeated groups, not unions of ids.
      expect(listed).not.toHaveBeenCalled();
    } finally {
      listed.mockRestore();
    }
    await compareAll();
  });
});

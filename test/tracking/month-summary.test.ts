// The monthly table above a county from the month summaries (tracking/reach-months.ts): the
// township rows, category rows and totals of a month equal counts made from the raw delivery
// items for a province of several counties (a group that moved county counted once), for the
// root, province, city and a county; after a fold stopped between its ledgers and its
// summaries; after the backfill of an install folded by older code, run twice. The province
// admin's table reads one summary by `_id` and no county-year right after a fold, and none when
// nothing was folded since (kept per process under the county-years' log).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackfillModel } from '../../src/db/backfills.js';
import { readChangedBatches } from '../../src/tracking/changed-batches.js';
import { Fold } from '../../src/tracking/fold.js';
import { forgetMonthsReady, MONTHS_BACKFILL } from '../../src/tracking/reach-months.js';
import { ReachMonthModel, RollupMarkerModel } from '../../src/tracking/rollup-model.js';
import { ReachRollups } from '../../src/tracking/rollups.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { createRegionTree, TREE } from '../helpers/regions.js';
import { createCampaign, type FixtureBatch, type FixtureItem, writeBatch } from './ledger.js';
import { expectedReport, type RawQuery, rawBatches } from './raw.js';

const ROOT = '000000';
const COUNTIES = 6;
const extra = Array.from({ length: COUNTIES }, (_, n) => {
  const county = `4401${20 + n}`;
  return {
    county: { code: county, name: `县${n}`, parentCode: TREE.city.code },
    townships: [1, 2].map((k) => ({ code: `${county}00${k}`, name: `镇${n}-${k}`, parentCode: county })),
    village: (k: number) => ({ code: `${county}00${k}001`, name: `村${n}-${k}`, parentCode: `${county}00${k}` }),
  };
});
const pathOf = (county: string, township: string) => [ROOT, TREE.province.code, TREE.city.code, county, township];
const A = pathOf(TREE.countyA.code, TREE.townshipA.code);
const B = pathOf(TREE.countyB.code, TREE.townshipB.code);
const gid = (n: number) => n.toString(16).padStart(24, '0');
const MONTHS = ['2024-02', '2024-03'];

describe('the monthly table above a county from month summaries', () => {
  let t: TestApp;
  let campaign: string;
  let provinceAdmin: string;
  let cityCoordinator: string;
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
    for (const { county, townships, village } of extra) {
      await t.request('POST', '/api/regions', t.adminToken, county);
      for (const township of townships) await t.request('POST', '/api/regions', t.adminToken, township);
      for (const k of [1, 2]) await t.request('POST', '/api/regions', t.adminToken, village(k));
    }
    provinceAdmin = (await t.userToken('admin', TREE.province.code)).token;
    cityCoordinator = (await t.userToken('coordinator', TREE.city.code)).token;
    campaign = await createCampaign(A.slice(0, 4));
    const fixture: FixtureBatch[] = [
      batch('2024-02-01', A, 'anti_fraud', [item(1, TREE.villageA.code, 'sent'), item(2, TREE.villageA.code, 'sent')]),
      batch('2024-02-01', A, 'anti_theft', [
        item(1, TREE.villageA.code, 'confirmed'),
        item(4, TREE.villageA.code, 'awaiting'),
      ]),
      batch('2024-02-01', B, 'anti_fraud', [
        item(10, TREE.villageB.code, 'sent'),
        item(11, TREE.villageB.code, 'uncertain'),
      ]),
      // Group 2 moved to county B: the month's union across counties counts it once.
      batch('2024-02-15', B, 'anti_fraud', [item(2, TREE.villageB.code, 'sent'), item(10, TREE.villageB.code, 'sent')]),
      batch('2024-03-01', B, 'anti_theft', [item(11, TREE.villageB.code, 'confirmed')]),
    ];
    extra.forEach(({ county, townships, village }, c) => {
      for (const day of ['2024-02-15', '2024-03-02']) {
        townships.forEach((township, k) => {
          fixture.push(
            batch(day, pathOf(county.code, township.code), k === 0 ? 'anti_fraud' : 'general', [
              item(100 + 4 * c + k, village(k + 1).code, 'sent'),
              item(102 + 4 * c + k, village(k + 1).code, day === '2024-02-15' ? 'sent' : 'failed'),
            ]),
          );
        });
      }
    });
    for (const b of fixture) await writeBatch(t.ctx, b);
    await t.ctx.tracking.rollups.refreshAll('test');
  });
  afterAll(() => t.close());

  const reach = async (q: RawQuery, token: string) => {
    const params = new URLSearchParams({ from: q.from, to: q.to, groupBy: q.groupBy.join(',') });
    if (q.base !== q.scope) params.set('regionCode', q.base);
    const response = await t.request('GET', `/api/reach?${params}`, token);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    return { totals: body.totals, rows: body.rows.map(({ regionName: _, ...row }: Record<string, unknown>) => row) };
  };
  /** Every month's table breakdown (townships, categories, total) against the raw items, for each person. */
  const compareAll = async () => {
    const raw = await rawBatches();
    for (const month of MONTHS) {
      for (const groupBy of [['township'], ['category'], []] as RawQuery['groupBy'][]) {
        const asked: Array<[string, string, string]> = [
          [ROOT, ROOT, t.adminToken],
          [ROOT, TREE.province.code, t.adminToken],
          [TREE.province.code, TREE.province.code, provinceAdmin],
          [TREE.province.code, TREE.city.code, provinceAdmin],
          [TREE.city.code, TREE.city.code, cityCoordinator],
          [TREE.province.code, TREE.countyB.code, provinceAdmin],
        ];
        for (const [scope, base, token] of asked) {
          const q: RawQuery = { scope, base, from: month, to: month, groupBy };
          expect(await reach(q, token), `${month} ${base} ${groupBy}`).toEqual(expectedReport(raw, q));
        }
      }
      // The table itself: its rows and total are the report's.
      const table = (await t.request('GET', `/api/reach/monthly?period=${month}`, provinceAdmin)).json();
      const expected = expectedReport(raw, {
        scope: TREE.province.code,
        base: TREE.province.code,
        from: month,
        to: month,
        groupBy: ['township'],
      });
      expect(
        table.rows.map((r: Record<string, unknown>) => [
          r.townshipCode,
          r.messages,
          r.groupsReached,
          r.villagesReached,
        ]),
      ).toEqual(expected.rows.map((r) => [r.townshipCode, r.messages, r.groupsReached, r.villagesReached]));
      expect([table.total.messages, table.total.groupsReached, table.total.personTimes]).toEqual([
        expected.totals.messages,
        expected.totals.groupsReached,
        expected.totals.personTimes,
      ]);
    }
  };

  it('gives every township, category and total of a month equal to the raw counts', async () => {
    expect(await ReachMonthModel.countDocuments()).toBeGreaterThan(0);
    await compareAll();
  });

  it("reads no county-year for the province admin's table after a fold, the summary once by _id", async () => {
    const table = () => t.request('GET', '/api/reach/monthly?period=2024-02', provinceAdmin);
    await table();
    await writeBatch(t.ctx, batch('2024-02-20', B, 'general', [item(12, TREE.villageB.code, 'sent')]));
    await t.ctx.tracking.rollups.refreshAll('test');
    // The first call after the fold (main re-read the county-year the fold wrote) reads the
    // summary the fold logged, by `_id`; a repeated call reads none (kept in the process).
    for (const expected of [1, 0]) {
      const seen = await commandsDuring(table);
      expect(seen.filter((c) => c.collection === 'reachcountyyears')).toEqual([]);
      const months = seen.filter((c) => c.collection === 'reachmonths');
      expect(months.length).toBe(expected);
      expect(months.every((c) => byIdOnly(c.filter))).toBe(true);
    }
    await compareAll();
  });

  it('shows nothing half-done after a fold stopped before its summaries, and ends exact', async () => {
    await writeBatch(t.ctx, batch('2024-03-20', B, 'anti_theft', [item(13, TREE.villageB.code, 'sent', 999)]));
    await writeBatch(t.ctx, batch('2024-03-21', A, 'general', [item(2, TREE.villageA.code, 'sent', 7)]));
    const markers = await RollupMarkerModel.find({}).lean();
    const fold = new Fold();
    await readChangedBatches(
      markers.flatMap((m) => m.batchIds),
      (c) => fold.add(c),
      async () => true,
    );
    const before = await ReachMonthModel.find({}).lean();
    let asked = 0;
    // Lease lost after the ledgers: neither the summaries nor the county-years are written.
    expect(await fold.write(async () => ++asked === 1)).toBe(false);
    expect(await ReachMonthModel.find({}).lean()).toEqual(before);
    // The markers are left; the next refresh folds them again.
    expect(await RollupMarkerModel.countDocuments()).toBeGreaterThan(0);
    await t.ctx.tracking.rollups.refreshAll('test');
    await compareAll();
  });

  it('builds the summaries of an install folded by older code, once, twice over the same', async () => {
    const sorted = async () => (await ReachMonthModel.find({}).lean()).sort((a, b) => (a._id < b._id ? -1 : 1));
    const before = await sorted();
    await ReachMonthModel.deleteMany({});
    await BackfillModel.deleteOne({ _id: MONTHS_BACKFILL });
    forgetMonthsReady();
    // Until they are built, tables read the county-years (still exact).
    await compareAll();
    await new ReachRollups(t.ctx.clock).prepareDays('start-1');
    expect(await sorted()).toEqual(before);
    const again = await commandsDuring(() => new ReachRollups(t.ctx.clock).prepareDays('start-2'));
    expect(again.filter((c) => c.collection === 'reachmonths')).toEqual([]);
    // A build interrupted (a stray document left, not marked) and run again: the same documents.
    await ReachMonthModel.collection.insertOne({
      _id: `${TREE.province.code}|2023-01` as never,
      regionCode: TREE.province.code,
      month: '2023-01',
      paths: '{}',
      rows: '[]',
      cells: '',
    });
    await BackfillModel.deleteOne({ _id: MONTHS_BACKFILL });
    await new ReachRollups(t.ctx.clock).prepareDays('start-3');
    expect(await sorted()).toEqual(before);
    forgetMonthsReady();
    await compareAll();
  });
});

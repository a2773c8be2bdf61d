// The month-precision read model (one document per county and year) against counts made
// from the raw delivery items: every breakdown, distinct groups and villages across months,
// categories and counties, filters, scopes, and recovery from an interrupted refresh.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChangedBatches } from '../../src/tracking/changed-batches.js';
import { Fold } from '../../src/tracking/fold.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { ReachCountyYearModel, RollupMarkerModel } from '../../src/tracking/rollup-model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { type FixtureBatch, type FixtureItem, createCampaign, writeBatch } from './ledger.js';
import { type RawQuery, countRaw, expectedReport, rawBatches } from './raw.js';

const ROOT = '000000';
const townshipA2 = { code: '440106002', name: '石牌街道', parentCode: TREE.countyA.code };
const villageA2 = { code: '440106002001', name: '石牌社区', parentCode: townshipA2.code };
const pathOf = (county: string, township: string) => [ROOT, TREE.province.code, TREE.city.code, county, township];
const A1 = pathOf(TREE.countyA.code, TREE.townshipA.code);
const A2 = pathOf(TREE.countyA.code, townshipA2.code);
const B = pathOf(TREE.countyB.code, TREE.townshipB.code);
const gid = (n: number) => n.toString(16).padStart(24, '0');
const DIMENSIONS = ['month', 'region', 'county', 'township', 'category'] as const;

/** Every non-empty combination of the month-precision dimensions, in their usual order. */
const combinations = Array.from({ length: 2 ** DIMENSIONS.length - 1 }, (_, n) =>
  DIMENSIONS.filter((_, bit) => (n + 1) & (1 << bit)),
);

describe('month-precision reach statistics', () => {
  let t: TestApp;
  let viewerA: string;
  let campaign: string;
  const batch = (
    n: number,
    day: string,
    regionPath: string[],
    category: string,
    items: FixtureItem[],
  ): FixtureBatch => ({
    id: `${campaign}@r${n}|${regionPath.at(-1)}|0`,
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
  const vA = (n: number) => `${TREE.townshipA.code}00${n}`;

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    for (const region of [townshipA2, villageA2]) await t.request('POST', '/api/regions', t.adminToken, region);
    viewerA = (await t.userToken('viewer', TREE.countyA.code)).token;
    campaign = await createCampaign(A1.slice(0, 4));

    // The same groups are reached again in other months and categories (distinct < sum), and
    // group 3 moves to county B in March (a city-wide union must count it once).
    const fixture = [
      batch(1, '2024-01-10', A1, 'anti_fraud', [
        item(1, vA(1), 'sent'),
        item(2, vA(1), 'sent'),
        item(3, vA(2), 'failed'),
        item(4, vA(3), 'confirmed'),
      ]),
      batch(2, '2024-01-20', A1, 'anti_theft', [
        item(1, vA(1), 'sent'),
        item(2, vA(1), 'skipped'),
        item(5, vA(2), 'awaiting'),
      ]),
      batch(3, '2024-02-05', A1, 'anti_fraud', [
        item(1, vA(1), 'sent'),
        item(3, vA(2), 'sent'),
        item(6, vA(3), 'uncertain'),
      ]),
      batch(4, '2024-02-05', A2, 'anti_fraud', [
        item(7, villageA2.code, 'sent'),
        item(8, villageA2.code, 'sent'),
        item(9, villageA2.code, 'pending'),
      ]),
      batch(5, '2024-03-03', A2, 'anti_theft', [item(7, villageA2.code, 'confirmed'), item(9, villageA2.code, 'sent')]),
      batch(6, '2024-03-03', B, 'anti_fraud', [
        item(10, TREE.villageB.code, 'sent'),
        item(3, TREE.villageB.code, 'sent'),
      ]),
      batch(7, '2024-02-14', B, 'anti_theft', [item(10, TREE.villageB.code, 'failed')]),
      batch(8, '2024-03-09', A1, 'anti_fraud', [item(1, vA(1), 'sent')]),
    ];
    for (const b of fixture) await writeBatch(t.ctx, b);
    await t.ctx.tracking.rollups.refreshAll('test');

    // A retraction after the first fold: the still pending delivery of batch 4 is skipped;
    // and batch 8 disappears from the ledger (its part must go with it).
    await writeBatch(t.ctx, {
      ...fixture[3]!,
      items: fixture[3]!.items.map((i) => (i.status === 'pending' ? { ...i, status: 'skipped' as const } : i)),
    });
    await DeliveryBatchModel.deleteOne({ _id: fixture[7]!.id });
    await t.ctx.tracking.rollups.batchesWritten([fixture[7]!.id]);
    await t.ctx.tracking.rollups.refreshAll('test');
  });
  afterAll(() => t.close());

  const report = async (query: string, token = t.adminToken) => {
    const response = await t.request('GET', `/api/reach?${query}`, token);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    return { ...body, rows: body.rows.map(({ regionName: _, ...row }: Record<string, unknown>) => row) };
  };
  const compare = async (q: RawQuery, token = t.adminToken) => {
    const params = new URLSearchParams({ from: q.from, to: q.to, groupBy: q.groupBy.join(',') });
    if (q.base !== q.scope) params.set('regionCode', q.base);
    if (q.category) params.set('category', q.category);
    const body = await report(params.toString(), token);
    const expected = expectedReport(await rawBatches(), q);
    expect({ totals: body.totals, rows: body.rows }, `${params}`).toEqual(expected);
  };

  it('gives every month-precision breakdown equal to the raw counts, rows and totals', async () => {
    for (const groupBy of combinations) {
      await compare({ scope: ROOT, base: ROOT, from: '2024-01', to: '2024-03', groupBy });
      await compare({ scope: ROOT, base: TREE.city.code, from: '2024-01', to: '2024-03', groupBy });
      await compare({ scope: ROOT, base: TREE.countyA.code, from: '2024-02', to: '2024-03', groupBy });
    }
  });

  it('counts distinct groups and villages once across months, categories and counties', async () => {
    const body = await report('from=2024-01&to=2024-03');
    const raw = await countRaw();
    expect(body.totals).toEqual(raw);
    // Groups 1, 3 and 7 are reached in several months or categories, group 3 in two counties:
    // summing rows would count them again.
    expect(raw.groupsReached).toBe(8);
    for (const dim of ['month', 'category', 'county']) {
      const rows = (await report(`from=2024-01&to=2024-03&groupBy=${dim}`)).rows;
      const summed = rows.reduce((sum: number, r: { groupsReached: number }) => sum + r.groupsReached, 0);
      expect(summed, dim).toBeGreaterThan(raw.groupsReached);
    }
  });

  it('totals only the category asked for', async () => {
    for (const category of ['anti_fraud', 'anti_theft']) {
      await compare({ scope: ROOT, base: ROOT, from: '2024-01', to: '2024-03', groupBy: [], category });
      await compare({
        scope: ROOT,
        base: ROOT,
        from: '2024-01',
        to: '2024-03',
        groupBy: ['month', 'township'],
        category,
      });
    }
  });

  it('keeps to a township asked for by regionCode', async () => {
    for (const groupBy of [[], ['month'], ['region', 'category']] as RawQuery['groupBy'][]) {
      await compare({ scope: ROOT, base: TREE.townshipA.code, from: '2024-01', to: '2024-03', groupBy });
    }
    const body = await report(`from=2024-01&to=2024-03&groupBy=township&regionCode=${TREE.townshipA.code}`);
    expect(body.rows.map((r: { townshipCode: string }) => r.townshipCode)).toEqual([TREE.townshipA.code]);
  });

  it('shows a county viewer nothing of another county, even a group that moved there', async () => {
    for (const groupBy of [[], ['month', 'township', 'category'], ['region']] as RawQuery['groupBy'][]) {
      await compare(
        { scope: TREE.countyA.code, base: TREE.countyA.code, from: '2024-01', to: '2024-03', groupBy },
        viewerA,
      );
    }
    const body = await report('from=2024-01&to=2024-03&groupBy=county,township', viewerA);
    expect(JSON.stringify(body)).not.toContain(TREE.countyB.code);
    expect(JSON.stringify(body)).not.toContain(TREE.townshipB.code);
  });

  it('answers a month range with no data and a region without statistics with empty rows', async () => {
    expect((await report('from=2023-01&to=2023-12&groupBy=month')).rows).toEqual([]);
    const village = await report(`from=2024-01&to=2024-03&groupBy=month&regionCode=${TREE.villageA.code}`);
    expect(village.rows).toEqual([]);
    expect(village.totals.deliveries).toBe(0);
  });

  it('reads the common report from one document per county and year', async () => {
    const ids = (await ReachCountyYearModel.find({}, { _id: 1 }).lean()).map((d) => d._id).sort();
    expect(ids).toEqual([`${TREE.countyA.code}|2024`, `${TREE.countyB.code}|2024`]);
  });

  it('keeps the monthly table and its export equal to the endpoint and the raw counts', async () => {
    for (const month of ['2024-01', '2024-02', '2024-03']) {
      const table = (await t.request('GET', `/api/reach/monthly?month=${month}`, t.adminToken)).json();
      const stats = await report(`from=${month}&to=${month}&groupBy=township`);
      const batches = await rawBatches();
      expect(table.rows.map((r: { townshipCode: string }) => r.townshipCode)).toEqual(
        stats.rows.map((r: { townshipCode: string }) => r.townshipCode),
      );
      for (const row of table.rows) {
        const raw = expectedReport(batches, { scope: ROOT, base: ROOT, from: month, to: month, groupBy: ['township'] });
        const expected = raw.rows.find((r) => r.townshipCode === row.townshipCode)!;
        expect(row).toMatchObject({
          messages: expected.messages,
          groupsReached: expected.groupsReached,
          villagesReached: expected.villagesReached,
          personTimes: expected.personTimes,
        });
      }
      const csv = await t.request('GET', `/api/reach/monthly/export?month=${month}&format=csv`, t.adminToken);
      const lines = csv.body
        .replace(/^\uFEFF/, '')
        .trim()
        .split('\r\n')
        .slice(1);
      // The file is the screen: a row per township by name, then 合计 with the report's totals.
      expect(lines.slice(0, table.rows.length + 1).map((line) => line.split(',').slice(0, 5).join(','))).toEqual([
        ...table.rows.map((r: Record<string, unknown>) =>
          [r.townshipName, r.messages, r.groupsReached, r.villagesReached, r.personTimes].join(','),
        ),
        ['合计', stats.totals.messages, stats.totals.groupsReached, stats.totals.villagesReached, stats.totals.personTimes].join(','),
      ]);
    }
  });

  it('ends exact when a refresh stopped after writing the ledgers and the next one redoes it', async () => {
    await writeBatch(t.ctx, batch(9, '2024-03-20', A2, 'anti_fraud', [item(11, villageA2.code, 'sent', 999)]));
    const markers = await RollupMarkerModel.find({}).lean();
    // The interrupted refresh: parts and ledgers written, then the lease is lost before the
    // county-years; its markers stay.
    const fold = new Fold();
    const ids = markers.flatMap((m) => m.batchIds);
    await readChangedBatches(
      ids,
      (c) => fold.add(c),
      async () => true,
    );
    let asked = 0;
    expect(await fold.write(async () => ++asked === 1)).toBe(false);
    expect(await RollupMarkerModel.countDocuments()).toBe(markers.length);
    // Left half-way: the ledgers (day path) hold the new delivery, the cells not yet.
    const raw = await countRaw((b) => b.month === '2024-03');
    expect((await report('from=2024-03-01&to=2024-03-31')).totals.deliveries).toBe(raw.deliveries);
    expect((await report('from=2024-03&to=2024-03')).totals.deliveries).toBe(raw.deliveries - 1);

    await t.ctx.tracking.rollups.refreshAll('test');
    await compare({
      scope: ROOT,
      base: ROOT,
      from: '2024-01',
      to: '2024-03',
      groupBy: ['month', 'township', 'category'],
    });
    await compare({ scope: ROOT, base: ROOT, from: '2024-01', to: '2024-03', groupBy: [] });
  });

  it('lets one refresher hold the lease between refreshes until it hands it back', async () => {
    const rollups = t.ctx.tracking.rollups;
    expect(await rollups.refresh('first')).toBe(0);
    expect(await rollups.refresh('second')).toBeNull();
    expect(await rollups.refresh('first')).toBe(0);
    await rollups.release('first');
    expect(await rollups.refresh('second')).toBe(0);
    await rollups.release('second');
  });
});

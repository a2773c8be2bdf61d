// The county-years and scopes kept per process (tracking/kept-county-years.ts): the province
// admin's workbench counts, monthly table and month report read no county-year and no scope on a
// repeated call, and after a fold only the county-years it logged, by `_id`; the figures stay
// equal to counts made from the raw delivery items. A second process (a second ReachStats, its
// own kept documents) sees a fold on its next call. A fold killed between its county-year write
// and its log record, or between a new county's scope write and its record, leaves its markers:
// the next refresh folds them again and logs them, and every reader is current again.
// Real FerretDB and HTTP, fixed clock; the driver's commands are counted, nothing is timed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectionChangeModel } from '../../src/db/versions.js';
import { fixedClock } from '../../src/lib/clock.js';
import { Scope } from '../../src/regions/scope.js';
import { COUNTY_YEARS_LOG } from '../../src/tracking/kept-county-years.js';
import { ReachStats } from '../../src/tracking/stats.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { byIdOnly, commandsDuring, type SeenCommand } from '../helpers/commands.js';
import { createRegionTree, TREE } from '../helpers/regions.js';
import { createCampaign, type FixtureBatch, type FixtureItem, writeBatch } from './ledger.js';
import { countRaw, expectedReport, rawBatches } from './raw.js';

// 12:00 in Shanghai on 2026-12-03.
const clock = fixedClock('2026-12-03T04:00:00Z');
const ROOT = '000000';
const MONTH = '2026-12';
const A = [ROOT, TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code];
const B = [ROOT, TREE.province.code, TREE.city.code, TREE.countyB.code, TREE.townshipB.code];
const gid = (n: number) => n.toString(16).padStart(24, '0');

/** Makes the next `count` log records of the county-years fail, as a process killed before them. */
function killBeforeRecord(count = 1) {
  const insertOne = CollectionChangeModel.collection.insertOne.bind(CollectionChangeModel.collection);
  let left = count;
  CollectionChangeModel.collection.insertOne = (async (doc: { _id: string }, ...rest: unknown[]) => {
    if (left > 0 && String(doc._id).startsWith(`${COUNTY_YEARS_LOG}#`)) {
      left -= 1;
      throw new Error('killed');
    }
    return (insertOne as (...args: unknown[]) => unknown)(doc, ...rest);
  }) as never;
  return () => {
    CollectionChangeModel.collection.insertOne = insertOne as never;
  };
}

const keptReads = (seen: SeenCommand[]) =>
  seen.filter((c) => c.collection === 'reachcountyyears' || c.collection === 'reachscopes');

describe('county-years kept per process', () => {
  let t: TestApp;
  let campaign: string;
  let n = 0;
  const item = (g: number, village: string, status: FixtureItem['status']): FixtureItem => ({
    groupId: gid(g),
    villageCode: village,
    memberCount: 40 + g,
    status,
  });
  const batch = (day: string, regionPath: string[], items: FixtureItem[]): FixtureBatch => {
    n += 1;
    return {
      id: `${campaign}@r${n}|${regionPath.at(-1)}|0`,
      campaignId: campaign,
      category: 'anti_fraud',
      day,
      regionPath,
      items,
    };
  };
  const vA = TREE.villageA.code;
  const vB = TREE.villageB.code;

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    await createRegionTree(t);
    campaign = await createCampaign(A.slice(0, 3));
    // County A only at first: county B appears later (a new scope entry).
    for (const b of [
      batch('2026-12-01', A, [item(1, vA, 'failed'), item(2, vA, 'uncertain'), item(3, vA, 'sent')]),
      batch('2026-12-02', A, [item(1, vA, 'sent'), item(4, vA, 'failed')]),
      batch('2026-11-28', A, [item(1, vA, 'failed')]),
    ]) {
      await writeBatch(t.ctx, b);
    }
    await t.ctx.tracking.rollups.refreshAll('test');
  });
  afterAll(() => t.close());

  const workbench = async () => {
    const response = await t.request('GET', '/api/workbench/counts', t.adminToken);
    expect(response.statusCode, response.body).toBe(200);
    const { failed, uncertain } = response.json();
    return { failed, uncertain };
  };
  const monthly = async () => {
    const response = await t.request('GET', `/api/reach/monthly?period=${MONTH}`, t.adminToken);
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as { total: { messages: number }; rows: { townshipCode: string; messages: number }[] };
  };
  // By county and township: a month report the county-years answer (a month's townships alone
  // above a county come from the month summaries, reach-months.ts, month-summary.test.ts).
  const report = async () => {
    const response = await t.request(
      'GET',
      `/api/reach?from=${MONTH}&to=${MONTH}&groupBy=county,township`,
      t.adminToken,
    );
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    return { totals: body.totals, rows: body.rows };
  };

  /** Every screen equal to what the raw items give (the definition), through this process. */
  async function expectExact() {
    const raw = await countRaw((b) => b.month === MONTH);
    expect(await workbench()).toEqual({ failed: raw.failed, uncertain: raw.uncertain });
    const expected = expectedReport(await rawBatches(), {
      scope: ROOT,
      base: ROOT,
      from: MONTH,
      to: MONTH,
      groupBy: ['county', 'township'],
    });
    expect(await report()).toEqual(expected);
    const table = await monthly();
    expect(table.total.messages).toBe(raw.messages);
    for (const row of expected.rows) {
      expect(table.rows.find((r) => r.townshipCode === row.townshipCode)?.messages).toBe(row.messages);
    }
  }

  /** What a second process (its own kept documents) answers: the month's figures of the province. */
  const second = new (class {
    stats: ReachStats | null = null;
    async month() {
      this.stats ??= new ReachStats(t.ctx.regions);
      const r = await this.stats.report(new Scope(ROOT), { from: MONTH, to: MONTH, groupBy: ['county', 'township'] });
      return { totals: r.totals, rows: r.rows };
    }
  })();

  it('a repeated call of the workbench, the monthly table and the month report reads no county-year and no scope', async () => {
    await expectExact();
    await second.month();
    for (const call of [workbench, monthly, report, () => second.month()]) {
      expect(keptReads(await commandsDuring(call))).toEqual([]);
    }
  });

  it('after a fold: only the county-years it wrote, by _id, in this process and in another', async () => {
    // Another process's fold: a retry turns county A's failure into a send this month.
    await writeBatch(t.ctx, batch('2026-12-03', A, [item(5, vA, 'sent'), item(6, vA, 'failed')]));
    await t.ctx.tracking.rollups.refreshAll('test');
    for (const call of [workbench, () => second.month()]) {
      const seen = keptReads(await commandsDuring(call));
      expect(seen.map((c) => [c.collection, c.filter])).toEqual([
        ['reachcountyyears', { _id: `${TREE.countyA.code}|2026` }],
      ]);
      for (const read of seen) expect(byIdOnly(read.filter)).toBe(true);
    }
    expect(keptReads(await commandsDuring(monthly))).toEqual([]);
    await expectExact();
    expect(await second.month()).toEqual(await report());
  });

  it('a new county: its scope and county-year read again after the fold, also when the fold was killed before its scope record', async () => {
    await writeBatch(t.ctx, batch('2026-12-03', B, [item(7, vB, 'uncertain'), item(8, vB, 'confirmed')]));
    // Killed after the scopes were written, before their record (and before the county-years).
    const restore = killBeforeRecord();
    try {
      await expect(t.ctx.tracking.rollups.refreshAll('test')).rejects.toThrow('killed');
    } finally {
      restore();
    }
    // The roll-ups are behind the batch until the next refresh; this process keeps the root's scope.
    expect((await workbench()).uncertain).toBe(1);
    // The next refresh notes the same scopes (already written) and logs them.
    await t.ctx.tracking.rollups.refreshAll('test');
    const seen = keptReads(await commandsDuring(workbench));
    expect(seen.every((c) => byIdOnly(c.filter))).toBe(true);
    expect(seen.map((c) => c.filter?._id).sort()).toEqual([ROOT, `${TREE.countyB.code}|2026`]);
    await expectExact();
    expect(await second.month()).toEqual(await report());
  });

  it('a fold killed between its county-year write and its record is logged by the next refresh', async () => {
    await expectExact();
    await second.month();
    await writeBatch(t.ctx, batch('2026-12-03', B, [item(9, vB, 'failed'), item(10, vB, 'sent')]));
    const restore = killBeforeRecord();
    try {
      await expect(t.ctx.tracking.rollups.refreshAll('test')).rejects.toThrow('killed');
    } finally {
      restore();
    }
    // The county-year holds the batch, no reader knows yet: the markers are still there.
    const raw = await countRaw((b) => b.month === MONTH);
    expect((await workbench()).failed).not.toBe(raw.failed);
    await t.ctx.tracking.rollups.refreshAll('test');
    await expectExact();
    expect(await second.month()).toEqual(await report());
  });
});

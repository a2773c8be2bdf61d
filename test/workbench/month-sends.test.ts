// The workbench's 发送失败 and 结果不明 (failed and uncertain sends of the month in the caller's
// scope) come from the month's county-year cells without their distinct groups and villages
// (ReachStats.monthCounts): they must equal the delivery items counted directly, for a county
// editor, a city coordinator and the province admin, also after a batch changed and the
// roll-up was refreshed (the parsed cells are kept per county-year while they are the same);
// and no county index is read (a city or the province read one per county before). Real
// FerretDB and HTTP, fixed clock; nothing timed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { type FixtureBatch, type FixtureItem, createCampaign, writeBatch } from '../tracking/ledger.js';

// 12:00 in Shanghai on 2026-12-03.
const clock = fixedClock('2026-12-03T04:00:00Z');
const ROOT = '000000';
const A = [ROOT, TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code];
const B = [ROOT, TREE.province.code, TREE.city.code, TREE.countyB.code, TREE.townshipB.code];
const gid = (n: number) => n.toString(16).padStart(24, '0');

describe('workbench failed and uncertain sends', () => {
  let t: TestApp;
  let editor: string;
  let coordinator: string;
  let campaign: string;
  const item = (g: number, village: string, status: FixtureItem['status']): FixtureItem => ({
    groupId: gid(g),
    villageCode: village,
    memberCount: 50,
    status,
  });
  const batch = (n: number, day: string, regionPath: string[], items: FixtureItem[]): FixtureBatch => ({
    id: `${campaign}@r${n}|${regionPath.at(-1)}|0`,
    campaignId: campaign,
    category: 'anti_fraud',
    day,
    regionPath,
    items,
  });
  let fixture: FixtureBatch[] = [];

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    await createRegionTree(t);
    editor = (await t.userToken('editor', TREE.countyA.code)).token;
    coordinator = (await t.userToken('coordinator', TREE.city.code)).token;
    campaign = await createCampaign(A.slice(0, 4));
    const vA = TREE.villageA.code;
    const vB = TREE.villageB.code;
    fixture = [
      batch(1, '2026-12-01', A, [item(1, vA, 'failed'), item(2, vA, 'uncertain'), item(3, vA, 'sent')]),
      batch(2, '2026-12-02', A, [item(1, vA, 'failed'), item(4, vA, 'failed')]),
      batch(3, '2026-12-02', B, [item(5, vB, 'uncertain'), item(6, vB, 'failed'), item(7, vB, 'confirmed')]),
      // Last month: not this month's figure.
      batch(4, '2026-11-28', A, [item(1, vA, 'failed'), item(2, vA, 'uncertain')]),
      batch(5, '2026-11-29', B, [item(5, vB, 'failed')]),
    ];
    for (const b of fixture) await writeBatch(t.ctx, b);
    await t.ctx.tracking.rollups.refreshAll('test');
  });
  afterAll(() => t.close());

  /** This month's failed and uncertain items under `code`, counted from the batches themselves. */
  async function counted(code: string) {
    const batches = await DeliveryBatchModel.find({ month: '2026-12', regionPath: code }, { items: 1 }).lean<
      { items: { status: string }[] }[]
    >();
    const items = batches.flatMap((b) => b.items);
    return {
      failed: items.filter((i) => i.status === 'failed').length,
      uncertain: items.filter((i) => i.status === 'uncertain').length,
    };
  }

  async function served(token: string) {
    const response = await t.request('GET', '/api/workbench/counts', token);
    expect(response.statusCode, response.body).toBe(200);
    const { failed, uncertain } = response.json();
    return { failed, uncertain };
  }

  async function expectExact() {
    expect(await served(editor)).toEqual(await counted(TREE.countyA.code));
    expect(await served(coordinator)).toEqual(await counted(TREE.city.code));
    expect(await served(t.adminToken)).toEqual(await counted(ROOT));
  }

  it('equal the items counted directly, also after a batch changed', async () => {
    await expectExact();
    expect(await served(editor)).toEqual({ failed: 3, uncertain: 1 });
    expect(await served(t.adminToken)).toEqual({ failed: 4, uncertain: 2 });
    // A retry turns a failure into a send, a late report turns an uncertain one into a failure.
    const [first, , third] = fixture;
    await writeBatch(t.ctx, {
      ...first!,
      items: first!.items.map((i) => (i.status === 'failed' ? { ...i, status: 'sent' as const } : i)),
    });
    await writeBatch(t.ctx, {
      ...third!,
      items: third!.items.map((i) => (i.status === 'uncertain' ? { ...i, status: 'failed' as const } : i)),
    });
    await t.ctx.tracking.rollups.refreshAll('test');
    await expectExact();
    expect(await served(t.adminToken)).toEqual({ failed: 4, uncertain: 1 });
  });

  it('read no county index, only county-years by _id', async () => {
    for (const token of [coordinator, t.adminToken]) {
      const seen = await commandsDuring(() => served(token));
      expect(seen.filter((c) => c.collection === 'reachcountyindexes')).toEqual([]);
      // By `_id` only, and none on a repeated call (kept per process: tracking/kept-county-years.ts).
      for (const read of seen.filter((c) => c.collection === 'reachcountyyears')) expect(byIdOnly(read.filter)).toBe(true);
    }
  });
});

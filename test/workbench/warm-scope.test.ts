// An api process warms the workbench for the root scope at start (main.ts): the province
// admin's first workbench call then reads no county-year (a province's 84 counties were read
// one by one in that call: 156 commands at 50,000 groups, bench:province), and answers the
// same figures as the batches counted directly. Real FerretDB and HTTP, fixed clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { type FixtureItem, createCampaign, writeBatch } from '../tracking/ledger.js';

const clock = fixedClock('2026-12-03T04:00:00Z');
const ROOT = '000000';
const A = [ROOT, TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code];
const B = [ROOT, TREE.province.code, TREE.city.code, TREE.countyB.code, TREE.townshipB.code];
const gid = (n: number) => n.toString(16).padStart(24, '0');
const item = (g: number, village: string, status: FixtureItem['status']): FixtureItem => ({
  groupId: gid(g),
  villageCode: village,
  memberCount: 50,
  status,
});

describe('workbench warmed for the root scope', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    await createRegionTree(t);
    const campaign = await createCampaign(A.slice(0, 4));
    const vA = TREE.villageA.code;
    const vB = TREE.villageB.code;
    const batches = [
      { n: 1, path: A, items: [item(1, vA, 'failed'), item(2, vA, 'uncertain'), item(3, vA, 'sent')] },
      { n: 2, path: B, items: [item(5, vB, 'uncertain'), item(6, vB, 'failed')] },
    ];
    for (const b of batches) {
      await writeBatch(t.ctx, {
        id: `${campaign}@r${b.n}|${b.path.at(-1)}|0`,
        campaignId: campaign,
        category: 'anti_fraud',
        day: '2026-12-02',
        regionPath: b.path,
        items: b.items,
      });
    }
    await t.ctx.tracking.rollups.refreshAll('test');
  });
  afterAll(() => t.close());

  it('answers the province admin’s first call without reading a county-year, exactly', async () => {
    await t.ctx.workbench.warm(t.ctx.regions.rootScope());
    const seen = await commandsDuring(async () => {
      const response = await t.request('GET', '/api/workbench/counts', t.adminToken);
      expect(response.statusCode, response.body).toBe(200);
      const items = (
        await DeliveryBatchModel.find({ month: '2026-12' }, { items: 1 }).lean<{ items: { status: string }[] }[]>()
      ).flatMap((b) => b.items);
      const { failed, uncertain } = response.json();
      expect({ failed, uncertain }).toEqual({
        failed: items.filter((i) => i.status === 'failed').length,
        uncertain: items.filter((i) => i.status === 'uncertain').length,
      });
      expect(failed).toBe(2);
    });
    expect(seen.filter((c) => c.collection === 'reachcountyyears')).toEqual([]);
  });
});

// The roll-up refresher runs every 2 s (issue 25: each idle loop ≤ 1 % of a core). An idle
// refresh read its state, the lease's claim and the (empty) markers, and wrote its lease's
// renewal every time: 30 writes a minute for nothing. The kept lease is now renewed only once a
// quarter of it has passed, as a long refresh renews it; a refresh still folds what is marked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { RollupMarkerModel } from '../../src/tracking/rollup-model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { createCampaign, writeBatch } from './ledger.js';

const clock = fixedClock('2026-06-15T02:00:00.000Z');
const A = ['000000', TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code];

describe('an idle roll-up refresh', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    await createRegionTree(t);
  }, 120_000);
  afterAll(() => t.close());

  it('writes nothing while its kept lease is fresh, renews it when due, and still folds a marked batch', async () => {
    const owner = 'refresher-test';
    expect(await t.ctx.tracking.rollups.refresh(owner)).toBe(0);
    const writes = async () =>
      (await commandsDuring(() => t.ctx.tracking.rollups.refresh(owner))).filter((c) =>
        ['update', 'insert', 'delete', 'findAndModify'].includes(c.name),
      );
    for (let i = 0; i < 5; i++) {
      clock.advance(2_000);
      expect(await writes()).toEqual([]);
    }
    clock.advance(6_000); // 16 s since the renewal: a quarter of the lease has passed
    expect((await writes()).map((c) => `${c.name} ${c.collection}`)).toEqual(['update rollupstates']);
    clock.advance(2_000);
    expect(await writes()).toEqual([]);

    const campaign = await createCampaign(A.slice(0, 4));
    await writeBatch(t.ctx, {
      id: `${campaign}@r1|${A.at(-1)}|1`,
      campaignId: campaign,
      category: 'anti_fraud',
      day: '2026-06-15',
      regionPath: A,
      items: [{ groupId: '0'.repeat(23) + '1', villageCode: `${A.at(-1)}001`, memberCount: 50, status: 'sent' }],
    });
    expect(await RollupMarkerModel.countDocuments()).toBeGreaterThan(0);
    clock.advance(2_000);
    expect(await t.ctx.tracking.rollups.refresh(owner)).toBe(1);
    expect(await RollupMarkerModel.countDocuments()).toBe(0);
    await t.ctx.tracking.rollups.release(owner);
  });
});

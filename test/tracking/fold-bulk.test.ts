// A refresh that rewrites more than a hundred stored roll-up documents at once. FerretDB
// 1.24 deadlocks on one update command of ~100 statements (db/bulk.ts); before the writes
// were cut into small commands this refresh never returned and stalled the database.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CATEGORIES } from '../../src/notices/categories.js';
import { ReachLedgerModel } from '../../src/tracking/rollup-model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { type FixtureBatch, createCampaign, writeBatch } from './ledger.js';
import { countRaw } from './raw.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
  await createRegionTree(t);
});
afterAll(async () => t?.close());

it('rewrites 168 stored ledgers in one refresh and the totals still equal the raw items', async () => {
  const pathOf = (county: string, township: string) => ['000000', TREE.province.code, TREE.city.code, county, township];
  const townships = [
    { path: pathOf(TREE.countyA.code, TREE.townshipA.code), village: TREE.villageA.code },
    { path: pathOf(TREE.countyB.code, TREE.townshipB.code), village: TREE.villageB.code },
  ];
  const campaign = await createCampaign(townships[0]!.path.slice(0, 3));
  const batches: FixtureBatch[] = [];
  for (let month = 1; month <= 12; month++) {
    for (const [c, category] of CATEGORIES.entries()) {
      for (const [n, { path, village }] of townships.entries()) {
        const day = `2025-${String(month).padStart(2, '0')}-05`;
        batches.push({
          id: `${campaign}@${day}#${c}|${path.at(-1)}|0`,
          campaignId: campaign,
          category,
          day,
          regionPath: path,
          items: [
            {
              groupId: (month * 1000 + c * 10 + n).toString(16).padStart(24, '0'),
              villageCode: village,
              memberCount: 10 + c,
              status: 'pending',
            },
          ],
        });
      }
    }
  }
  for (const batch of batches) await writeBatch(t.ctx, batch);
  await t.ctx.tracking.rollups.refreshAll('test');
  const ledgers = await ReachLedgerModel.countDocuments();
  expect(ledgers).toBe(12 * CATEGORIES.length * 2);

  // Every batch settles: the next refresh replaces every stored ledger in one write pass.
  for (const batch of batches)
    await writeBatch(t.ctx, { ...batch, items: batch.items.map((i) => ({ ...i, status: 'sent' })) });
  await t.ctx.tracking.rollups.refreshAll('test');

  const raw = await countRaw();
  const report = await t.request('GET', `/api/reach?from=2025-01&to=2025-12&groupBy=month`, t.adminToken);
  expect(report.statusCode, report.body).toBe(200);
  expect(report.json().totals).toEqual(raw);
  expect(raw.messages).toBe(batches.length);
}, 120_000);

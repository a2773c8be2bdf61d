// A roll-up refresh of more than 64 changed batches reads exactly those batches, each by `_id`
// (it read the whole batch collection, history included, in one pass), and the figures stay
// exactly those counted from the raw items.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANGED_PAGE } from '../../src/tracking/changed-batches.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { type FixtureBatch, type FixtureItem, createCampaign, writeBatch } from './ledger.js';
import { type RawQuery, expectedReport, rawBatches } from './raw.js';

const ROOT = '000000';
const A = [ROOT, TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code];
const B = [ROOT, TREE.province.code, TREE.city.code, TREE.countyB.code, TREE.townshipB.code];
const gid = (n: number) => n.toString(16).padStart(24, '0');
const STATUSES: FixtureItem['status'][] = ['sent', 'failed', 'confirmed', 'awaiting', 'skipped', 'uncertain'];

describe('a roll-up refresh of many changed batches', () => {
  let t: TestApp;
  let campaign: string;

  const batch = (n: number, round: number): FixtureBatch => {
    const path = n % 3 === 0 ? B : A;
    const day = `2024-0${1 + (n % 3)}-1${n % 10}`;
    return {
      id: `${campaign}@r${n}|${path.at(-1)}|1`,
      campaignId: campaign,
      category: n % 2 ? 'anti_fraud' : 'anti_theft',
      day,
      regionPath: path,
      items: [0, 1, 2].map((k) => ({
        groupId: gid(n * 3 + k),
        villageCode: `${path.at(-1)}00${k}`,
        memberCount: 50 + n + k,
        status: STATUSES[(n + k + round) % STATUSES.length]!,
      })),
    };
  };

  const compare = async (q: RawQuery) => {
    const params = new URLSearchParams({ from: q.from, to: q.to, groupBy: q.groupBy.join(',') });
    const response = await t.request('GET', `/api/reach?${params}`, t.adminToken);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    const rows = body.rows.map(({ regionName: _, ...row }: Record<string, unknown>) => row);
    expect({ totals: body.totals, rows }, `${params}`).toEqual(expectedReport(await rawBatches(), q));
  };

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    campaign = await createCampaign(A.slice(0, 4));
    // History: 240 batches, folded.
    for (let n = 0; n < 240; n++) await writeBatch(t.ctx, batch(n, 0));
    await t.ctx.tracking.rollups.refreshAll('test');
  }, 180_000);
  afterAll(() => t.close());

  it('reads only the changed batches by _id, in pages, and the figures equal a recount', async () => {
    // 130 history batches rewritten (other outcomes) and 40 new ones: 170 changed, > 64.
    const changed: string[] = [];
    const rewrite = async (fixture: FixtureBatch) => {
      await writeBatch(t.ctx, fixture);
      changed.push(fixture.id);
    };
    for (let n = 100; n < 230; n++) await rewrite(batch(n, 1));
    for (let n = 300; n < 340; n++) await rewrite(batch(n, 0));
    expect(changed.length).toBeGreaterThan(64);
    const seen = await commandsDuring(() => t.ctx.tracking.rollups.refreshAll('test'));
    const reads = seen.filter((c) => c.collection === 'deliverybatches');
    for (const read of reads) {
      expect(read.name).toBe('find');
      expect(byIdOnly(read.filter), JSON.stringify(read.filter)).toBe(true);
    }
    // Each changed batch once; none of the 110 unchanged ones.
    expect(reads.map((r) => r.filter!._id).sort()).toEqual([...changed].sort());
    for (const groupBy of [[], ['month'], ['township', 'category'], ['county', 'month']] as RawQuery['groupBy'][]) {
      await compare({ scope: ROOT, base: ROOT, from: '2024-01', to: '2024-03', groupBy });
    }
  });

  it('asks to keep its lease between pages and stops when it is lost', async () => {
    const { readChangedBatches, LeaseLost } = await import('../../src/tracking/changed-batches.js');
    const ids = Array.from({ length: CHANGED_PAGE + 10 }, (_, n) => batch(n, 0).id);
    let asked = 0;
    const keep = async () => {
      asked += 1;
      return false;
    };
    await expect(readChangedBatches(ids, async () => undefined, keep)).rejects.toBeInstanceOf(LeaseLost);
    expect(asked).toBe(1);
  });
});

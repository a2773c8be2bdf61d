// The roll-up sweep (every 5 minutes) catches a writer killed between its batch write and its
// marker by reading only the batches of runs that may have been written: the runs still open
// (engine/open-runs.ts) and those closed since the last sweep, each batch's `updatedAt` by `_id`.
// It scanned the whole batch collection by `updatedAt` (29.5 % of a core idle on the 3,000-group
// world). Idle, it reads no batch, whatever the history; the figures still equal a recount.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenRunModel, openRun, requeueStrandedBatches } from '../../src/engine/open-runs.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { RollupClosedRunModel, RollupMarkerModel, RollupStateModel } from '../../src/tracking/rollup-model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { type FixtureBatch, type FixtureItem, createCampaign, writeBatch } from './ledger.js';
import { type RawQuery, expectedReport, rawBatches } from './raw.js';

const ROOT = '000000';
const A = [ROOT, TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code];
const gid = (n: number) => n.toString(16).padStart(24, '0');
const STATUSES: FixtureItem['status'][] = ['sent', 'failed', 'confirmed', 'awaiting', 'skipped', 'uncertain'];
/** Collections that grow with history: an idle sweep may not read them but by `_id`. */
const HISTORY = ['deliverybatches', 'occurrences', 'campaigns', 'claims'];

describe('the roll-up sweep by open and closed runs', () => {
  let t: TestApp;
  let campaign: string;

  const batch = (n: number, round: number, run = `r${n}`): FixtureBatch => ({
    id: `${campaign}@${run}|${A.at(-1)}|${n}`,
    campaignId: campaign,
    category: n % 2 ? 'anti_fraud' : 'anti_theft',
    day: `2024-0${1 + (n % 3)}-1${n % 10}`,
    regionPath: A,
    items: [0, 1, 2].map((k) => ({
      groupId: gid(n * 3 + k),
      villageCode: `${A.at(-1)}00${k}`,
      memberCount: 50 + n + k,
      status: STATUSES[(n + k + round) % STATUSES.length]!,
    })),
  });

  /** The batch written as a writer killed before its marker leaves it: the write, no marker. */
  const writeWithoutMarker = async (fixture: FixtureBatch) => {
    await writeBatch(t.ctx, fixture);
    await RollupMarkerModel.deleteMany({});
  };

  const sameAsRecount = async () => {
    for (const groupBy of [[], ['month'], ['township', 'category']] as RawQuery['groupBy'][]) {
      const q: RawQuery = { scope: ROOT, base: ROOT, from: '2024-01', to: '2024-03', groupBy };
      const params = new URLSearchParams({ from: q.from, to: q.to, groupBy: q.groupBy.join(',') });
      const response = await t.request('GET', `/api/reach?${params}`, t.adminToken);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json();
      const rows = body.rows.map(({ regionName: _, ...row }: Record<string, unknown>) => row);
      expect({ totals: body.totals, rows }, `${params}`).toEqual(expectedReport(await rawBatches(), q));
    }
  };

  /** The commands one idle sweep sends. */
  const idleSweep = async () => {
    const seen = await commandsDuring(() => t.ctx.tracking.rollups.sweep('test'));
    await t.ctx.tracking.rollups.release('test');
    return seen;
  };

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    campaign = await createCampaign(A.slice(0, 4));
    for (let n = 0; n < 40; n++) await writeBatch(t.ctx, batch(n, 0));
    // The first sweep marks every batch (a rebuild); later ones go by runs.
    await t.ctx.tracking.rollups.sweep('test');
    await t.ctx.tracking.rollups.refreshAll('test');
  }, 120_000);
  afterAll(() => t.close());

  it('reads no batch when no run is open or recently closed, and costs the same with more history', async () => {
    const small = await idleSweep();
    // Inserts are keyed writes; every read, update or delete of a history collection is by `_id`.
    for (const command of small.filter((c) => HISTORY.includes(c.collection) && c.name !== 'insert')) {
      expect(byIdOnly(command.filter), `${command.name} ${command.collection} ${JSON.stringify(command.filter)}`).toBe(
        true,
      );
    }
    expect(small.filter((c) => c.collection === 'deliverybatches')).toEqual([]);
    // Three times the history, folded: the idle sweep sends the very same commands.
    for (let n = 40; n < 120; n++) await writeBatch(t.ctx, batch(n, 0));
    await t.ctx.tracking.rollups.refreshAll('test');
    const large = await idleSweep();
    const shape = (seen: typeof small) => seen.map((c) => `${c.name} ${c.collection} ${Object.keys(c.filter ?? {})}`);
    expect(shape(large)).toEqual(shape(small));
  });

  it('folds a batch whose writer was killed before its marker, in an open run and in a run closed since', async () => {
    // Run "open": on the open-run list, its batch rewritten without a marker.
    await openRun(`${campaign}@open`, campaign);
    await writeWithoutMarker(batch(200, 1, 'open'));
    // Run "closing": its batch rewritten (its last write: nothing due) without a marker, then
    // closed by the stranded-batch sweep before the roll-up sweep comes.
    await openRun(`${campaign}@closing`, campaign);
    await writeWithoutMarker(batch(201, 2, 'closing'));
    await requeueStrandedBatches(new Date());
    expect(await OpenRunModel.exists({ _id: `${campaign}@closing` })).toBeNull();
    expect(await RollupClosedRunModel.exists({ _id: `${campaign}@closing` })).not.toBeNull();
    // A history batch rewritten without marker: dueAt set, so its run stays open.
    const history = batch(5, 3);
    await writeWithoutMarker(history);
    await openRun(`${campaign}@r5`, campaign);
    await DeliveryBatchModel.updateOne({ _id: history.id }, { $set: { dueAt: new Date() } });

    const seen = await commandsDuring(() => t.ctx.tracking.rollups.sweep('test'));
    const batchReads = seen.filter((c) => c.collection === 'deliverybatches');
    for (const read of batchReads) expect(byIdOnly(read.filter)).toBe(true);
    // Exactly the batches of the open and closed runs: not the other 117 of the history.
    expect(batchReads.map((r) => r.filter!._id).sort()).toEqual(
      [batch(200, 1, 'open').id, batch(201, 2, 'closing').id, history.id].sort(),
    );
    await t.ctx.tracking.rollups.refreshAll('test');
    await sameAsRecount();
    // The closed run was looked at once; the open ones stay for the next sweep.
    expect(await RollupClosedRunModel.countDocuments()).toBe(0);
    await DeliveryBatchModel.updateOne({ _id: history.id }, { $set: { dueAt: null } });
    await requeueStrandedBatches(new Date());
    await t.ctx.tracking.rollups.sweep('test');
    await t.ctx.tracking.rollups.refreshAll('test');
    await sameAsRecount();
  });

  it('scans by updatedAt once after an install swept by older code, then by runs', async () => {
    // Older code's state (no `sweepBy`) and a lost marker on a run that is on no list.
    await RollupStateModel.updateOne({ _id: 'rollups' }, { $unset: { sweepBy: 1 } });
    const lost = batch(7, 4);
    await writeWithoutMarker(lost);
    const seen = await commandsDuring(() => t.ctx.tracking.rollups.sweep('test'));
    expect(seen.some((c) => c.collection === 'deliverybatches' && c.filter && 'updatedAt' in c.filter)).toBe(true);
    await t.ctx.tracking.rollups.refreshAll('test');
    await sameAsRecount();
    expect((await RollupStateModel.findById('rollups').lean())?.sweepBy).toBe('runs');
    expect((await idleSweep()).filter((c) => c.collection === 'deliverybatches')).toEqual([]);
  });
});

// The day documents above a county during a dispatch (tracking/reach-days.ts): a refresh that
// touches one county of a month writes that county's document and, above it, only small recent
// documents beside the city's, the province's and the root's month documents, which hold every
// county's days (over a megabyte each at 50,000 groups a month in) and were rewritten at every
// refresh. Once the recent cells pass a quarter of the month's, the month document is written
// whole and the recent one goes. What a reader overlays equals what a rebuild from the ledgers
// gives, at every step.
import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { compactDays, forgetDaysReady } from '../../src/tracking/reach-days.js';
import { STATE_ID } from '../../src/tracking/rollup-lease.js';
import { ReachDayModel, RollupStateModel } from '../../src/tracking/rollup-model.js';
import { ReachRollups } from '../../src/tracking/rollups.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { type FixtureBatch, createCampaign, writeBatch } from './ledger.js';

const ROOT = '000000';
const COUNTIES = 10;
const DAYS = 12;
const MONTH = '2024-05';
const extra = Array.from({ length: COUNTIES }, (_, n) => {
  const county = `4401${20 + n}`;
  return {
    county: { code: county, name: `县${n}`, parentCode: TREE.city.code },
    township: { code: `${county}001`, name: `镇${n}`, parentCode: county },
    village: { code: `${county}001001`, name: `村${n}`, parentCode: `${county}001` },
  };
});
const ABOVE = [ROOT, TREE.province.code, TREE.city.code].map((region) => `${region}|${MONTH}`);

/** The `_id`s of the documents each write command to `reachdays` names, by command. */
async function dayWrites(work: () => Promise<unknown>): Promise<Array<{ name: string; ids: string[] }>> {
  const client = mongoose.connection.getClient();
  const seen: Array<{ name: string; ids: string[] }> = [];
  const listener = (event: CommandStartedEvent) => {
    const command = event.command as Record<string, unknown>;
    if (command[event.commandName] !== 'reachdays') return;
    const id = (q: { _id?: unknown } | undefined) => {
      const v = q?._id as string | { $in?: string[] } | undefined;
      return typeof v === 'string' ? [v] : (v?.$in ?? []);
    };
    if (event.commandName === 'insert')
      seen.push({ name: 'insert', ids: (command.documents as { _id: string }[]).map((d) => d._id) });
    if (event.commandName === 'update')
      seen.push({ name: 'update', ids: (command.updates as { q: { _id: string } }[]).flatMap((u) => id(u.q)) });
    if (event.commandName === 'delete')
      seen.push({
        name: 'delete',
        ids: (command.deletes as { q: { _id: unknown } }[]).flatMap((d) => id(d.q as never)),
      });
  };
  client.on('commandStarted', listener);
  try {
    await work();
  } finally {
    client.off('commandStarted', listener);
  }
  return seen;
}

describe('the day documents above a county during a dispatch', () => {
  let t: TestApp;
  let campaign: string;
  let n = 0;
  const batch = (day: string, c: (typeof extra)[number], status: 'sent' | 'failed' = 'sent'): FixtureBatch => ({
    id: `${campaign}@r${++n}|${c.township.code}|0`,
    campaignId: campaign,
    category: 'anti_fraud',
    day,
    regionPath: [ROOT, TREE.province.code, TREE.city.code, c.county.code, c.township.code],
    items: [{ groupId: n.toString(16).padStart(24, '0'), villageCode: c.village.code, memberCount: 10 + n, status }],
  });
  const day = (d: number) => `${MONTH}-${String(d).padStart(2, '0')}`;
  /** The stored day documents, each recent one folded in; then the same rebuilt from the ledgers. */
  const overlaidAndRebuilt = async () => {
    const overlaid = compactDays(await ReachDayModel.find({}).lean()).sort((a, b) => (a._id < b._id ? -1 : 1));
    await RollupStateModel.updateOne({ _id: STATE_ID }, { $unset: { days: 1 } });
    forgetDaysReady();
    await new ReachRollups(t.ctx.clock).prepareDays(`rebuild-${++n}`);
    const rebuilt = (await ReachDayModel.find({}).lean()).sort((a, b) => (a._id < b._id ? -1 : 1));
    return { overlaid, rebuilt };
  };

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    for (const { county, township, village } of extra) {
      for (const region of [county, township, village]) await t.request('POST', '/api/regions', t.adminToken, region);
    }
    campaign = await createCampaign([ROOT, TREE.province.code, TREE.city.code]);
    // A month in: every county on each of DAYS days (120 cells in each document above a county).
    for (let d = 1; d <= DAYS; d++) for (const c of extra) await writeBatch(t.ctx, batch(day(d), c));
    await t.ctx.tracking.rollups.refreshAll('test');
  }, 240_000);
  afterAll(() => t.close());

  it("writes a county's change above it as small recent documents, not the month documents", async () => {
    const before = new Map((await ReachDayModel.find({ _id: { $in: ABOVE } }).lean()).map((d) => [d._id, d.cells]));
    expect(before.size).toBe(3);
    const c = extra[3]!;
    await writeBatch(t.ctx, batch(day(DAYS + 1), c));
    const writes = await dayWrites(() => t.ctx.tracking.rollups.refreshAll('test'));
    const written = writes.flatMap((w) => w.ids).sort();
    // The county's month document, and a recent document beside each one above it.
    expect(written).toEqual([...ABOVE.map((id) => `${id}|r`), `${c.county.code}|${MONTH}`].sort());
    const after = new Map((await ReachDayModel.find({ _id: { $in: ABOVE } }).lean()).map((d) => [d._id, d.cells]));
    expect(after).toEqual(before);
    const recent = await ReachDayModel.find({ _id: { $in: ABOVE.map((id) => `${id}|r`) } }).lean();
    for (const doc of recent) expect(doc.cells.length).toBeLessThan(before.get(doc._id.slice(0, -2))!.length / 10);

    // A second change in another county: the recent documents name both.
    await writeBatch(t.ctx, batch(day(2), extra[5]!, 'failed'));
    await t.ctx.tracking.rollups.refreshAll('test');
    // A county left with no cell this month (its batches gone): its cells and path go.
    const gone = await DeliveryBatchModel.find(
      { campaignId: campaign, countyCode: extra[9]!.county.code },
      { _id: 1 },
    ).lean();
    await DeliveryBatchModel.deleteMany({ _id: { $in: gone.map((b) => b._id) } });
    await t.ctx.tracking.rollups.batchesWritten(gone.map((b) => String(b._id)));
    await t.ctx.tracking.rollups.refreshAll('test');
    expect(await ReachDayModel.countDocuments({ _id: { $in: ABOVE.map((id) => `${id}|r`) } })).toBe(3);
    const { overlaid, rebuilt } = await overlaidAndRebuilt();
    expect(overlaid).toEqual(rebuilt);
  });

  it('writes the month document whole once the recent cells pass a quarter of its cells, and drops the recent one', async () => {
    // The rebuild above wrote month documents only; a new change makes recent ones again.
    await writeBatch(t.ctx, batch(day(DAYS + 2), extra[0]!));
    await t.ctx.tracking.rollups.refreshAll('test');
    expect(await ReachDayModel.countDocuments({ _id: { $in: ABOVE.map((id) => `${id}|r`) } })).toBe(3);
    // New days in every county: 60 + cells more than a quarter of ~130 and RECENT_MAX_CELLS (64).
    for (let d = DAYS + 3; d <= DAYS + 9; d++) for (const c of extra) await writeBatch(t.ctx, batch(day(d), c));
    const writes = await dayWrites(() => t.ctx.tracking.rollups.refreshAll('test'));
    const written = writes.flatMap((w) => w.ids);
    for (const id of ABOVE) expect(written).toContain(id);
    expect(await ReachDayModel.countDocuments({ _id: { $in: ABOVE.map((id) => `${id}|r`) } })).toBe(0);
    const { overlaid, rebuilt } = await overlaidAndRebuilt();
    expect(overlaid).toEqual(rebuilt);
    expect(await DeliveryBatchModel.countDocuments({ campaignId: campaign })).toBeGreaterThan(COUNTIES * DAYS);
  });
});

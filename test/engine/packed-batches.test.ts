// The packed layout of a batch (issue 25 item 5): a delivery's fixed group snapshot (name,
// robot, sealed credentials, village, township and officer names) is written once at
// planning beside its batch, and the worker's checkpoints rewrite only what changes. Batches
// planned before (every field in their items, no packed part) are sent, listed, exported and
// followed up exactly as before. An idle worker does not re-read a batch another worker
// holds on every look at the work list.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { claimBatch, dueBatchIds, writeBatch } from '../../src/engine/queue.js';
import { BatchFixedModel, FIXED_FIELDS, withFixedItems } from '../../src/tracking/batch-fixed.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { groupsThatReceivedNotice } from '../../src/tracking/recipients.js';
import { driverCallsDuring } from '../helpers/commands.js';
import {
  type DeliveryWorld,
  approvedNotice,
  manualGroup,
  runUntilIdle,
  startDeliveryWorld,
  urgentNowCampaign,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

const clock = fixedClock('2026-11-30T02:00:00Z');

/** The batch updates (their `$set`) made while `fn` runs, and how many batch reads. */
async function batchCommandsDuring(fn: () => Promise<void>) {
  const calls = (await driverCallsDuring(fn)).filter((c) => c.collection === 'deliverybatches');
  const sets = calls
    .filter((c) => c.method === 'updateOne')
    .map((c) => (c.args[1] as { $set?: Record<string, unknown> }).$set ?? {});
  return { sets, reads: calls.filter((c) => c.method === 'findOne').length };
}

type Row = { groupId: string; groupName: string; villageName: string; townshipName: string; status: string };

describe('the packed layout of a batch', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
  });
  afterAll(() => w.close());

  /** A new notice of this title and an urgent campaign of it to these groups, now. */
  async function campaignTo(groups: (string | { id: string })[], title: string) {
    const noticeId = await approvedNotice(w, { title });
    return { noticeId, campaignId: await urgentNowCampaign(w, noticeId, groups, title) };
  }

  const sentRows = async (campaignId: string) =>
    (await w.t.request('GET', `/api/campaigns/${campaignId}/deliveries?status=sent`, w.editor)).json() as Row[];

  it('writes the fixed group fields once at planning, and its checkpoints rewrite only what changes', async () => {
    const groups = await wecomGroups(w, 6);
    const { campaignId } = await campaignTo(groups, '警惕虚假投资理财');
    await w.scheduler.tick();
    const [batch] = await DeliveryBatchModel.collection.find({ campaignId }).toArray();
    expect(batch!.fixedId).toBeTruthy();
    for (const item of batch!.items as Record<string, unknown>[])
      for (const field of FIXED_FIELDS) expect(item, field).not.toHaveProperty(field);
    const packedBefore = (await BatchFixedModel.findById(batch!.fixedId).lean())!.packed;
    expect(packedBefore).toContain(groups[0]!.id);

    const { sets } = await batchCommandsDuring(() => runUntilIdle(w));
    expect(sets.length).toBeGreaterThan(0);
    for (const set of sets)
      for (const item of set.items as Record<string, unknown>[])
        for (const field of FIXED_FIELDS) expect(item, field).not.toHaveProperty(field);
    expect((await BatchFixedModel.findById(batch!.fixedId).lean())!.packed).toBe(packedBefore);

    // Every group got its post, and the readers see the whole delivery.
    for (const group of groups) expect(w.doubles.received({ platform: 'wecom', robot: group.key })).toHaveLength(1);
    const rows = await sentRows(campaignId);
    expect(rows).toHaveLength(6);
    for (const row of rows) {
      expect(row.groupName).toMatch(/\S/);
      expect(row.villageName).toBe(TREE.villageA.name);
    }
    const whole = await withFixedItems((await DeliveryBatchModel.findOne({ campaignId }).lean())!);
    expect(whole.items.every((item) => item.credentialsSealed && item.robotKey && item.groupName)).toBe(true);
  });

  it('still sends, lists, exports and follows up a batch in the earlier layout (every field in its items) the same', async () => {
    const groups = await wecomGroups(w, 3);
    const officerGroup = await manualGroup(w, '旧版村民群', {
      memberCount: 40,
      officer: { name: '王警官', phone: '13900000002' },
    });
    const { campaignId, noticeId } = await campaignTo([...groups, officerGroup], '旧布局的批次');
    await w.scheduler.tick();
    // The batch as planned before the packed layout: whole items, no packed part.
    const planned = (await DeliveryBatchModel.findOne({ campaignId }).lean())!;
    const whole = await withFixedItems(planned);
    await DeliveryBatchModel.collection.updateOne(
      { _id: planned._id as never },
      { $set: { items: whole.items }, $unset: { fixedId: '' } },
    );
    await BatchFixedModel.deleteOne({ _id: planned.fixedId });

    await runUntilIdle(w);
    for (const group of groups) expect(w.doubles.received({ platform: 'wecom', robot: group.key })).toHaveLength(1);
    const after = (await DeliveryBatchModel.collection.findOne({ _id: planned._id as never }))!;
    expect(after.fixedId ?? null).toBeNull();
    // Still every field in its items after the worker's writes.
    for (const item of after.items as Record<string, unknown>[]) {
      expect(item.credentialsSealed).toBeTruthy();
      expect(item.groupName).toBeTruthy();
    }
    const rows = await sentRows(campaignId);
    expect(rows.map((r) => r.groupName).sort()).toEqual(
      whole.items
        .filter((i) => i.channel !== 'manual')
        .map((i) => i.groupName)
        .sort(),
    );
    const exported = await w.t.request('GET', `/api/campaigns/${campaignId}/deliveries/export?format=csv`, w.editor);
    expect(exported.statusCode).toBe(200);
    expect(exported.body).toContain('旧版村民群');
    // A follow-up's recipients: names, robots and credentials as planned.
    const recipients = [];
    for await (const chunk of groupsThatReceivedNotice(noticeId)) recipients.push(...chunk);
    expect(recipients).toHaveLength(4);
    const officer = recipients.find((r) => r.groupId === officerGroup)!;
    expect(officer).toMatchObject({ groupName: '旧版村民群', officerName: '王警官', officerPhone: '13900000002' });
    expect(recipients.every((r) => r.credentialsSealed && r.robotKey)).toBe(true);
  });

  it('gives a follow-up the same recipients from a batch in the packed layout', async () => {
    const officerGroup = await manualGroup(w, '新版村民群', {
      memberCount: 41,
      officer: { name: '赵警官', phone: '13900000003' },
    });
    const { campaignId, noticeId } = await campaignTo([officerGroup], '新布局的批次');
    await runUntilIdle(w);
    expect((await DeliveryBatchModel.findOne({ campaignId }).lean())!.fixedId).toBeTruthy();
    const recipients = [];
    for await (const chunk of groupsThatReceivedNotice(noticeId)) recipients.push(...chunk);
    expect(recipients).toHaveLength(1);
    expect(recipients[0]).toMatchObject({
      groupId: officerGroup,
      groupName: '新版村民群',
      officerName: '赵警官',
      officerPhone: '13900000003',
      villageName: TREE.villageA.name,
    });
    expect(recipients[0]!.credentialsSealed).toBeTruthy();
  });

  it('an idle worker does not re-read a batch another worker holds on every look at the work list', async () => {
    const groups = await wecomGroups(w, 2);
    const { campaignId } = await campaignTo(groups, '长时间持有的批次');
    await w.scheduler.tick();
    const [batchId] = (await dueBatchIds(clock.now(), 100)).filter((id) => id.includes(campaignId));
    // Another worker holds it, and renews its lease at a checkpoint 50 s on (past the due
    // time its claim gave the work-list entry).
    const held = (await claimBatch(batchId!, 'busy-worker', clock.now()))!;
    clock.advance(50_000);
    expect(await writeBatch(held, held.batch.items, clock.now(), { release: false, renewMs: 60_000 })).toBe(true);
    clock.advance(11_000);
    const { reads } = await batchCommandsDuring(async () => {
      for (let look = 0; look < 5; look++) expect(await w.worker.drainOnce()).toBe(0);
    });
    // The first look reads it (each of the worker's two lanes may), finds it held, and its
    // entry then waits for that renewed lease; the four looks after read nothing.
    expect(reads).toBeLessThanOrEqual(2);
    expect(w.doubles.received({ platform: 'wecom', robot: groups[0]!.key })).toHaveLength(0);
    // Once that lease lapses, the batch is taken over and sent.
    clock.advance(60_000);
    await runUntilIdle(w);
    expect(w.doubles.received({ platform: 'wecom', robot: groups[0]!.key })).toHaveLength(1);
  });
});

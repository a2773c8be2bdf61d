// A cancelled run's batches are skipped in bulk by the cancel itself (issue 25), not one
// worker pass per batch: every pending delivery of a batch nobody holds is recorded skipped
// with the reason once, a batch a worker holds under its lease is left to that worker (and
// listed now), and a delivery whose attempt a dead holder had claimed is uncertain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignModel } from '../../src/campaigns/model.js';
import { QueueEntryModel } from '../../src/engine/model.js';
import { claimAttempts, claimBatch, deliveryId } from '../../src/engine/queue.js';
import { STOP_OWNER_PREFIX } from '../../src/engine/skip.js';
import { fixedClock } from '../../src/lib/clock.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  type DeliveryWorld,
  insertWecomGroups,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

// 10:00 Beijing time.
const clock = fixedClock('2026-11-29T02:00:00Z');

describe('a cancelled run skipped in bulk', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    noticeId = await approvedNotice(w);
    // 250 groups of one township: parts of 100, 100 and 50. Written in one insert: the cancel
    // and the batches are the subject here, not the groups API (one call per group was most
    // of the file's CPU).
    await insertWecomGroups(w, 250, TREE.villageA.code);
  }, 600_000);
  afterAll(() => w.close());

  it('skips the untouched batches at the cancel with counts exact, and leaves a leased batch to its holder', async () => {
    const id = await approvedCampaign(w, {
      title: '取消后批量跳过',
      noticeId,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'now' },
    });
    await w.scheduler.tick(); // planned; no worker has run
    const batches = await DeliveryBatchModel.find({ campaignId: id }).sort({ _id: 1 }).lean();
    expect(batches.length).toBeGreaterThanOrEqual(3);
    const total = batches.reduce((sum, b) => sum + b.items.length, 0);
    const [leased, crashed, ...untouched] = batches;

    // A live worker holds the first batch; a worker that died held the second and had
    // claimed the first attempt of its first delivery (it may have posted it).
    expect(await claimBatch(leased!._id, 'worker-live', clock.now())).not.toBeNull();
    expect(await claimBatch(crashed!._id, 'worker-dead', new Date(clock.now().getTime() - 10 * 60_000))).not.toBeNull();
    const inFlight = crashed!.items[0]!;
    await claimAttempts(
      [{ deliveryId: deliveryId(crashed!.occurrenceId, inFlight.groupId), attempt: 1 }],
      'worker-dead',
      clock.now(),
    );

    const cancelled = await w.t.request('POST', `/api/campaigns/${id}/cancel`, w.editor);
    expect(cancelled.statusCode, cancelled.body).toBe(200);

    // No worker pass has run: the cancel itself recorded the untouched batches skipped.
    for (const batch of untouched) {
      const after = (await DeliveryBatchModel.findById(batch._id).lean())!;
      expect(after.items.map((i) => [i.status, i.lastError])).toEqual(after.items.map(() => ['skipped', '推送已取消']));
      expect(after.counts).toMatchObject({ total: after.items.length, pending: 0, skipped: after.items.length });
      expect(await QueueEntryModel.findById(batch._id).lean()).toBeNull();
    }
    // The dead holder's batch was taken over: its claimed attempt is uncertain, the rest skipped.
    const taken = (await DeliveryBatchModel.findById(crashed!._id).lean())!;
    expect(taken.items[0]).toMatchObject({ status: 'uncertain', attempts: 1 });
    expect(taken.items.slice(1).every((i) => i.status === 'skipped' && i.lastError === '推送已取消')).toBe(true);
    expect(taken.counts).toMatchObject({ pending: 0, uncertain: 1, skipped: taken.items.length - 1 });
    // The live holder's batch is untouched (its worker applies the cancel), and listed now.
    const held = (await DeliveryBatchModel.findById(leased!._id).lean())!;
    expect(held.items.every((i) => i.status === 'pending')).toBe(true);
    expect(held.updatedAt).toEqual(leased!.updatedAt);
    expect((await QueueEntryModel.findById(leased!._id).lean())?.dueAt).toEqual(clock.now());

    // Once its lease has ended, the holder's batch goes the worker's way; then every group
    // of the run was counted once, with its reason.
    clock.advance(2 * 60_000);
    while ((await w.worker.drainOnce()) > 0);
    const items = (await DeliveryBatchModel.find({ campaignId: id }).lean()).flatMap((b) => b.items);
    expect(items).toHaveLength(total);
    expect(new Set(items.map((i) => i.groupId)).size).toBe(total);
    expect(items.filter((i) => i.status === 'skipped')).toHaveLength(total - 1);
    expect(items.filter((i) => i.status === 'uncertain')).toHaveLength(1);
    expect(items.filter((i) => i.status === 'skipped').every((i) => i.lastError === '推送已取消')).toBe(true);
    // A second stop (the intent sweep repeating it) changes nothing.
    const before = await DeliveryBatchModel.find({ campaignId: id }, { items: 1, counts: 1 }).sort({ _id: 1 }).lean();
    const control = (w.t.ctx.campaigns as unknown as { deliveries: { stop(id: string, r: string): Promise<void> } })
      .deliveries;
    await control.stop(id, '推送已取消');
    expect(await DeliveryBatchModel.find({ campaignId: id }, { items: 1, counts: 1 }).sort({ _id: 1 }).lean()).toEqual(
      before,
    );
  });

  it('a stop killed after claiming its attempts, repeated, records them skipped: a stop posts nothing', async () => {
    const id = await approvedCampaign(w, {
      title: '取消中途进程被杀',
      noticeId,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'now' },
    });
    await w.scheduler.tick();
    const [batch] = await DeliveryBatchModel.find({ campaignId: id }).sort({ _id: 1 }).lean();
    // The first stop took the batch's lease and claimed every pending delivery's next attempt,
    // then the API process died before its write (api-intents: cancel killed mid-way).
    const dead = `${STOP_OWNER_PREFIX}4242-${id}`;
    expect(await claimBatch(batch!._id, dead, new Date(clock.now().getTime() - 10 * 60_000))).not.toBeNull();
    await claimAttempts(
      batch!.items.map((item) => ({ deliveryId: deliveryId(batch!.occurrenceId, item.groupId), attempt: 1 })),
      dead,
      clock.now(),
    );
    const cancelled = await w.t.request('POST', `/api/campaigns/${id}/cancel`, w.editor);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    const after = (await DeliveryBatchModel.findById(batch!._id).lean())!;
    expect(after.items.map((i) => i.status)).toEqual(after.items.map(() => 'skipped'));
  });
  it('a stop killed after claiming its attempts, its batch then taken by a worker, records them skipped', async () => {
    const id = await approvedCampaign(w, {
      title: '取消中途进程被杀后由工作进程接手',
      noticeId,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'now' },
    });
    await w.scheduler.tick();
    const [batch] = await DeliveryBatchModel.find({ campaignId: id }).sort({ _id: 1 }).lean();
    // The cancel wrote the campaign's state, took the batch's lease and claimed every pending
    // delivery's next attempt, then its process died before the write (api-intents: a cancel
    // killed while another action's step was traced). A worker takes the batch first.
    const dead = `${STOP_OWNER_PREFIX}4243-${id}`;
    await CampaignModel.updateOne({ _id: id }, { $set: { status: 'cancelled' } });
    expect(await claimBatch(batch!._id, dead, new Date(clock.now().getTime() - 10 * 60_000))).not.toBeNull();
    await claimAttempts(
      batch!.items.map((item) => ({ deliveryId: deliveryId(batch!.occurrenceId, item.groupId), attempt: 1 })),
      dead,
      clock.now(),
    );
    while ((await w.worker.drainOnce()) > 0) {}
    const after = (await DeliveryBatchModel.findById(batch!._id).lean())!;
    expect(after.items.map((i) => i.status)).toEqual(after.items.map(() => 'skipped'));
  });
});

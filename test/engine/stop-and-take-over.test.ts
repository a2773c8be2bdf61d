// A cancel, pause or retraction reaches the batch a worker holds; a take-over after a
// crash records what may have been posted as uncertain, finishes manual tasks, and never
// loses an officer's confirmation; a stale holder cannot strand a batch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { wakeBatchOf } from '../../src/engine/control.js';
import { QueueEntryModel } from '../../src/engine/model.js';
import type { EnginePorts } from '../../src/engine/ports.js';
import { claimBatch, deliveryId, dueBatchIds, writeBatch } from '../../src/engine/queue.js';
import { fixedClock } from '../../src/lib/clock.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  approvedNotice,
  campaignItems,
  type DeliveryWorld,
  manualGroup as manualGroupOf,
  runUntilIdle,
  startDeliveryWorld,
  urgentNowCampaign,
  wecomGroups,
} from '../helpers/delivery.js';
import { diedAfterFirstSend, diedHoldingBatch, workerWithPorts } from '../helpers/workers.js';

const clock = fixedClock('2026-11-29T02:00:00Z');

describe('stopping and taking over batches', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    noticeId = await approvedNotice(w);
  });
  afterAll(() => w.close());

  const campaign = (groups: (string | { id: string })[], title: string) =>
    urgentNowCampaign(w, noticeId, groups, title);

  /**
   * A worker whose `nth` send first runs `action` (a staff member acting mid-batch). A send the
   * other lanes begin while the action is being made waits for its answer: those are the posts
   * in flight when the pause or cancel takes effect (at most concurrency − 1), whatever the
   * action's time. Without the wait, a slow action (a loaded machine) let every lane send on
   * and left nothing to hold.
   */
  function workerActingOnSend(nth: number, action: () => Promise<void>, concurrency = 3) {
    const started: { afterAction: boolean }[] = [];
    let done = false;
    let acting: Promise<void> | null = null;
    const send: EnginePorts['send'] = async (...args) => {
      if (acting) await acting;
      started.push({ afterAction: done });
      if (started.length === nth) {
        acting = action().then(() => {
          done = true;
        });
        await acting;
      }
      return w.t.ctx.dispatch.send(...args);
    };
    return { worker: workerWithPorts(w, clock, { send }, concurrency), started };
  }

  it('when a campaign is cancelled mid-batch, sends no more than the posts already in flight', async () => {
    const groups = await wecomGroups(w, 30);
    const id = await campaign(groups, '中途取消');
    await w.scheduler.tick();
    const concurrency = 3;
    const { worker, started } = workerActingOnSend(6, async () => {
      const answer = await w.t.request('POST', `/api/campaigns/${id}/cancel`, w.editor);
      expect(answer.statusCode).toBe(200);
    });
    while ((await worker.drainOnce()) > 0);
    await runUntilIdle(w);
    expect(started.filter((s) => s.afterAction).length).toBeLessThanOrEqual(concurrency - 1);
    const settled = await campaignItems(id);
    const posted = groups.filter((g) => w.doubles.received({ robot: g.key }).length === 1).length;
    expect(posted).toBe(started.length);
    expect(settled.filter((i) => i.status === 'sent')).toHaveLength(posted);
    expect(settled.filter((i) => i.status === 'skipped')).toHaveLength(groups.length - posted);
  });

  it('when a campaign is paused mid-batch, holds the rest and sends it after resume', async () => {
    const groups = await wecomGroups(w, 20);
    const id = await campaign(groups, '中途暂停');
    await w.scheduler.tick();
    const { worker, started } = workerActingOnSend(4, async () => {
      // As slow as a pause on a loaded machine (the whole suite once sent 10 of 20 before it held).
      await new Promise((r) => setTimeout(r, 300));
      expect((await w.t.request('POST', `/api/campaigns/${id}/pause`, w.editor)).statusCode).toBe(200);
    });
    while ((await worker.drainOnce()) > 0);
    expect(started.filter((s) => s.afterAction).length).toBeLessThanOrEqual(2);
    const held = (await campaignItems(id)).filter((i) => i.status === 'pending');
    expect(held.length).toBeGreaterThan(10);
    // Parked: not looked at again while paused.
    const [entry] = await QueueEntryModel.find({ campaignId: id }).lean();
    expect(entry!.dueAt.getUTCFullYear()).toBe(9999);
    expect((await w.t.request('POST', `/api/campaigns/${id}/resume`, w.editor)).statusCode).toBe(200);
    await runUntilIdle(w);
    for (const group of groups) expect(w.doubles.received({ robot: group.key })).toHaveLength(1);
  });

  it('when a campaign is cancelled while a dead worker held its batch, records its claimed attempts as uncertain, not skipped', async () => {
    const groups = await wecomGroups(w, 5);
    const id = await campaign(groups, '接管时取消');
    await w.scheduler.tick();
    const { claimed: doomed } = await diedHoldingBatch(id, clock, 2);
    expect((await w.t.request('POST', `/api/campaigns/${id}/cancel`, w.editor)).statusCode).toBe(200);
    clock.advance(61_000);
    await runUntilIdle(w);
    const doomedIds = new Set(doomed.map((d) => d.groupId));
    for (const item of await campaignItems(id))
      expect(item.status).toBe(doomedIds.has(item.groupId) ? 'uncertain' : 'skipped');
  });

  const manualGroup = (name: string) =>
    manualGroupOf(w, name, { memberCount: 30, officer: { name: '李警官', phone: '13900000001' } });

  async function confirmTaskOf(reference: string) {
    const task = await ManualTaskModel.findOne({ taskKey: reference }).lean();
    const signed = w.t.ctx.manualTasks.signedQuery(String(task!._id));
    const answer = await w.t.app.inject({ method: 'POST', url: `/api/manual-tasks/${task!._id}/confirm?${signed}` });
    expect(answer.statusCode, answer.body).toBe(200);
  }

  it('when a worker died after creating an officer task, the take-over finishes it and the confirmation counts', async () => {
    const groupId = await manualGroup('接管转发群');
    const id = await campaign([groupId], '转发接管');
    await w.scheduler.tick();
    // A worker created the officer's task, then died before recording anything.
    const reference = await diedAfterFirstSend(w, id, clock);
    clock.advance(61_000);
    await runUntilIdle(w);
    expect((await campaignItems(id))[0]!.status).toBe('awaiting');
    expect(await ManualTaskModel.countDocuments({ taskKey: reference })).toBe(1);
    await confirmTaskOf(reference);
    await runUntilIdle(w);
    expect((await campaignItems(id))[0]!.status).toBe('confirmed');
  });

  it('when an officer confirms while a worker holds the batch, records the confirmation', async () => {
    const manual = await manualGroup('持有期间确认群');
    const [robot] = await wecomGroups(w, 1);
    const id = await campaign([manual, robot!.id], '持有期间确认');
    // The robot answers 503 once: its retry keeps the batch alive after the task is given out.
    w.doubles.fault({ fault: { type: 'http-error', status: 503 }, robot: robot!.key, times: 1 });
    await runUntilIdle(w);
    const [batch] = await DeliveryBatchModel.find({ campaignId: id }).lean();
    const reference = deliveryId(batch!.occurrenceId, manual);
    expect((await campaignItems(id)).find((i) => i.groupId === manual)!.status).toBe('awaiting');
    clock.advance(11 * 60_000);
    const { worker } = workerActingOnSend(1, () => confirmTaskOf(reference));
    while ((await worker.drainOnce()) > 0);
    await runUntilIdle(w);
    const settled = await campaignItems(id);
    expect(settled.find((i) => i.groupId === manual)!.status).toBe('confirmed');
    expect(settled.find((i) => i.groupId === robot!.id)!.status).toBe('sent');
  });

  it('when the wake after an officer’s confirmation fails, the scheduler’s sweep still records it', async () => {
    const groupId = await manualGroup('唤醒失败群');
    const id = await campaign([groupId], '唤醒失败');
    await runUntilIdle(w);
    const [batch] = await DeliveryBatchModel.find({ campaignId: id }).lean();
    const reference = deliveryId(batch!.occurrenceId, groupId);
    w.t.ctx.manualTasks.onConfirm(async () => {
      throw new Error('database unreachable');
    });
    const task = await ManualTaskModel.findOne({ taskKey: reference }).lean();
    const signed = w.t.ctx.manualTasks.signedQuery(String(task!._id));
    await w.t.app.inject({ method: 'POST', url: `/api/manual-tasks/${task!._id}/confirm?${signed}` });
    w.t.ctx.manualTasks.onConfirm((confirmed) => wakeBatchOf(confirmed.reference, clock.now(), confirmed.regionPath));
    await runUntilIdle(w);
    expect((await campaignItems(id))[0]!.status).toBe('awaiting');
    await w.scheduler.sweep();
    await runUntilIdle(w);
    expect((await campaignItems(id))[0]!.status).toBe('confirmed');
    // Recorded now: later sweeps leave the batch alone (no work-list entry, no hold).
    await w.scheduler.sweep();
    expect(await QueueEntryModel.exists({ _id: batch!._id })).toBeNull();
  });

  it('refuses a write from a holder whose batch a newer epoch has written, and re-lists a batch left without an entry', async () => {
    const groups = await wecomGroups(w, 3);
    const id = await campaign(groups, '过期持有者');
    await w.scheduler.tick();
    const [batchId] = (await dueBatchIds(clock.now(), 100)).filter((b) => b.includes(id));
    const stale = await claimBatch(batchId!, 'stalled-worker', clock.now());
    // A newer holder (epoch 2) has written the batch, but its claim is not visible to the stale one yet.
    await DeliveryBatchModel.updateOne({ _id: batchId }, { $set: { 'lease.epoch': 2, 'lease.until': clock.now() } });
    const items0 = stale!.batch.items.map((i) => ({ ...i, status: 'skipped' as const }));
    expect(await writeBatch(stale!, items0, clock.now(), { release: true })).toBe(false);
    expect((await campaignItems(id)).every((i) => i.status === 'pending')).toBe(true);
    // Its entry lost (as a stale release would delete it): the scheduler's sweep lists it again.
    await QueueEntryModel.deleteOne({ _id: batchId });
    clock.advance(61_000);
    await w.scheduler.sweep();
    await runUntilIdle(w);
    for (const group of groups) expect(w.doubles.received({ robot: group.key })).toHaveLength(1);
  });
});

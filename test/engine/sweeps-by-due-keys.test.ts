// The scheduler's two repairs of the work list are driven by watch lists, not scans: the
// confirmation sweep reads the confirmations filed in the last minutes (it read every
// confirmation ever filed, every minute), the stranded-batch sweep reads the batches of the
// runs still open (it read every batch, every 10 minutes). When nothing is due, a sweep reads
// no batch and no confirmation; what they recovered they still recover, also for data written
// before the watch lists existed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfirmationWatchModel, ManualTaskModel } from '../../src/channels/manual/model.js';
import { WATCH_KEEP_MS } from '../../src/channels/manual/tasks.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { wakeBatchOf } from '../../src/engine/control.js';
import { QueueEntryModel } from '../../src/engine/model.js';
import { OpenRunModel, buildOpenRuns } from '../../src/engine/open-runs.js';
import { fixedClock } from '../../src/lib/clock.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { commandsDuring } from '../helpers/commands.js';
import {
  type DeliveryWorld,
  approvedNotice,
  campaignItems,
  manualGroup,
  runUntilIdle,
  startDeliveryWorld,
  urgentNowCampaign,
  wecomGroups,
} from '../helpers/delivery.js';

const clock = fixedClock('2026-11-29T02:00:00Z');

describe('the confirmation and stranded-batch sweeps by watch lists', () => {
  let w: DeliveryWorld;
  let noticeId: string;

  /** Confirms an officer's task through its link while the wake at confirmation fails. */
  async function confirmWithoutWake(reference: string) {
    w.t.ctx.manualTasks.onConfirm(async () => {
      throw new Error('database unreachable');
    });
    const task = await ManualTaskModel.findOne({ taskKey: reference }).lean();
    const signed = w.t.ctx.manualTasks.signedQuery(String(task!._id));
    await w.t.app.inject({ method: 'POST', url: `/api/manual-tasks/${task!._id}/confirm?${signed}` });
    w.t.ctx.manualTasks.onConfirm((confirmed) => wakeBatchOf(confirmed.reference, clock.now(), confirmed.regionPath));
  }

  /** What one sweep reads: commands on the batches and on the confirmations. */
  async function sweepReads() {
    const seen = await commandsDuring(() => w.scheduler.sweep());
    return seen.filter((c) => c.collection === 'deliverybatches' || c.collection === 'manualconfirmations');
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock });
    noticeId = await approvedNotice(w);
    // A month of history: runs sent, an officer's confirmation, all settled.
    const robots = await wecomGroups(w, 3);
    const officer = await manualGroup(w, '历史人工群');
    for (let i = 0; i < 3; i++)
      await urgentNowCampaign(
        w,
        noticeId,
        robots.map((g) => g.id),
        `历史 ${i}`,
      );
    const manual = await urgentNowCampaign(w, noticeId, [officer], '历史人工');
    await runUntilIdle(w);
    const [batch] = await DeliveryBatchModel.find({ campaignId: manual }).lean();
    const task = await ManualTaskModel.findOne({ taskKey: `${batch!.occurrenceId}/${officer}` }).lean();
    const signed = w.t.ctx.manualTasks.signedQuery(String(task!._id));
    await w.t.app.inject({ method: 'POST', url: `/api/manual-tasks/${task!._id}/confirm?${signed}` });
    await runUntilIdle(w);
    expect((await campaignItems(manual))[0]!.status).toBe('confirmed');
  }, 120_000);
  afterAll(() => w.close());

  it('when nothing is due, a sweep reads no batch and no confirmation', async () => {
    // The first sweeps close the settled runs and look at the recent confirmation once.
    await w.scheduler.sweep();
    clock.advance(WATCH_KEEP_MS + 60_000);
    await w.scheduler.sweep();
    expect(await OpenRunModel.countDocuments()).toBe(0);
    expect(await ConfirmationWatchModel.countDocuments()).toBe(0);
    expect(await sweepReads()).toEqual([]);
    // And the tick that runs them when due.
    clock.advance(10 * 60_000);
    const seen = await commandsDuring(() => w.scheduler.tick());
    expect(seen.filter((c) => c.collection === 'deliverybatches' || c.collection === 'manualconfirmations')).toEqual(
      [],
    );
  });

  it('still records a confirmation whose wake failed, and re-lists a batch left without an entry', async () => {
    const officer = await manualGroup(w, '唤醒失败群');
    const id = await urgentNowCampaign(w, noticeId, [officer], '唤醒失败');
    await runUntilIdle(w);
    const [batch] = await DeliveryBatchModel.find({ campaignId: id }).lean();
    await confirmWithoutWake(`${batch!.occurrenceId}/${officer}`);
    await runUntilIdle(w);
    expect((await campaignItems(id))[0]!.status).toBe('awaiting');
    await w.scheduler.sweep();
    await runUntilIdle(w);
    expect((await campaignItems(id))[0]!.status).toBe('confirmed');

    const robots = await wecomGroups(w, 2);
    const stranded = await urgentNowCampaign(
      w,
      noticeId,
      robots.map((g) => g.id),
      '丢失条目',
    );
    await w.scheduler.tick();
    const [strandedBatch] = await DeliveryBatchModel.find({ campaignId: stranded }).lean();
    await QueueEntryModel.deleteOne({ _id: strandedBatch!._id });
    await w.scheduler.sweep();
    await runUntilIdle(w);
    for (const group of robots) expect(w.doubles.received({ robot: group.key })).toHaveLength(1);
  });

  it('recovers the same for data written before the watch lists, once listed at start', async () => {
    // A confirmation filed and a batch left without an entry by the old code: no watch entries.
    const officer = await manualGroup(w, '旧版本人工群');
    const id = await urgentNowCampaign(w, noticeId, [officer], '旧版本确认');
    await runUntilIdle(w);
    const [batch] = await DeliveryBatchModel.find({ campaignId: id }).lean();
    await confirmWithoutWake(`${batch!.occurrenceId}/${officer}`);
    const robots = await wecomGroups(w, 2);
    const stranded = await urgentNowCampaign(
      w,
      noticeId,
      robots.map((g) => g.id),
      '旧版本丢失条目',
    );
    await w.scheduler.tick();
    const [strandedBatch] = await DeliveryBatchModel.find({ campaignId: stranded }).lean();
    expect(strandedBatch!.dueAt).not.toBeNull();
    await QueueEntryModel.deleteOne({ _id: strandedBatch!._id });
    await ConfirmationWatchModel.deleteMany({});
    await OpenRunModel.deleteMany({});
    await BackfillModel.deleteMany({});
    // Without the backfill the sweeps see neither (what the old layout alone gives them).
    await w.scheduler.sweep();
    expect(await QueueEntryModel.exists({ _id: strandedBatch!._id })).toBeNull();
    // Listed as a start does; then the sweeps recover both.
    await w.t.ctx.manualTasks.backfillConfirmationWatch();
    await buildOpenRuns();
    await w.scheduler.sweep();
    expect(await QueueEntryModel.exists({ _id: strandedBatch!._id })).not.toBeNull();
    await runUntilIdle(w);
    expect((await campaignItems(id))[0]!.status).toBe('confirmed');
    for (const group of robots) expect(w.doubles.received({ robot: group.key })).toHaveLength(1);
  });
});

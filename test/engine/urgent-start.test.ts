// An urgent push starts at once (issue 25, item 5: first post within seconds of approval):
// approving a campaign wakes the schedulers, which create and plan its run without waiting
// for their next 5-second tick, and a worker busy with a long list of normal batches reads
// the work list again before its next batch, so the urgent batch goes next.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudienceSpec } from '../../src/campaigns/ports.js';
import { engineDeps } from '../../src/context.js';
import { OccurrenceModel } from '../../src/engine/model.js';
import { Planner } from '../../src/engine/planner.js';
import type { EnginePorts, PlannedGroup } from '../../src/engine/ports.js';
import { Scheduler } from '../../src/engine/runner.js';
import { createDueOccurrences } from '../../src/engine/tick.js';
import { DEFAULT_WORKER, Worker } from '../../src/engine/worker.js';
import { fixedClock } from '../../src/lib/clock.js';
import type { Scope } from '../../src/regions/scope.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

// 10:00 Beijing time.
const clock = fixedClock('2026-11-29T02:00:00Z');
const settings = { timeZone: 'Asia/Shanghai', quietHours: { start: '22:00', end: '07:00' } };

/** The real selection in chunks of `size` groups (each chunk of 20 is written at once). */
function chunked(base: EnginePorts, size: number): EnginePorts {
  return Object.assign(Object.create(base), {
    async *selectGroups(scope: Scope, spec: AudienceSpec): AsyncIterable<PlannedGroup[]> {
      const all: PlannedGroup[] = [];
      for await (const groups of base.selectGroups(scope, spec)) all.push(...groups);
      for (let i = 0; i < all.length; i += size) yield all.slice(i, i + size);
    },
  });
}

describe('an urgent push starts at once', () => {
  let w: DeliveryWorld;
  let noticeId: string;

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    noticeId = await approvedNotice(w);
  }, 600_000);
  afterAll(() => w.close());

  it('plans a campaign approved between ticks when the scheduler next looks at its wake counter', async () => {
    const [group] = await wecomGroups(w, 1, TREE.villageA.code);
    const scheduler = new Scheduler(engineDeps(w.t.ctx));
    const errors: unknown[] = [];
    const onError = (error: unknown) => errors.push(error);
    expect(await scheduler.tickIfWoken(onError)).toBe(false); // the first look: nothing new
    const campaignId = await approvedCampaign(w, {
      title: '紧急唤醒',
      noticeId,
      audience: audienceOf([], [group!.id]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    expect(await scheduler.tickIfWoken(onError)).toBe(true);
    expect(await OccurrenceModel.findOne({ campaignId }).lean()).toMatchObject({ status: 'planned', deliveryCount: 1 });
    expect(await scheduler.tickIfWoken(onError)).toBe(false);
    expect(errors).toEqual([]);
  });

  it('sends an urgent batch that came due while a worker was busy before the rest of the list it read earlier', async () => {
    // The work list holds only what this test plans.
    for (let round = 0; round < 10 && (await w.worker.drainOnce()) > 0; round++) {
      // send what earlier tests left due
    }
    w.doubles.reset();
    const normalGroups = await wecomGroups(w, 40, TREE.villageA.code);
    const [urgentGroup] = await wecomGroups(w, 1, TREE.villageA.code);
    const deps = engineDeps(w.t.ctx);
    const normalId = await approvedCampaign(w, {
      title: '普通两批',
      noticeId,
      audience: audienceOf([], normalGroups.map((g) => g.id)),
      schedule: { kind: 'now' },
      priority: 'normal',
    });
    await createDueOccurrences(w.t.ctx.campaigns, settings, clock.now());
    const normalRun = await OccurrenceModel.findOne({ campaignId: normalId }).lean();
    // Two batches of 20 (each chunk is written early).
    expect(await new Planner({ ...deps, ports: chunked(deps.ports, 20) }).plan(normalRun!, 'planner-normal')).toBe(
      'planned',
    );
    expect(await DeliveryBatchModel.countDocuments({ campaignId: normalId })).toBe(2);

    // While the worker sends the first normal batch, an urgent run is approved and planned.
    let urgentPlanned = false;
    const ports: EnginePorts = Object.assign(Object.create(deps.ports), {
      batchesWritten: async (batchIds: string[]) => {
        await deps.ports.batchesWritten(batchIds);
        if (urgentPlanned) return;
        urgentPlanned = true;
        const urgentId = await approvedCampaign(w, {
          title: '插队紧急',
          noticeId,
          audience: audienceOf([], [urgentGroup!.id]),
          schedule: { kind: 'now' },
          priority: 'urgent',
        });
        await createDueOccurrences(w.t.ctx.campaigns, settings, clock.now());
        const run = await OccurrenceModel.findOne({ campaignId: urgentId }).lean();
        await new Planner(deps).plan(run!, 'planner-urgent');
      },
    });
    const worker = new Worker(w.t.ctx.campaigns, ports, clock, {
      ...DEFAULT_WORKER,
      parallelBatches: 1,
      pollMs: 10,
      maxInlineWaitMs: 0,
      relookMs: 0,
    });
    await worker.drainOnce();
    expect(urgentPlanned).toBe(true);
    const robots = w.doubles.received().map((message) => message.robot);
    const urgentAt = robots.indexOf(urgentGroup!.key);
    const batches = await DeliveryBatchModel.find({ campaignId: normalId }, { 'items.groupId': 1 })
      .sort({ _id: 1 })
      .lean();
    const keyOf = new Map(normalGroups.map((g) => [g.id, g.key]));
    const [first, second] = batches.map((b) => b.items.map((i) => robots.indexOf(keyOf.get(i.groupId)!)));
    // The worker took one batch, then the urgent one, then the other.
    const [taken, left] = first!.every((at) => at >= 0 && at < urgentAt) ? [first!, second!] : [second!, first!];
    expect(urgentAt).toBeGreaterThan(-1);
    expect(taken.every((at) => at >= 0 && at < urgentAt)).toBe(true);
    expect(left.every((at) => at === -1 || at > urgentAt)).toBe(true);
  });
});

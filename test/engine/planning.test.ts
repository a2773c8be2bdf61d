// Planning runs under several schedulers (issue 20, defects 6 and 11; issue 25, urgent runs
// first): the planner's lease is renewed while it writes and checked before every write, so
// two planners racing on one run put every group in exactly one batch; a run that cannot be
// planned is skipped with its reason without stopping the others; urgent runs go first.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GroupModel } from '../../src/audience/model.js';
import type { AudienceSpec } from '../../src/campaigns/ports.js';
import { engineDeps } from '../../src/context.js';
import { OccurrenceModel, PlanningQueueModel } from '../../src/engine/model.js';
import { MAX_PLAN_FAILURES, Planner } from '../../src/engine/planner.js';
import type { EnginePorts } from '../../src/engine/ports.js';
import { Scheduler } from '../../src/engine/runner.js';
import { createDueOccurrences } from '../../src/engine/tick.js';
import { fixedClock } from '../../src/lib/clock.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  type DeliveryWorld,
  gate,
  insertWecomGroups,
  portsWith,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

// 10:00 Beijing time.
const clock = fixedClock('2026-11-29T02:00:00Z');
const settings = { timeZone: 'Asia/Shanghai', quietHours: { start: '22:00', end: '07:00' } };

/** How many batches of the run each group is in. */
async function placements(campaignId: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const batch of await DeliveryBatchModel.find({ campaignId }, { 'items.groupId': 1 }).lean()) {
    for (const item of batch.items) counts.set(item.groupId, (counts.get(item.groupId) ?? 0) + 1);
  }
  return counts;
}

describe('planning under several schedulers', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  /** 250 groups of one township (three parts), in id order. */
  let groupIds: string[];

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    noticeId = await approvedNotice(w);
    // Written in one insert, with the fields the groups API writes: the planner is the subject
    // here, not the groups API (250 calls were most of the file's CPU and time).
    const groups = await insertWecomGroups(w, 250, TREE.villageA.code, {
      memberCount: 100,
      officerName: '张警官',
      officerPhone: '13800000000',
      tags: ['重点村'],
    });
    groupIds = groups.map((g) => g.id);
    groupIds.sort();
  }, 600_000);
  afterAll(() => w.close());

  async function runOf(title: string, priority: 'normal' | 'urgent' = 'normal') {
    const campaignId = await approvedCampaign(w, {
      title,
      noticeId,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'now' },
      priority,
    });
    await createDueOccurrences(w.t.ctx.campaigns, settings, clock.now());
    const occurrence = await OccurrenceModel.findOne({ campaignId }).lean();
    return { campaignId, occurrence: occurrence! };
  }

  it('puts every group in exactly one batch when a second planner takes over a stalled one', async () => {
    const { campaignId, occurrence } = await runOf('两个调度器');
    const deps = engineDeps(w.t.ctx);
    const stallA = gate();
    const stallB = gate();
    let writtenA = 0;
    let writtenB = 0;
    const a = new Planner({
      ...deps,
      ports: portsWith(deps.ports, async () => {
        if (++writtenA === 1) await stallA.wait();
      }),
    });
    const b = new Planner({
      ...deps,
      ports: portsWith(deps.ports, async () => {
        if (++writtenB === 1) await stallB.wait();
      }),
    });
    // A writes its first part and stalls (a long pause) past its lease.
    const planningA = a.plan(occurrence, 'planner-a').catch((error: unknown) => error);
    await stallA.reached;
    // Meanwhile a group of the second part is flagged, so the parts B cuts differ from A's.
    const flagged = groupIds[149]!;
    await w.t.ctx.groups.flagGroup(flagged, '测试');
    clock.advance(6 * 60_000);
    // B takes the run over, writes its next part and stalls; then A wakes up, then B.
    const planningB = b.plan(occurrence, 'planner-b');
    await stallB.reached;
    stallA.open();
    await planningA;
    stallB.open();
    expect(await planningB).toBe('planned');

    const placed = await placements(campaignId);
    const expected = groupIds.filter((id) => id !== flagged);
    expect([...placed.keys()].sort()).toEqual(expected);
    expect([...placed.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    const run = await OccurrenceModel.findById(occurrence._id).lean();
    expect(run).toMatchObject({ status: 'planned', deliveryCount: expected.length });
  });

  it('puts every group in exactly one batch when a stalled write lands after a second planner took over', async () => {
    // A planner checks its lease, then its write takes longer than the lease's margin: by
    // the time it lands, a second planner holds the run, has read what was written and
    // plans the rest, with parts cut differently (a group cleared in between sorts first).
    const cleared = groupIds[50]!;
    await w.t.ctx.groups.flagGroup(cleared, '测试');
    const { campaignId, occurrence } = await runOf('慢写入');
    const deps = engineDeps(w.t.ctx);
    const slowWrite = gate();
    const stallB = gate();
    // The planner inserts its batches through the driver (newBatchDocument).
    const batches = DeliveryBatchModel.collection;
    const insertMany = batches.insertMany.bind(batches);
    let writes = 0;
    const spy = vi.spyOn(batches, 'insertMany').mockImplementation((async (...args: unknown[]) => {
      const docs = args[0] as { campaignId?: string }[];
      if (docs[0]?.campaignId === campaignId) {
        const write = ++writes;
        if (write === 2) await slowWrite.wait(); // A's second part, after its lease check
        if (write === 3) await stallB.wait(); // B's first part
      }
      return (insertMany as (...a: unknown[]) => Promise<unknown>)(...args);
    }) as never);
    try {
      const planningA = new Planner(deps).plan(occurrence, 'planner-a').catch((error: unknown) => error);
      await slowWrite.reached;
      clock.advance(6 * 60_000);
      const response = await w.t.request('PATCH', `/api/groups/${cleared}`, w.t.adminToken, { clearFlag: true });
      expect(response.statusCode).toBe(200);
      const planningB = new Planner(deps).plan(occurrence, 'planner-b');
      await stallB.reached;
      // A's write lands now, after B read the run and before B writes the same part.
      slowWrite.open();
      expect(await planningA).toBeInstanceOf(Error);
      stallB.open();
      expect(await planningB).toBe('planned');
    } finally {
      spy.mockRestore();
    }

    const placed = await placements(campaignId);
    const expected = (await GroupModel.find({ _id: { $in: groupIds }, flaggedAt: null }, { _id: 1 }).lean()).map((g) =>
      String(g._id),
    );
    expect([...placed.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect([...placed.keys()].sort()).toEqual(expected.sort());
    const run = await OccurrenceModel.findById(occurrence._id).lean();
    expect(run).toMatchObject({
      status: 'planned',
      deliveryCount: expected.length,
      batchCount: await DeliveryBatchModel.countDocuments({ campaignId }),
    });
  });

  it('renews the lease while it writes, so a second planner finds the run busy', async () => {
    const { campaignId, occurrence } = await runOf('续租');
    const deps = engineDeps(w.t.ctx);
    const other = new Planner(deps);
    let seenByOther: string | null = null;
    let written = 0;
    // Each part takes three minutes to write (a slow database): planning outlasts the
    // five-minute lease it started with.
    const slow = new Planner({
      ...deps,
      ports: portsWith(deps.ports, async () => {
        clock.advance(3 * 60_000);
        if (++written === 2) seenByOther = await other.plan(occurrence, 'planner-other');
      }),
    });
    expect(await slow.plan(occurrence, 'planner-slow')).toBe('planned');
    expect(seenByOther).toBe('busy');
    const placed = await placements(campaignId);
    expect([...placed.values()].every((n) => n === 1)).toBe(true);
    expect(placed.size).toBe((await OccurrenceModel.findById(occurrence._id).lean())!.deliveryCount);
  });

  it('plans urgent runs before normal runs that were waiting before them', async () => {
    const normal = await runOf('普通先到');
    const urgent = await runOf('紧急后到', 'urgent');
    const deps = engineDeps(w.t.ctx);
    const order: string[] = [];
    const planner = new Planner({
      ...deps,
      ports: portsWith(deps.ports, async (batchIds) => {
        for (const id of batchIds) order.push(id.slice(0, id.indexOf('@')));
      }),
    });
    expect(await planner.planPending('planner-order')).toBe(2);
    expect(order[0]).toBe(urgent.campaignId);
    expect(order.at(-1)).toBe(normal.campaignId);
  });

  /** The groups of the township a run may send to now (not flagged). */
  async function sendableGroups(): Promise<Set<string>> {
    const docs = await GroupModel.find({ _id: { $in: groupIds }, flaggedAt: null }, { _id: 1 }).lean();
    return new Set(docs.map((doc) => String(doc._id)));
  }

  /**
   * The engine's ports with the selection cut into chunks of `size` groups; `open` counts
   * the selections open at once (each is one plan held in memory), `onChunk` is called
   * before each chunk is handed to the planner.
   */
  function chunkedPorts(base: EnginePorts, size: number, onChunk: () => Promise<void>) {
    const open = { now: 0, most: 0 };
    const ports: EnginePorts = Object.assign(Object.create(base), {
      async *selectGroups(scope: Parameters<EnginePorts['selectGroups']>[0], spec: AudienceSpec, options?: object) {
        open.now += 1;
        open.most = Math.max(open.most, open.now);
        try {
          for await (const groups of base.selectGroups(scope, spec, options)) {
            for (let i = 0; i < groups.length; i += size) {
              await onChunk();
              yield groups.slice(i, i + size);
            }
          }
        } finally {
          open.now -= 1;
        }
      },
    });
    return { ports, open };
  }

  it('plans an urgent run approved while a normal run plans first, the normal run yielding and completing exactly', async () => {
    const deps = engineDeps(w.t.ctx);
    const normal = await runOf('大批普通');
    const written: string[] = [];
    let urgentId: string | null = null;
    let lane: { created: number; planned: number } | null = null;
    let scheduler!: Scheduler;
    let chunksOfNormal = 0;
    const { ports, open } = chunkedPorts(deps.ports, 50, async () => {
      // The normal run's second chunk: an urgent push is approved, and the urgent lane runs
      // (as the wake counter makes it within a second) while the normal run plans.
      if (urgentId === null && ++chunksOfNormal === 2) {
        urgentId = await approvedCampaign(w, {
          title: '紧急插队',
          noticeId,
          audience: audienceOf([TREE.villageA.code]),
          schedule: { kind: 'now' },
          priority: 'urgent',
        });
        lane = await scheduler.tickUrgent();
      }
    });
    scheduler = new Scheduler({
      ...deps,
      ports: portsWith(ports, async (batchIds) => {
        for (const id of batchIds) written.push(id.slice(0, id.indexOf('@')));
      }),
    });
    await scheduler.tick();
    expect(lane).toEqual({ created: 1, planned: 0 });
    // One plan in memory at a time: never two selections open at once.
    expect(open.most).toBe(1);
    const eligible = await sendableGroups();
    const urgentRun = await OccurrenceModel.findOne({ campaignId: urgentId! }).lean();
    expect(urgentRun).toMatchObject({ status: 'planned', deliveryCount: eligible.size });
    // The normal run wrote its first parts, then every urgent batch came, then the rest of the normal run.
    const firstUrgent = written.indexOf(urgentId!);
    const lastUrgent = written.lastIndexOf(urgentId!);
    expect(written.slice(0, firstUrgent)).toContain(normal.campaignId);
    expect(written.slice(firstUrgent, lastUrgent + 1).every((id) => id === urgentId)).toBe(true);
    expect(written.slice(lastUrgent + 1)).toContain(normal.campaignId);
    // The normal run completes exactly across the yield: each group once, none lost.
    const run = await OccurrenceModel.findById(normal.occurrence._id).lean();
    expect(run).toMatchObject({ status: 'planned', deliveryCount: eligible.size });
    const placed = await placements(normal.campaignId);
    expect([...placed.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(placed.keys())).toEqual(eligible);
    const batches = await DeliveryBatchModel.find({ campaignId: normal.campaignId }, { counts: 1 }).lean();
    expect(batches.reduce((sum, b) => sum + (b.counts?.total ?? 0), 0)).toBe(eligible.size);
    expect(run!.batchCount).toBe(batches.length);
  });

  it('never holds two plans at once, however the tick and the urgent lane interleave', async () => {
    const deps = engineDeps(w.t.ctx);
    const first = await runOf('紧急一', 'urgent');
    let second: string | null = null;
    let lane: unknown = null;
    let chunks = 0;
    let scheduler!: Scheduler;
    const { ports, open } = chunkedPorts(deps.ports, 50, async () => {
      if (second !== null || ++chunks !== 2) return;
      second = await approvedCampaign(w, {
        title: '紧急二',
        noticeId,
        audience: audienceOf([TREE.villageA.code]),
        schedule: { kind: 'now' },
        priority: 'urgent',
      });
      // The lane creates the second urgent run while the first is half planned: it is
      // planned after the first, by the loop already planning, not beside it.
      lane = await scheduler.tickUrgent();
    });
    scheduler = new Scheduler({ ...deps, ports });
    await scheduler.tick();
    expect(lane).toEqual({ created: 1, planned: 0 });
    expect(open.most).toBe(1);
    const eligible = await sendableGroups();
    for (const campaignId of [first.campaignId, second!]) {
      expect(await OccurrenceModel.findOne({ campaignId }).lean()).toMatchObject({
        status: 'planned',
        deliveryCount: eligible.size,
      });
    }
  });

  it('reads the runs waiting for planning from the planning queue, not by scanning the runs', async () => {
    const deps = engineDeps(w.t.ctx);
    const planner = new Planner(deps);
    await planner.planPending('planner-warm'); // the one backfill scan of a process
    const { campaignId } = await runOf('排队');
    const seen: unknown[] = [];
    const original = OccurrenceModel.find.bind(OccurrenceModel) as (...args: unknown[]) => unknown;
    const watch = vi.spyOn(OccurrenceModel, 'find').mockImplementation(((filter: unknown, ...rest: unknown[]) => {
      seen.push(filter);
      return original(filter, ...rest);
    }) as never);
    try {
      expect(await planner.planPending('planner-queue')).toBeGreaterThanOrEqual(1);
    } finally {
      watch.mockRestore();
    }
    expect(seen).toEqual([]);
    expect(await OccurrenceModel.findOne({ campaignId }).lean()).toMatchObject({ status: 'planned' });
    const run = await OccurrenceModel.findOne({ campaignId }, { _id: 1 }).lean();
    expect(await PlanningQueueModel.findById(run!._id).lean()).toBeNull();
  });

  it('declares an index for the runs waiting for planning', () => {
    const keys = OccurrenceModel.schema.indexes().map(([fields]) => Object.keys(fields));
    expect(keys.some((fields) => fields[0] === 'status')).toBe(true);
  });

  it('records a run that always fails to plan as skipped with its reason, and plans the runs after it', async () => {
    const brokenNotice = await approvedNotice(w, { title: '渲染出错的通告' });
    const deps = engineDeps(w.t.ctx);
    const failing: EnginePorts = Object.assign(Object.create(deps.ports), {
      noticeCategory: async (id: string) => {
        if (id === brokenNotice) throw new Error('模板渲染失败');
        return deps.ports.noticeCategory(id);
      },
    });
    const scheduler = new Scheduler({ ...deps, ports: failing });
    const broken = await approvedCampaign(w, {
      title: '总是失败',
      noticeId: brokenNotice,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'now' },
      priority: 'urgent', // planned first
    });
    const fine = await approvedCampaign(w, {
      title: '正常',
      noticeId,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'now' },
    });
    await scheduler.tick();
    expect(await OccurrenceModel.findOne({ campaignId: fine }).lean()).toMatchObject({ status: 'planned' });
    expect(await OccurrenceModel.findOne({ campaignId: broken }).lean()).toMatchObject({
      status: 'planning',
      planFailures: 1,
    });
    for (let i = 1; i < MAX_PLAN_FAILURES; i++) {
      clock.advance(10 * 60_000);
      await scheduler.tick();
    }
    const run = await OccurrenceModel.findOne({ campaignId: broken }).lean();
    expect(run).toMatchObject({ status: 'skipped', planFailures: MAX_PLAN_FAILURES });
    expect(run!.skipReason).toContain('模板渲染失败');
    const runs = (await w.t.request('GET', `/api/campaigns/${broken}/runs`, w.editor)).json();
    expect(runs[0]).toMatchObject({ status: 'skipped' });
  }, 120_000); // six ticks, each with the scheduler's sweeps: 22-30 s on a loaded 2-core machine

  it('records the runs missed while the service was down when a later run is caught up', async () => {
    clock.set('2026-12-10T00:00:00Z');
    const id = await approvedCampaign(w, {
      title: '每日九点',
      noticeId,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'cron', cron: '0 9 * * *', endAt: '2026-12-31T00:00:00Z' },
    });
    // Down from before the first run until 09:10 on the fourth day.
    clock.set('2026-12-13T01:10:00Z');
    await createDueOccurrences(w.t.ctx.campaigns, settings, clock.now());
    const runs = await OccurrenceModel.find({ campaignId: id }).sort({ runAt: 1 }).lean();
    expect(runs.map((r) => [r.runAt.toISOString(), r.status])).toEqual([
      ['2026-12-10T01:00:00.000Z', 'skipped'],
      ['2026-12-11T01:00:00.000Z', 'skipped'],
      ['2026-12-12T01:00:00.000Z', 'skipped'],
      ['2026-12-13T01:00:00.000Z', 'planning'],
    ]);
    expect(runs[0]!.skipReason).toContain('错过发送时间');
  });

  it('judges a missed one-off run by its due time after quiet hours at approval, as the tick does', async () => {
    clock.set('2026-12-20T14:00:00Z'); // 22:00 Beijing time
    const created = (
      await w.t.request('POST', '/api/campaigns', w.editor, {
        title: '夜里定时',
        noticeId,
        audience: audienceOf([TREE.villageA.code]),
        schedule: { kind: 'once', at: '2026-12-20T15:00:00Z' }, // 23:00: due at 07:00
        priority: 'normal',
      })
    ).json();
    await w.t.request('POST', `/api/campaigns/${created.id}/submit`, w.editor);
    clock.set('2026-12-20T16:30:00Z'); // 00:30: 90 minutes after 23:00, hours before 07:00
    const approval = await w.t.request('POST', `/api/campaigns/${created.id}/approve`, w.reviewer);
    expect(approval.statusCode, approval.body).toBe(200);
    await createDueOccurrences(w.t.ctx.campaigns, settings, clock.now());
    const run = await OccurrenceModel.findOne({ campaignId: created.id }).lean();
    expect(run).toMatchObject({ status: 'planning' });
    expect(run!.dueAt.toISOString()).toBe('2026-12-20T23:00:00.000Z');
  });
});

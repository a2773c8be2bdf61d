// Planning runs under several schedulers (issue 20, defects 6 and 11; issue 25, urgent runs
// first): the planner's lease is renewed while it writes and checked before every write, so
// two planners racing on one run put every group in exactly one batch; a run that cannot be
// planned is skipped with its reason without stopping the others; urgent runs go first.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { engineDeps } from '../../src/context.js';
import { OccurrenceModel } from '../../src/engine/model.js';
import { MAX_PLAN_FAILURES, Planner } from '../../src/engine/planner.js';
import type { EnginePorts } from '../../src/engine/ports.js';
import { Scheduler } from '../../src/engine/runner.js';
import { createDueOccurrences } from '../../src/engine/tick.js';
import { fixedClock } from '../../src/lib/clock.js';
import { GroupModel } from '../../src/audience/model.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  gate,
  portsWith,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { groupBody } from '../helpers/groups.js';
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
    groupIds = [];
    for (let i = 0; i < 250; i += 50) {
      const created = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const response = await w.t.request('POST', '/api/groups', w.t.adminToken, groupBody());
          if (response.statusCode !== 201) throw new Error(response.body);
          return response.json().id as string;
        }),
      );
      groupIds.push(...created);
    }
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
    const insertMany = DeliveryBatchModel.insertMany.bind(DeliveryBatchModel);
    let writes = 0;
    const spy = vi.spyOn(DeliveryBatchModel, 'insertMany').mockImplementation((async (...args: unknown[]) => {
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
    const expected = (
      await GroupModel.find({ _id: { $in: groupIds }, flaggedAt: null }, { _id: 1 }).lean()
    ).map((g) => String(g._id));
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

  it('plans an urgent run while a tick is still planning a long normal run', async () => {
    const deps = engineDeps(w.t.ctx);
    const normal = await runOf('大批普通');
    const stall = gate();
    const scheduler = new Scheduler({
      ...deps,
      ports: portsWith(deps.ports, async (batchIds) => {
        if (batchIds[0]!.startsWith(normal.campaignId)) await stall.wait();
      }),
    });
    const tick = scheduler.tick();
    await stall.reached;
    const urgentId = await approvedCampaign(w, {
      title: '紧急插队',
      noticeId,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    const lane = await scheduler.tickUrgent();
    expect(lane).toEqual({ created: 1, planned: 1 });
    expect(await OccurrenceModel.findOne({ campaignId: urgentId }).lean()).toMatchObject({ status: 'planned' });
    expect(await OccurrenceModel.findById(normal.occurrence._id).lean()).toMatchObject({ status: 'planning' });
    stall.open();
    await tick;
    expect(await OccurrenceModel.findById(normal.occurrence._id).lean()).toMatchObject({ status: 'planned' });
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
  });

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

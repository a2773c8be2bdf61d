// Dispatch while planning (issue 25, item 5): the planner writes a run's first batches after
// the first chunk of the selection, not at its end, so a worker sends while planning goes on;
// a re-plan after such early batches still puts every group in exactly one batch; an urgent
// run writes everything it holds after its first chunk.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudienceSpec } from '../../src/campaigns/ports.js';
import { engineDeps } from '../../src/context.js';
import { OccurrenceModel } from '../../src/engine/model.js';
import { PlanningLeaseLost, Planner } from '../../src/engine/planner.js';
import type { EnginePorts, PlannedGroup } from '../../src/engine/ports.js';
import { fixedClock } from '../../src/lib/clock.js';
import type { Scope } from '../../src/regions/scope.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  startDeliveryWorld,
  gate,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';
import { createDueOccurrences } from '../../src/engine/tick.js';

// 10:00 Beijing time.
const clock = fixedClock('2026-11-29T02:00:00Z');
const settings = { timeZone: 'Asia/Shanghai', quietHours: { start: '22:00', end: '07:00' } };

/**
 * The real selection, handed to the planner in chunks of `size` groups (a province's
 * selection comes in many chunks); `beforeSecond` is awaited before the second chunk.
 */
function chunked(base: EnginePorts, size: number, beforeSecond?: () => Promise<void>): EnginePorts {
  return Object.assign(Object.create(base), {
    async *selectGroups(scope: Scope, spec: AudienceSpec): AsyncIterable<PlannedGroup[]> {
      const all: PlannedGroup[] = [];
      for await (const groups of base.selectGroups(scope, spec)) all.push(...groups);
      for (let i = 0; i < all.length; i += size) {
        if (i === size) await beforeSecond?.();
        yield all.slice(i, i + size);
      }
    },
  });
}

/** How many batches of the run each group is in. */
async function placements(campaignId: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const batch of await DeliveryBatchModel.find({ campaignId }, { 'items.groupId': 1 }).lean()) {
    for (const item of batch.items) counts.set(item.groupId, (counts.get(item.groupId) ?? 0) + 1);
  }
  return counts;
}

describe('batches written while planning goes on', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  /** 60 groups of village A (township A), in id order. */
  let villageA: { id: string; key: string }[];

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    noticeId = await approvedNotice(w);
    villageA = await wecomGroups(w, 60, TREE.villageA.code);
    villageA.sort((a, b) => (a.id < b.id ? -1 : 1));
  }, 600_000);
  afterAll(() => w.close());

  async function runOf(title: string, region: string, priority: 'normal' | 'urgent' = 'normal') {
    const campaignId = await approvedCampaign(w, {
      title,
      noticeId,
      audience: audienceOf([region]),
      schedule: { kind: 'now' },
      priority,
    });
    await createDueOccurrences(w.t.ctx.campaigns, settings, clock.now());
    const occurrence = await OccurrenceModel.findOne({ campaignId }).lean();
    return { campaignId, occurrence: occurrence! };
  }

  it('lets a worker send the first batch of a run before its planning ends', async () => {
    const { campaignId, occurrence } = await runOf('边计划边发送', TREE.villageA.code);
    const deps = engineDeps(w.t.ctx);
    const paused = gate();
    const planner = new Planner({ ...deps, ports: chunked(deps.ports, 30, paused.wait) });
    const planning = planner.plan(occurrence, 'planner-early');
    await paused.reached;

    // Planning holds the second chunk back: the first 30 groups (one township, at least
    // EARLY_WRITE_MIN) are a batch on the work list already, and the worker sends them.
    expect((await OccurrenceModel.findById(occurrence._id).lean())!.status).toBe('planning');
    const early = await DeliveryBatchModel.find({ campaignId }, { 'items.groupId': 1 }).lean();
    expect(early.map((b) => b.items.length)).toEqual([30]);
    expect(await w.worker.drainOnce()).toBe(1);
    const sentEarly = villageA.slice(0, 30).filter((g) => w.doubles.received({ robot: g.key }).length === 1);
    expect(sentEarly).toHaveLength(30);

    paused.open();
    expect(await planning).toBe('planned');
    const placed = await placements(campaignId);
    expect([...placed.keys()].sort()).toEqual(villageA.map((g) => g.id));
    expect([...placed.values()].every((n) => n === 1)).toBe(true);
    expect(await OccurrenceModel.findById(occurrence._id).lean()).toMatchObject({ deliveryCount: 60, batchCount: 2 });
    for (let round = 0; round < 20 && (await w.worker.drainOnce()) > 0; round++) {
      // drain what planning wrote after the pause
    }
    for (const group of villageA) expect(w.doubles.received({ robot: group.key })).toHaveLength(1);
    w.doubles.reset();
  });

  it('re-plans a run after early batches with every group in exactly one batch', async () => {
    const { campaignId, occurrence } = await runOf('早写后重计划', TREE.villageA.code);
    const deps = engineDeps(w.t.ctx);
    const stalled = gate();
    const first = new Planner({ ...deps, ports: chunked(deps.ports, 25, stalled.wait) });
    const planningFirst = first.plan(occurrence, 'planner-stalled').catch((error: unknown) => error);
    await stalled.reached;
    // The first planner wrote its first chunk early, then stalled past its lease. Meanwhile a
    // group of the second chunk is flagged and a new one joins.
    expect(await DeliveryBatchModel.countDocuments({ campaignId })).toBe(1);
    const flagged = villageA[40]!.id;
    await w.t.ctx.groups.flagGroup(flagged, '测试');
    const [late] = await wecomGroups(w, 1, TREE.villageA.code);
    clock.advance(6 * 60_000);

    const second = new Planner({ ...deps, ports: chunked(deps.ports, 25) });
    expect(await second.plan(occurrence, 'planner-second')).toBe('planned');
    // The stalled planner wakes up: its lease lapsed, it writes nothing more.
    stalled.open();
    expect(await planningFirst).toBeInstanceOf(PlanningLeaseLost);

    const expected = [...villageA.map((g) => g.id).filter((id) => id !== flagged), late!.id].sort();
    const placed = await placements(campaignId);
    expect([...placed.keys()].sort()).toEqual(expected);
    expect([...placed.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    const parts = (await DeliveryBatchModel.find({ campaignId }, { _id: 1 }).lean()).map((b) =>
      Number(String(b._id).split('|').at(-1)),
    );
    expect(parts.sort()).toEqual(parts.map((_, i) => i + 1));
    expect(await OccurrenceModel.findById(occurrence._id).lean()).toMatchObject({
      status: 'planned',
      deliveryCount: expected.length,
      batchCount: parts.length,
    });
  });

  it('puts the groups of a part number found taken into the next part', async () => {
    const { campaignId, occurrence } = await runOf('编号已占用', TREE.villageA.code);
    const deps = engineDeps(w.t.ctx);
    const selected: PlannedGroup[] = [];
    const scope = await deps.regions.scopeOf(TREE.countyA.code);
    for await (const groups of deps.ports.selectGroups(scope, audienceOf([TREE.villageA.code]))) selected.push(...groups);
    // A stalled planner's write of part 1 (its first ten groups) lands after our look at the run.
    const landedLate = selected.slice(0, 10);
    await DeliveryBatchModel.create({
      _id: `${occurrence._id}|${TREE.townshipA.code}|1`,
      occurrenceId: occurrence._id,
      campaignId,
      noticeId,
      category: 'fraud',
      priority: 'normal',
      cardStyle: 'standard',
      regionPath: landedLate[0]!.townshipPath,
      countyCode: landedLate[0]!.countyCode,
      townshipCode: TREE.townshipA.code,
      day: '2026-11-29',
      month: '2026-11',
      items: landedLate.map((g) => ({ ...g, status: 'pending', attempts: 0 })),
    });
    const planner = new Planner({ ...deps, ports: chunked(deps.ports, 30) });
    expect(await planner.plan(occurrence, 'planner-after-late-write')).toBe('planned');
    const placed = await placements(campaignId);
    expect([...placed.keys()].sort()).toEqual(selected.map((g) => g.groupId).sort());
    expect([...placed.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    const sizes = (await DeliveryBatchModel.find({ campaignId }, { 'items.groupId': 1 }).sort({ _id: 1 }).lean()).map(
      (b) => [String(b._id).split('|').at(-1), b.items.length],
    );
    expect(sizes).toEqual([
      ['1', 10],
      ['2', 20],
      ['3', 30],
    ]);
  });

  it('writes everything an urgent run holds after its first chunk, and a normal run only full townships', async () => {
    const deps = engineDeps(w.t.ctx);
    const seen: Record<string, number[]> = {};
    for (const priority of ['urgent', 'normal'] as const) {
      const { campaignId, occurrence } = await runOf(`首块后写入 ${priority}`, TREE.villageA.code, priority);
      const paused = gate();
      // Five groups per chunk: below EARLY_WRITE_MIN.
      const planning = new Planner({ ...deps, ports: chunked(deps.ports, 5, paused.wait) }).plan(
        occurrence,
        `planner-${priority}`,
      );
      await paused.reached;
      seen[priority] = (await DeliveryBatchModel.find({ campaignId }, { 'items.groupId': 1 }).lean()).map(
        (b) => b.items.length,
      );
      paused.open();
      expect(await planning).toBe('planned');
      const placed = await placements(campaignId);
      expect(placed.size).toBe(60);
      expect([...placed.values()].every((n) => n === 1)).toBe(true);
    }
    expect(seen).toEqual({ urgent: [5], normal: [] });
  });

  it('writes a township no group joined in the last chunk, however small, before planning ends', async () => {
    // A second township of county A with 10 groups (below EARLY_WRITE_MIN), handed to the
    // planner first; then village A's 60 groups in two chunks, held before the second.
    for (const region of [
      { code: '440106002', name: '石牌街道', parentCode: TREE.countyA.code },
      { code: '440106002001', name: '石牌村', parentCode: '440106002' },
    ]) {
      const created = await w.t.request('POST', '/api/regions', w.t.adminToken, region);
      expect(created.statusCode, created.body).toBe(201);
    }
    const small = await wecomGroups(w, 10, '440106002001');
    const { campaignId, occurrence } = await runOf('小乡镇先写', TREE.countyA.code);
    const deps = engineDeps(w.t.ctx);
    const paused = gate();
    const order = [...small.map((g) => g.id), ...villageA.map((g) => g.id)];
    const selected: string[] = [];
    const ports: EnginePorts = Object.assign(Object.create(deps.ports), {
      async *selectGroups(scope: Scope, spec: AudienceSpec): AsyncIterable<PlannedGroup[]> {
        const all: PlannedGroup[] = [];
        for await (const groups of deps.ports.selectGroups(scope, spec)) all.push(...groups);
        // Groups of the earlier tests (a late one of village A) after these.
        const rank = (groupId: string) => (order.includes(groupId) ? order.indexOf(groupId) : order.length);
        all.sort((a, b) => rank(a.groupId) - rank(b.groupId));
        selected.push(...all.map((g) => g.groupId));
        yield all.slice(0, 10);
        yield all.slice(10, 40);
        await paused.wait();
        yield all.slice(40);
      },
    });
    const planning = new Planner({ ...deps, ports }).plan(occurrence, 'planner-stale');
    await paused.reached;
    // The small township got nothing in the second chunk: its 10 groups are a batch already.
    const early = await DeliveryBatchModel.find({ campaignId }, { townshipCode: 1, 'items.groupId': 1 }).lean();
    expect(early.filter((b) => b.townshipCode === '440106002').map((b) => b.items.length)).toEqual([10]);
    paused.open();
    expect(await planning).toBe('planned');
    const placed = await placements(campaignId);
    expect([...placed.keys()].sort()).toEqual([...selected].sort());
    expect([...placed.values()].every((n) => n === 1)).toBe(true);
  });
});

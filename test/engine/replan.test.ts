// A planner that dies part-way is followed by a re-plan that neither loses nor doubles a
// delivery, though groups were flagged or added in between.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineDeps } from '../../src/context.js';
import type { EnginePorts } from '../../src/engine/ports.js';
import { Planner } from '../../src/engine/planner.js';
import { OccurrenceModel } from '../../src/engine/model.js';
import { createDueOccurrences } from '../../src/engine/tick.js';
import { fixedClock } from '../../src/lib/clock.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

const clock = fixedClock('2026-11-29T02:00:00Z');

describe('re-planning after a planner died', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
  });
  afterAll(() => w.close());

  it('when a group is flagged and another added before the re-plan, delivers every group exactly once', async () => {
    const noticeId = await approvedNotice(w);
    const first = await wecomGroups(w, 3, TREE.villageA.code);
    const id = await approvedCampaign(w, {
      title: '重新计划',
      noticeId,
      audience: audienceOf([TREE.countyA.code]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await createDueOccurrences(
      w.t.ctx.campaigns,
      { timeZone: 'Asia/Shanghai', quietHours: { start: '22:00', end: '07:00' } },
      clock.now(),
    );
    // The first planner dies right after writing its first batch.
    const deps = engineDeps(w.t.ctx);
    const dying: EnginePorts = Object.assign(Object.create(deps.ports), {
      batchesWritten: async () => {
        throw new Error('killed');
      },
    });
    const [occurrence] = await OccurrenceModel.find({ campaignId: id }).lean();
    await expect(
      new Planner({ ...deps, ports: dying }).plan(occurrence!, 'dying-planner'),
    ).rejects.toThrow();
    expect(await DeliveryBatchModel.countDocuments({ campaignId: id })).toBe(1);
    // Meanwhile the first group is flagged and a new one joins the same village.
    await w.t.ctx.groups.flagGroup(first[0]!.id, '测试');
    const [late] = await wecomGroups(w, 1, TREE.villageA.code);
    clock.advance(6 * 60_000);
    await runUntilIdle(w);
    const items = (await DeliveryBatchModel.find({ campaignId: id }).lean()).flatMap((b) => b.items);
    const ids = items.map((i) => i.groupId).sort();
    expect(ids).toEqual([...first.map((g) => g.id), late!.id].sort());
    for (const group of [...first, late!]) expect(w.doubles.received({ robot: group.key })).toHaveLength(1);
  });
});

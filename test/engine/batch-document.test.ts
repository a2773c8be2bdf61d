// The planner builds its batch documents itself and inserts them through the driver
// (engine/planner.ts, newBatchDocument): what it writes must be exactly what mongoose's cast
// of the batch schema would write, every default and both timestamps included, so every
// reader (worker, retention, statistics, exports) sees the same documents as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  type DeliveryWorld,
  manualGroup,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';

const clock = fixedClock('2026-11-30T02:00:00Z');

describe('a planned batch document', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock });
  });
  afterAll(() => w.close());

  it('when the planner writes a batch, then it equals mongoose’s cast of itself (no default missing, no type uncast)', async () => {
    const groups = await wecomGroups(w, 4);
    const manual = await manualGroup(w, '村民群（手动转发）', { officer: { name: '王警官', phone: '13800000000' } });
    const noticeId = await approvedNotice(w, { title: '批次文档' });
    const campaignId = await approvedCampaign(w, {
      title: '批次文档',
      noticeId,
      audience: audienceOf([], [...groups.map((g) => g.id), manual]),
      schedule: { kind: 'now' },
      priority: 'normal',
    });
    await w.scheduler.tick();
    const stored = await DeliveryBatchModel.collection.find({ campaignId }).toArray();
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.reduce((n, batch) => n + (batch.items as unknown[]).length, 0)).toBe(5);
    for (const batch of stored) {
      const cast = new DeliveryBatchModel(batch).toObject({ depopulate: true, flattenMaps: false });
      expect(cast).toStrictEqual({ ...batch });
      expect(batch.createdAt).toBeInstanceOf(Date);
      expect(batch.updatedAt).toEqual(batch.createdAt);
      expect(await new DeliveryBatchModel(batch).validate()).toBeUndefined();
    }
  });
});

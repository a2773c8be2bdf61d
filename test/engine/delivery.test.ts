import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

const audience = (regions: string[]) => ({
  regions,
  tags: [],
  groups: [],
  excludeRegions: [],
  excludeTags: [],
  excludeGroups: [],
});

describe('a campaign sent now through WeCom robots', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld();
  });
  afterAll(() => w.close());

  it('posts the notice once to every group of the audience and records each delivery as sent', async () => {
    const noticeId = await approvedNotice(w, { title: '警惕冒充客服退款诈骗' });
    const groups = await wecomGroups(w, 7);
    const campaignId = await approvedCampaign(w, {
      title: '十一月防诈宣传',
      noticeId,
      audience: audience([TREE.countyA.code]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await runUntilIdle(w);

    for (const group of groups) {
      const received = w.doubles.received({ platform: 'wecom', robot: group.key });
      expect(received, group.key).toHaveLength(1);
      expect(JSON.stringify(received[0]!.body)).toContain('警惕冒充客服退款诈骗');
    }
    const batches = await DeliveryBatchModel.find({ campaignId }).lean();
    const items = batches.flatMap((b) => b.items);
    expect(items).toHaveLength(7);
    expect(items.every((i) => i.status === 'sent' && i.attempts === 1)).toBe(true);
    const sentMembers = groups.reduce((sum, g) => sum + g.memberCount, 0);
    expect(batches.reduce((sum, b) => sum + b.counts!.reachedMembers, 0)).toBe(sentMembers);
  });
});

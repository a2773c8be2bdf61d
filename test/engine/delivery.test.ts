import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  audienceOf,
  approvedNotice,
  manualGroup,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

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
      audience: audienceOf([TREE.countyA.code]),
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

describe('a campaign to a personal WeChat group (manual channel)', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld();
  });
  afterAll(() => w.close());

  it('gives the officer a task, and counts the delivery confirmed once the officer confirms through the signed link', async () => {
    const noticeId = await approvedNotice(w, { title: '夏季防溺水提醒' });
    const groupId = await manualGroup(w, '华工社区居民群', { memberCount: 480 });
    const campaignId = await approvedCampaign(w, {
      title: '防溺水',
      noticeId,
      audience: audienceOf([], [groupId]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await runUntilIdle(w);
    const [awaiting] = (await DeliveryBatchModel.find({ campaignId }).lean()).flatMap((b) => b.items);
    expect(awaiting!.status).toBe('awaiting');

    const tasks = (await w.t.request('GET', '/api/manual-tasks', w.t.adminToken)).json() as Array<{
      groupId: string;
      link: string;
      title: string;
      text: string | null;
    }>;
    const task = tasks.find((x) => x.groupId === groupId)!;
    expect(task.title).toContain('夏季防溺水提醒');
    expect(task.text).toContain('华工社区');
    // The link opens the console's phone page /task/<id>?sig=…, which confirms through the API.
    const link = new URL(task.link);
    expect(link.pathname).toMatch(/^\/task\/[0-9a-f]{24}$/);
    const confirmPath = `${link.pathname.replace(/^\/task\//, '/api/manual-tasks/')}/confirm${link.search}`;
    const confirm = await w.t.app.inject({ method: 'POST', url: confirmPath });
    expect(confirm.statusCode, confirm.body).toBe(200);

    await runUntilIdle(w);
    const batches = await DeliveryBatchModel.find({ campaignId }).lean();
    expect(batches[0]!.items[0]!.status).toBe('confirmed');
    expect(batches[0]!.counts!.reachedMembers).toBe(480);
  });
});

describe('progress of a campaign just approved', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld();
  });
  afterAll(() => w.close());

  it('is not finished before its run is planned, and is once every delivery is settled', async () => {
    const noticeId = await approvedNotice(w, { title: '进度' });
    await wecomGroups(w, 2);
    const id = await approvedCampaign(w, {
      title: '进度',
      noticeId,
      audience: audienceOf([TREE.countyA.code]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    const before = (await w.t.request('GET', `/api/campaigns/${id}/progress`, w.editor)).json();
    expect(before).toMatchObject({ total: 0, finished: false });
    await w.scheduler.tick();
    const planned = (await w.t.request('GET', `/api/campaigns/${id}/progress`, w.editor)).json();
    expect(planned).toMatchObject({ total: 2, queued: 2, finished: false });
    await runUntilIdle(w);
    const done = (await w.t.request('GET', `/api/campaigns/${id}/progress`, w.editor)).json();
    expect(done).toMatchObject({ total: 2, sent: 2, finished: true });
  });
});

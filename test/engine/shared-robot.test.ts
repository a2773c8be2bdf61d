// Two groups with one robot (issue 20, defect 15): the only uniqueness of a group is region
// + name, so the same robot can be saved twice (two villages of one chat, or a typo). A run
// posts into that chat once, and both groups count as reached: the second's delivery is
// recorded sent through the first, with the reason. Saving the robot a second time warns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import {
  type DeliveryWorld,
  approvedNotice,
  campaignItems,
  runUntilIdle,
  startDeliveryWorld,
  urgentNowCampaign,
} from '../helpers/delivery.js';
import { groupBody } from '../helpers/groups.js';
import { upload } from '../helpers/upload.js';
import { TREE } from '../helpers/regions.js';

const clock = fixedClock('2026-06-15T02:00:00.000Z');

describe('two groups with one robot', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    // A second township of county A: the two groups land in different batches.
    for (const region of [
      { code: '440106002', name: '石牌街道', parentCode: TREE.countyA.code },
      { code: '440106002001', name: '石牌村', parentCode: '440106002' },
    ]) {
      const created = await w.t.request('POST', '/api/regions', w.t.adminToken, region);
      expect(created.statusCode, created.body).toBe(201);
    }
    noticeId = await approvedNotice(w);
  });
  afterAll(() => w.close());

  const save = (body: Record<string, unknown>) => w.t.request('POST', '/api/groups', w.t.adminToken, groupBody(body));

  it('when a robot is saved for a second group, the answer warns and names the first', async () => {
    const key = 'shared-robot-warn-0001';
    const first = await save({ name: '华工社区平安群', regionCode: TREE.villageA.code, channel: { kind: 'wecom', key } });
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json().sameRobot).toEqual([]);
    const second = await save({ name: '松柏社区平安群', regionCode: TREE.villageB.code, channel: { kind: 'wecom', key } });
    expect(second.statusCode, second.body).toBe(201);
    expect(second.json().sameRobot).toEqual([
      expect.objectContaining({ id: first.json().id, name: '华工社区平安群', regionCode: TREE.villageA.code }),
    ]);
    expect(second.json().sameRobotWarning).toContain('华工社区平安群');
    // The credentials never come back, only the groups that share them.
    expect(second.body).not.toContain(key);
  });

  it('when a ledger names a robot twice, or one a saved group has, the import warns on those rows', async () => {
    const csv = Buffer.from(
      [
        '群名称,村代码,群人数,渠道,机器人地址',
        '华工社区二群,440106001001,10,企业微信,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=shared-robot-sheet-1',
        '华工社区三群,440106001001,10,企业微信,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=shared-robot-sheet-1',
        '华工社区四群,440106001001,10,企业微信,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=shared-robot-warn-0001',
        '华工社区五群,440106001001,10,企业微信,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=shared-robot-sheet-2',
      ].join('\n'),
    );
    const report = (await upload(w.t, '/api/groups/import?dryRun=true', w.t.adminToken, 'a.csv', csv)).json();
    const sameRobot = report.warnings.filter((warning: { cause?: string }) => warning.cause === 'same-robot');
    expect(sameRobot.map((warning: { row: number; message: string }) => [warning.row, warning.message])).toEqual([
      [3, expect.stringContaining('第 2 行')],
      [4, expect.stringContaining('华工社区平安群')],
    ]);
  });

  it('when two groups of a run share a robot, the chat gets one post and both groups count as reached', async () => {
    const key = 'shared-robot-send-0001';
    w.doubles.addRobot({ platform: 'wecom', key });
    const ids: string[] = [];
    for (const [name, regionCode] of [
      ['华工社区一群', TREE.villageA.code],
      ['石牌村一群', '440106002001'],
    ] as const) {
      const created = await save({ name, regionCode, channel: { kind: 'wecom', key }, memberCount: 80 });
      expect(created.statusCode, created.body).toBe(201);
      ids.push(created.json().id);
    }
    const campaignId = await urgentNowCampaign(w, noticeId, ids, '同一机器人');
    for (let i = 0; i < 5; i++) {
      await runUntilIdle(w);
      clock.advance(6_000);
    }
    expect(w.doubles.received({ robot: key })).toHaveLength(1);
    const items = await campaignItems(campaignId);
    expect(items.map((i) => i.status)).toEqual(['sent', 'sent']);
    const follower = items.find((i) => i.via)!;
    expect(follower.lastError).toMatch(/同一机器人.*已随其发出一次/);
    const progress = (await w.t.request('GET', `/api/campaigns/${campaignId}/progress`, w.t.adminToken)).json();
    expect(progress).toMatchObject({ total: 2, sent: 2, personTimes: 160, finished: true });
  });
});

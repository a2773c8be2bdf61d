// Telling officers of their manual tasks (SPEC §3.4): one digest per officer per run, a
// reminder after the first period, the superior told after the second, nothing sent to an
// officer without a robot — and every step visible on the campaign page. Fixed clock, the
// real engine and database, the WeCom double as the officers' station robots.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { StepCountModel } from '../../src/notifications/step-counts.js';
import { ADMIN_PASSWORD } from '../helpers/app.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  runUntilIdle,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

// 10:00 in Shanghai: outside the default quiet hours (22:00–07:00).
const clock = fixedClock('2026-06-01T02:00:00.000Z');
const MINUTE = 60_000;

interface Step {
  kind: string;
  officerName: string | null;
  recipientName: string | null;
  groupNames: string[];
  status: string;
  detail: string | null;
}

/** A personal WeChat group (manual channel) of the given officer. */
async function manualGroupOf(
  w: DeliveryWorld,
  name: string,
  officer: { name: string; phone: string },
): Promise<string> {
  const created = await w.t.request('POST', '/api/groups', w.t.adminToken, {
    name,
    regionCode: TREE.villageA.code,
    channel: { kind: 'manual' },
    memberCount: 200,
    officer,
  });
  expect(created.statusCode, created.body).toBe(201);
  return created.json().id;
}

describe('officers told of their manual tasks, then reminded, then their superior', () => {
  let w: DeliveryWorld;
  const officerRobot = 'station-robot-officer-wang-0001';
  const chiefRobot = 'station-robot-chief-zhao-00001';

  async function user(displayName: string, role: string, phone: string): Promise<string> {
    const created = await w.t.request('POST', '/api/users', w.t.adminToken, {
      username: `u${phone}`,
      displayName,
      password: `${ADMIN_PASSWORD}-${phone}`,
      role,
      regionCode: TREE.countyA.code,
      phone,
    });
    expect(created.statusCode, created.body).toBe(201);
    return created.json().id;
  }

  const manualGroup = (name: string, officer: { name: string; phone: string }) => manualGroupOf(w, name, officer);

  const postsTo = (robot: string) =>
    w.doubles.received({ platform: 'wecom', robot }).map((m) => (m.body.text as { content: string }).content);

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock });
    w.doubles.addRobot({ platform: 'wecom', key: officerRobot });
    w.doubles.addRobot({ platform: 'wecom', key: chiefRobot });
  });
  afterAll(() => w.close());

  it('sends one digest per officer per run, reminds after the first period and tells the superior after the second', async () => {
    const chief = await user('赵所长', 'officer', '13900000009');
    const wang = await user('王警官', 'officer', '13900000001');
    await user('李警官', 'officer', '13900000002'); // no robot configured
    for (const [id, key, superiorUserId] of [
      [wang, officerRobot, chief],
      [chief, chiefRobot, null],
    ] as const) {
      const set = await w.t.request('PUT', `/api/users/${id}/notify-robot`, w.t.adminToken, {
        channel: { kind: 'wecom', webhookUrl: `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${key}` },
        superiorUserId,
      });
      expect(set.statusCode, set.body).toBe(200);
      expect(set.body).not.toContain(key);
    }
    const wangGroups = [
      await manualGroup('东村一组群', { name: '王警官', phone: '13900000001' }),
      await manualGroup('东村二组群', { name: '王警官', phone: '13900000001' }),
      await manualGroup('东村三组群', { name: '王警官', phone: '13900000001' }),
    ];
    const liGroup = await manualGroup('西村群', { name: '李警官', phone: '13900000002' });
    const noAccountGroup = await manualGroup('南村群', { name: '孙辅警', phone: '13900000003' });
    const noticeId = await approvedNotice(w, { title: '防范电信诈骗' });
    const campaignId = await approvedCampaign(w, {
      title: '六月防诈宣传',
      noticeId,
      audience: audienceOf([], [...wangGroups, liGroup, noAccountGroup]),
      schedule: { kind: 'now' },
    });
    await runUntilIdle(w);

    // Tasks just created: the officer's list may still grow, so nothing is sent yet.
    expect(await w.t.ctx.notifier.tick()).toBe(0);
    clock.advance(MINUTE + 1);
    expect(await w.t.ctx.notifier.tick()).toBe(3);
    const digests = postsTo(officerRobot);
    expect(digests).toHaveLength(1);
    expect(digests[0]).toContain('您有 3 个群需要转发');
    for (const name of ['东村一组群', '东村二组群', '东村三组群']) expect(digests[0]).toContain(name);
    expect(digests[0]!.match(/sig=/g)).toHaveLength(3);

    // A second scheduler pass (or a second scheduler) sends nothing more.
    clock.advance(10 * MINUTE);
    expect(await w.t.ctx.notifier.tick()).toBe(0);
    expect(postsTo(officerRobot)).toHaveLength(1);

    // The officer confirms one group; the reminder lists only the other two.
    const tasks = (await w.t.request('GET', '/api/manual-tasks', w.t.adminToken)).json() as Array<{
      id: string;
      groupId: string;
      link: string;
    }>;
    const first = tasks.find((task) => task.groupId === wangGroups[0])!;
    const signed = new URL(first.link).searchParams;
    const { firstTime } = await w.t.ctx.manualTasks.confirm(first.id, {
      exp: Number(signed.get('exp')),
      sig: signed.get('sig')!,
    });
    expect(firstTime).toBe(true);

    clock.advance(110 * MINUTE); // 2 h after the digest
    expect(await w.t.ctx.notifier.tick()).toBe(3);
    const reminder = postsTo(officerRobot)[1]!;
    expect(reminder).toContain('以下 2 个群尚未确认转发');
    expect(reminder).not.toContain('东村一组群');
    expect(postsTo(chiefRobot)).toHaveLength(0);

    clock.advance(120 * MINUTE);
    expect(await w.t.ctx.notifier.tick()).toBe(3); // 王警官's chief told; the other two recorded as unreachable
    const escalation = postsTo(chiefRobot);
    expect(escalation).toHaveLength(1);
    expect(escalation[0]).toContain('王警官负责的以下 2 个群');
    expect(escalation[0]).toContain('东村二组群');
    expect(escalation[0]).not.toContain('sig=');
    expect(postsTo(officerRobot)).toHaveLength(2);

    clock.advance(24 * 60 * MINUTE);
    expect(await w.t.ctx.notifier.tick()).toBe(0);

    const viewer = await w.t.login('admin', ADMIN_PASSWORD); // a day later: a fresh session
    const listed = await w.t.request('GET', `/api/campaigns/${campaignId}/notifications`, viewer);
    expect(listed.statusCode, listed.body).toBe(200);
    const steps = listed.json() as Step[];
    const summary = steps.map((s) => `${s.kind}:${s.officerName}:${s.status}`).sort();
    expect(summary).toEqual(
      [
        'digest:王警官:sent',
        'reminder:王警官:sent',
        'escalation:王警官:sent',
        'digest:李警官:no_robot',
        'reminder:李警官:no_robot',
        'escalation:李警官:no_superior',
        'digest:孙辅警:no_robot',
        'reminder:孙辅警:no_robot',
        'escalation:孙辅警:no_robot',
      ].sort(),
    );
    // The figures above the list, counted by the notifier as it wrote each step (step-counts.ts).
    const counted = await w.t.request('GET', `/api/campaigns/${campaignId}/notifications/summary`, viewer);
    expect(counted.json()).toEqual({ total: 9, kinds: { digest: 3, reminder: 3, escalation: 3, withdrawn: 0 } });
    expect(await StepCountModel.findById(campaignId).lean()).toMatchObject({ upTo: 9, open: [] });
    const li = steps.find((s) => s.kind === 'digest' && s.officerName === '李警官')!;
    expect(li.detail).toContain('未设置通知机器人');
    expect(li.groupNames).toEqual(['西村群']);
    expect(steps.find((s) => s.kind === 'digest' && s.officerName === '孙辅警')!.detail).toContain('没有系统账号');
  });
});

describe('quiet hours and urgent runs', () => {
  const night = fixedClock('2026-06-01T15:00:00.000Z'); // 23:00 in Shanghai
  let w: DeliveryWorld;
  const robot = 'station-robot-night-000000001';

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock: night });
    w.doubles.addRobot({ platform: 'wecom', key: robot });
  });
  afterAll(() => w.close());

  it('holds a normal run’s digest until the end of quiet hours, sends an urgent one at once and reminds it after 30 minutes', async () => {
    const created = await w.t.request('POST', '/api/users', w.t.adminToken, {
      username: 'nightofficer',
      displayName: '周警官',
      password: 'night-officer-password',
      role: 'officer',
      regionCode: TREE.countyA.code,
      phone: '13700000001',
    });
    const officerId = created.json().id;
    await w.t.request('PUT', `/api/users/${officerId}/notify-robot`, w.t.adminToken, {
      channel: { kind: 'wecom', key: robot },
    });
    const groupId = await manualGroupOf(w, '北村群', { name: '周警官', phone: '13700000001' });
    const normalNotice = await approvedNotice(w, { title: '夜间普通通知' });
    const urgentNotice = await approvedNotice(w, { title: '紧急协查' });
    await approvedCampaign(w, {
      title: '普通推送',
      noticeId: normalNotice,
      audience: audienceOf([], [groupId]),
      schedule: { kind: 'now' },
    });
    await approvedCampaign(w, {
      title: '紧急推送',
      noticeId: urgentNotice,
      audience: audienceOf([], [groupId]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await runUntilIdle(w);
    night.advance(MINUTE + 1);
    await w.t.ctx.notifier.tick();
    const posts = () =>
      w.doubles.received({ platform: 'wecom', robot }).map((m) => (m.body.text as { content: string }).content);
    // The urgent campaign's run is delivered at once; the normal one waits for 07:00 anyway.
    const urgentDigests = posts().filter((p) => p.includes('紧急推送'));
    expect(urgentDigests).toHaveLength(1);
    expect(posts().some((p) => p.includes('普通推送'))).toBe(false);

    night.advance(30 * MINUTE);
    await w.t.ctx.notifier.tick();
    expect(posts().filter((p) => p.includes('【提醒】紧急推送'))).toHaveLength(1);
    expect(posts().some((p) => p.includes('普通推送'))).toBe(false);
  });
});

// Officer tasks follow their campaign and notice (issue 20, defect 1 and 10): a retraction,
// cancel or case outcome withdraws the open tasks at once (link and picture 410, off the open
// list, never reminded or escalated, the officer told once); a pause holds them (已暂停, not
// chased) and a resume makes them live again; each new set of tasks of a run gets its own
// digest. Fixed clock, the real engine and database, the WeCom double as station robots.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  runUntilIdle,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { officerGroups, officerPassword, officerWithRobot } from '../helpers/officers.js';

// 10:00 in Shanghai: outside the default quiet hours.
const clock = fixedClock('2026-06-03T02:00:00.000Z');
const MINUTE = 60_000;

interface Task {
  id: string;
  groupId: string;
  groupName: string;
  state: string;
  link: string | null;
}

describe('stops reach officer tasks', () => {
  let w: DeliveryWorld;
  let officerSeq = 0;

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
  });
  afterAll(() => w.close());

  /** An officer with an account, a station robot and a superior with one; returns the robots' keys. */
  async function officer(name: string) {
    officerSeq += 1;
    const phone = `1380000${String(officerSeq).padStart(4, '0')}`;
    const chiefPhone = `1370000${String(officerSeq).padStart(4, '0')}`;
    const robot = `station-${officerSeq}-${Math.random().toString(36).slice(2, 10)}`;
    const chiefRobot = `chief-${officerSeq}-${Math.random().toString(36).slice(2, 10)}`;
    const chief = { name: `${name}的所长`, phone: chiefPhone, robot: chiefRobot, superiorUserId: null, activate: true };
    const superiorUserId = await officerWithRobot(w, chief);
    await officerWithRobot(w, { name, phone, robot, superiorUserId, activate: true });
    const token = await w.t.login(`u${phone}`, officerPassword(phone));
    return { name, phone, robot, chiefRobot, token };
  }

  const manualGroups = (prefix: string, count: number, o: { name: string; phone: string }) =>
    officerGroups(w, o, prefix, count);

  const posts = (robot: string) =>
    w.doubles.received({ platform: 'wecom', robot }).map((m) => (m.body.text as { content: string }).content);

  const myOpenTasks = async (token: string) => {
    const listed = await w.t.request('GET', '/api/manual-tasks?mine=true&open=true', token);
    expect(listed.statusCode, listed.body).toBe(200);
    return listed.json() as Task[];
  };

  /** The link as the officer's phone opens it: the page, the API view and the picture. */
  const openLink = async (link: string, tryConfirm = false) => {
    const url = new URL(link);
    const api = url.pathname.replace(/^\/task\//, '/api/manual-tasks/');
    return {
      page: await w.t.request('GET', `${url.pathname}${url.search}`),
      view: await w.t.request('GET', `${api}${url.search}`),
      image: await w.t.request('GET', `${api}/image${url.search}`),
      confirm: tryConfirm ? await w.t.request('POST', `${api}/confirm${url.search}`) : null,
    };
  };

  /** Each test starts at 10:00 in Shanghai of a later day (outside quiet hours). */
  const nextMorning = () => {
    const now = clock.now().getTime();
    const day = 24 * 3600_000;
    const target = Math.floor(now / day) * day + day + 2 * 3600_000;
    clock.advance(target - now);
  };

  async function campaignWithDigest(title: string, groups: string[], cardStyle = 'rich') {
    nextMorning();
    const noticeId = await approvedNotice(w, { title });
    const campaignId = await approvedCampaign(w, {
      title,
      noticeId,
      audience: audienceOf([], groups),
      schedule: { kind: 'now' },
      cardStyle,
    });
    await runUntilIdle(w);
    clock.advance(MINUTE + 1);
    await w.t.ctx.notifier.tick();
    return { noticeId, campaignId };
  }

  it('when a campaign is retracted, its open tasks answer 410, leave the open list, are never reminded or escalated, and the officer is told once to forward the correction', async () => {
    const wang = await officer('王警官');
    const groups = await manualGroups('东村', 3, wang);
    const { campaignId } = await campaignWithDigest('协查通报：嫌疑人甲', groups);
    expect(posts(wang.robot)).toHaveLength(1); // the digest
    const before = await myOpenTasks(wang.token);
    expect(before).toHaveLength(3);
    expect(before.every((task) => task.state === 'open' && task.link)).toBe(true);
    const live = new URL(before[0]!.link!);
    const liveView = await w.t.request(
      'GET',
      `${live.pathname.replace(/^\/task\//, '/api/manual-tasks/')}${live.search}`,
    );
    expect(liveView.statusCode, liveView.body).toBe(200);
    expect(liveView.json().link).toBeNull(); // a public view never hands out a fresh link
    expect((await w.t.request('GET', `${live.pathname}${live.search}`)).statusCode).toBe(200); // the console page

    const correction = await approvedNotice(w, { title: '更正：协查通报有误' });
    const retract = await w.t.request('POST', `/api/campaigns/${campaignId}/retract`, w.editor, {
      followUpNoticeId: correction,
    });
    expect(retract.statusCode, retract.body).toBe(200);

    // At once, before any notifier pass: every link and picture answers 410 with the reason.
    for (const task of before.slice(1)) {
      const opened = await openLink(task.link!, true);
      expect(opened.page.statusCode).toBe(410);
      expect(opened.page.body).toContain('已撤回，请勿转发');
      expect(opened.view.statusCode).toBe(410);
      expect(opened.view.json().message).toContain('已撤回');
      expect(opened.image.statusCode).toBe(410);
      expect(opened.confirm?.statusCode).toBe(410);
    }
    expect(await myOpenTasks(wang.token)).toHaveLength(0);

    // The officer is told once; two hours on, nothing was reminded or escalated.
    await w.t.ctx.notifier.tick();
    for (let minutes = 0; minutes < 240; minutes += 15) {
      clock.advance(15 * MINUTE);
      await w.t.ctx.notifier.tick();
    }
    const told = posts(wang.robot);
    expect(told).toHaveLength(2);
    expect(told[1]).toContain('已撤回，请勿转发');
    expect(told[1]).toContain('如已转发，请在群内转发更正通知');
    for (const name of ['东村1组群', '东村2组群', '东村3组群']) expect(told[1]).toContain(name);
    expect(told[1]).not.toContain('sig=');
    expect(told.some((p) => p.includes('【提醒】'))).toBe(false);
    expect(posts(wang.chiefRobot)).toHaveLength(0);
    // Still 410 after the tasks were withdrawn for good (their links retired).
    expect((await openLink(before[0]!.link!)).view.statusCode).toBe(410);
    const steps = (await w.t.request('GET', `/api/campaigns/${campaignId}/notifications`, w.t.adminToken)).json() as {
      kind: string;
      status: string;
    }[];
    expect(steps.map((s) => `${s.kind}:${s.status}`).sort()).toEqual(['digest:sent', 'withdrawn:sent']);

    // The correction's tasks reach the officer with their own digest.
    const followUp = retract.json().followUp as { id: string };
    expect((await w.t.request('POST', `/api/campaigns/${followUp.id}/approve`, w.reviewer)).statusCode).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);
    clock.advance(MINUTE + 1);
    await w.t.ctx.notifier.tick();
    const correctionDigest = posts(wang.robot)[2]!;
    expect(correctionDigest).toContain('您有 3 个群需要转发');
    expect((await myOpenTasks(wang.token)).every((task) => task.state === 'open')).toBe(true);
  });

  it('when a campaign is cancelled, its open tasks are withdrawn and the officer is told once', async () => {
    const li = await officer('李警官');
    const groups = await manualGroups('西村', 2, li);
    const { campaignId } = await campaignWithDigest('十二月防诈宣传', groups);
    const tasks = await myOpenTasks(li.token);
    expect(tasks).toHaveLength(2);
    expect((await w.t.request('POST', `/api/campaigns/${campaignId}/cancel`, w.editor)).statusCode).toBe(200);
    const opened = await openLink(tasks[0]!.link!);
    expect(opened.view.statusCode).toBe(410);
    expect(opened.view.json().message).toContain('已取消');
    expect(await myOpenTasks(li.token)).toHaveLength(0);
    for (let i = 0; i < 12; i++) {
      clock.advance(15 * MINUTE);
      await w.t.ctx.notifier.tick();
    }
    const told = posts(li.robot);
    expect(told).toHaveLength(2);
    expect(told[1]).toContain('已撤回，请勿转发');
    expect(told[1]).not.toContain('更正通知');
    expect(posts(li.chiefRobot)).toHaveLength(0);
  });

  it('when a campaign is paused, its tasks show 已暂停 and are not chased; resumed, they are live again', async () => {
    const zhao = await officer('赵警官');
    const groups = await manualGroups('北村', 2, zhao);
    // A completed campaign whose tasks are still open can be paused and resumed.
    const { campaignId } = await campaignWithDigest('防溺水提醒', groups);
    expect(posts(zhao.robot)).toHaveLength(1);
    const paused = await w.t.request('POST', `/api/campaigns/${campaignId}/pause`, w.editor);
    expect(paused.statusCode, paused.body).toBe(200);
    const held = await myOpenTasks(zhao.token);
    expect(held.map((task) => task.state)).toEqual(['paused', 'paused']);
    const opened = await openLink(held[0]!.link!);
    expect(opened.view.statusCode).toBe(200);
    expect(opened.view.json().state).toBe('paused');
    for (let i = 0; i < 20; i++) {
      clock.advance(15 * MINUTE);
      await w.t.ctx.notifier.tick();
    }
    expect(posts(zhao.robot)).toHaveLength(1); // no reminder while paused
    expect(posts(zhao.chiefRobot)).toHaveLength(0);
    expect((await w.t.request('POST', `/api/campaigns/${campaignId}/resume`, w.editor)).statusCode).toBe(200);
    expect((await myOpenTasks(zhao.token)).map((task) => task.state)).toEqual(['open', 'open']);
    await w.t.ctx.notifier.tick();
    expect(posts(zhao.robot).filter((p) => p.includes('【提醒】'))).toHaveLength(1);
  });

  it('when more tasks of a run arrive after the digest, they get a digest of their own before any reminder', async () => {
    const sun = await officer('孙警官');
    const groups = await manualGroups('南村', 3, sun);
    const { campaignId } = await campaignWithDigest('防范养老诈骗', groups.slice(0, 2));
    expect(posts(sun.robot)).toHaveLength(1);
    expect(posts(sun.robot)[0]).toContain('您有 2 个群需要转发');
    // A later part of the same run (a take-over, a retry, a part released at 07:00) makes one more task.
    const [existing] = await myOpenTasks(sun.token);
    const { ManualTaskModel } = await import('../../src/channels/manual/model.js');
    const doc = await ManualTaskModel.findById(existing!.id).lean();
    const runId = doc!.taskKey.slice(0, doc!.taskKey.lastIndexOf('/'));
    expect(runId.startsWith(`${campaignId}@`)).toBe(true);
    clock.advance(10 * MINUTE);
    await w.t.ctx.manualTasks.createTask(
      {
        groupId: groups[2]!,
        groupName: '南村3组群',
        credentials: { kind: 'manual' } as never,
        regionPath: doc!.regionPath,
        officer: { name: sun.name, phone: sun.phone },
      },
      {
        type: 'text',
        card: {
          format: 'text',
          title: '防范养老诈骗',
          content: '请转发',
          url: 'https://example.cn/n/1',
          pictureUrl: null,
        },
      },
      `${runId}/${groups[2]}`,
    );
    await w.t.ctx.notifier.tick(); // still settling: nothing yet
    expect(posts(sun.robot)).toHaveLength(1);
    clock.advance(MINUTE + 1);
    await w.t.ctx.notifier.tick();
    const second = posts(sun.robot)[1];
    expect(second).toBeDefined();
    expect(second).toContain('【待转发】');
    expect(second).toContain('您有 1 个群需要转发');
    expect(second).toContain('南村3组群');
    expect(second).not.toContain('南村1组群');
    // The reminder comes later, for all three.
    clock.advance(120 * MINUTE);
    await w.t.ctx.notifier.tick();
    expect(posts(sun.robot)[2]).toContain('以下 3 个群尚未确认转发');
  });
});

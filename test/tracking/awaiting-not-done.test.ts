// Awaiting is not done (issue 20, defect 13): a run whose officers still hold tasks is not
// finished, and progress says how many groups they have yet to post to; once every task is
// confirmed the run is finished.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  manualGroup,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

const clock = fixedClock('2026-06-15T02:00:00.000Z');

describe('progress while officers hold tasks', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
  });
  afterAll(() => w.close());

  it('when officers have yet to post to groups, then the run is not finished and progress says how many', async () => {
    const [robotGroup] = await wecomGroups(w, 1);
    const officer = { name: '王警官', phone: '13900000001' };
    const manual = [await manualGroup(w, '东村群', { officer }), await manualGroup(w, '西村群', { officer })];
    const noticeId = await approvedNotice(w, { title: '防诈提醒' });
    const campaignId = await approvedCampaign(w, {
      title: '防诈提醒',
      noticeId,
      audience: audienceOf([], [robotGroup!.id, ...manual]),
      schedule: { kind: 'now' },
    });
    await runUntilIdle(w);
    const progress = async () =>
      (await w.t.request('GET', `/api/campaigns/${campaignId}/progress`, w.t.adminToken)).json();
    const before = await progress();
    expect(before).toMatchObject({ total: 3, sent: 1, awaiting: 2, awaitingOfficers: 2, finished: false });
    // The monthly table (月度统计表) says it too: 待民警转发 2, counted as not yet sent.
    const monthly = async () => {
      await w.t.ctx.tracking.rollups.refreshAll('test');
      return (await w.t.request('GET', '/api/reach/monthly?period=2026-06', w.t.adminToken)).json();
    };
    expect((await monthly()).total).toMatchObject({ messages: 1, awaitingOfficers: 2 });

    for (const task of (await w.t.request('GET', '/api/manual-tasks', w.t.adminToken)).json() as { link: string }[]) {
      const url = new URL(task.link);
      const confirmed = await w.t.request(
        'POST',
        `${url.pathname.replace('/task/', '/api/manual-tasks/')}/confirm${url.search}`,
      );
      expect(confirmed.statusCode, confirmed.body).toBe(200);
    }
    await w.scheduler.sweep();
    await runUntilIdle(w);
    expect(await progress()).toMatchObject({ confirmed: 2, awaiting: 0, awaitingOfficers: 0, finished: true });
    const after = await monthly();
    expect(after.total).toMatchObject({ messages: 3, awaitingOfficers: 0 });
    expect(after.categories[0]).toMatchObject({ awaitingOfficers: 0 });
  });

  it('counts only live open tasks in the monthly 待民警转发: not withdrawn ones, not expired ones', async () => {
    const officer = { name: '李警官', phone: '13900000002' };
    const manualGroups = async (names: string[]) => {
      const ids: string[] = [];
      for (const name of names) ids.push(await manualGroup(w, name, { officer }));
      return ids;
    };
    const noticeId = await approvedNotice(w, { title: '养老诈骗提醒' });
    const send = async (title: string, groups: string[]) => {
      const id = await approvedCampaign(w, { title, noticeId, audience: audienceOf([], groups), schedule: { kind: 'now' } });
      await runUntilIdle(w);
      return id;
    };
    const cancelled = await send('将取消', await manualGroups(['南村群', '北村群']));
    await send('仍有效', await manualGroups(['中村群']));
    const cancel = await w.t.request('POST', `/api/campaigns/${cancelled}/cancel`, w.editor);
    expect(cancel.statusCode, cancel.body).toBe(200);
    await runUntilIdle(w);

    const monthly = async () => {
      await w.t.ctx.tracking.rollups.refreshAll('test');
      return (await w.t.request('GET', '/api/reach/monthly?period=2026-06', w.t.adminToken)).json();
    };
    // Two tasks of the cancelled campaign are withdrawn: one task is still to forward.
    const now = await monthly();
    expect(now.total).toMatchObject({ awaitingOfficers: 1 });
    expect(now.rows.reduce((n: number, r: { awaitingOfficers: number }) => n + r.awaitingOfficers, 0)).toBe(1);
    expect(now.categories.reduce((n: number, c: { awaitingOfficers: number }) => n + c.awaitingOfficers, 0)).toBe(1);
    // Nine days on, the live one has expired too (tasks expire a week after their run).
    clock.advance(9 * 24 * 3600_000);
    const later = await monthly();
    expect(later.total).toMatchObject({ awaitingOfficers: 0 });
    expect(later.rows.every((r: { awaitingOfficers: number }) => r.awaitingOfficers === 0)).toBe(true);
  });
});

// A case outcome says what was chosen and reaches the officers (issue 20, defects 14 and 1):
// 已抓获 drafts a follow-up titled 【已抓获】 (not 【已破案】); the officer's open task of the
// original is withdrawn at once; the follow-up's forwarded text carries its title, the
// number to call and the link, never 请拨打下方电话 with no number below.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvedCampaign, audienceOf, runUntilIdle } from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';
import { type WantedWorld, startWantedWorld } from '../residents/world.js';

interface Task {
  id: string;
  title: string;
  text: string | null;
  state: string;
  link: string | null;
}

describe('a case outcome says what was chosen', () => {
  let w: WantedWorld;
  let manualGroupId: string;

  beforeAll(async () => {
    w = await startWantedWorld();
    const group = await w.t.request('POST', '/api/groups', w.t.adminToken, {
      name: '华工社区居民群',
      regionCode: TREE.villageA.code,
      channel: { kind: 'manual' },
      memberCount: 300,
      officer: { name: '陈警官', phone: '13912345678' },
    });
    expect(group.statusCode, group.body).toBe(201);
    manualGroupId = group.json().id;
    await approvedCampaign(w, {
      title: '协查（人工转发）',
      noticeId: w.noticeId,
      audience: audienceOf([], [manualGroupId]),
      schedule: { kind: 'now' },
    });
    await runUntilIdle(w);
  });
  afterAll(() => w.close());

  const tasks = async () => (await w.t.request('GET', '/api/manual-tasks?limit=500', w.t.adminToken)).json() as Task[];

  it('when 已抓获 is chosen, the follow-up is titled 【已抓获】, the open task is withdrawn, and the forwarded text names the number and the link', async () => {
    const [original] = await tasks();
    expect(original?.state).toBe('open');
    const solved = await w.t.request('POST', `/api/cases/${w.noticeId}/solve`, w.editor, { kind: 'caught' });
    expect(solved.statusCode, solved.body).toBe(200);
    const outcome = solved.json().outcomes.find((o: { kind: string }) => o.kind === 'caught');
    const campaign = await w.t.request('GET', `/api/campaigns/${outcome.followUpCampaignId}`, w.t.adminToken);
    expect(campaign.json().title).toMatch(/^【已抓获】/);
    expect(campaign.json().title).not.toContain('已破案');

    // The original's task is withdrawn the moment the case is closed.
    const url = new URL(original!.link!);
    const view = await w.t.request('GET', `${url.pathname.replace(/^\/task\//, '/api/manual-tasks/')}${url.search}`);
    expect(view.statusCode).toBe(410);
    expect(view.json().message).toContain('结案');

    const notice = await w.t.request('POST', `/api/notices/${outcome.followUpNoticeId}/approve`, w.reviewer, {});
    expect(notice.statusCode, notice.body).toBe(200);
    const approved = await w.t.request('POST', `/api/campaigns/${outcome.followUpCampaignId}/approve`, w.reviewer);
    expect(approved.statusCode, approved.body).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);
    const followUp = (await tasks()).find((task) => task.id !== original!.id && task.state === 'open');
    expect(followUp, JSON.stringify(await tasks())).toBeDefined();
    const text = followUp!.text ?? '';
    expect(text).toContain('已抓获');
    expect(text).toMatch(/https?:\/\/\S+/);
    expect(text).not.toContain('请拨打下方电话');
    const hotline = (await w.t.request('GET', `/api/notices/${w.noticeId}`, w.t.adminToken)).json().content.hotline;
    expect(text.replace(/\s/g, '')).toContain(String(hotline).replace(/\s/g, ''));
  });

  it('while the officer has yet to post the follow-up, the case says 待转发 with the number of groups, not 已发送', async () => {
    const caseOf = async () =>
      ((await w.t.request('GET', '/api/cases', w.t.adminToken)).json().cases as { noticeId: string; outcomes: Record<string, unknown>[] }[])
        .find((c) => c.noticeId === w.noticeId)!
        .outcomes.find((o) => o.kind === 'caught')!;
    // The follow-up's only group is the officer's: its run is over, its task open.
    expect(await caseOf()).toMatchObject({ followUpStatus: 'completed', followUpAwaitingOfficers: 1 });
    const open = (await tasks()).find((task) => task.state === 'open')!;
    const url = new URL(open.link!);
    const confirmed = await w.t.request('POST', `${url.pathname.replace('/task/', '/api/manual-tasks/')}/confirm${url.search}`);
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    await w.scheduler.sweep();
    await runUntilIdle(w);
    expect(await caseOf()).toMatchObject({ followUpStatus: 'completed', followUpAwaitingOfficers: 0 });
  });
});

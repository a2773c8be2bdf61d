// Issue 20, defects 3, 4, 5 and 7, and the lifecycle table's `actions`: each a behaviour that
// failed on the code before (fixed clock, the real database, the robot doubles).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignModel } from '../../src/campaigns/model.js';
import type { CampaignService } from '../../src/campaigns/service.js';
import { OccurrenceModel } from '../../src/engine/model.js';
import { createDueOccurrences } from '../../src/engine/tick.js';
import { fixedClock } from '../../src/lib/clock.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  campaignItems,
  type DeliveryWorld,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { WANTED } from '../helpers/notices.js';
import { TREE } from '../helpers/regions.js';

// 10:00 Beijing time.
const clock = fixedClock('2026-11-29T02:00:00Z');

describe('campaign lifecycle', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
  });
  afterAll(() => w.close());

  const body = (noticeId: string, groups: string[], title: string, schedule: object = { kind: 'now' }) => ({
    title,
    noticeId,
    audience: audienceOf([], groups),
    schedule,
    priority: 'urgent',
  });

  it('keeps a paused campaign paused through an edit and its approval (defect 7)', async () => {
    const noticeId = await approvedNotice(w, { title: '暂停后修改' });
    const groups = await wecomGroups(w, 2);
    const schedule = { kind: 'cron', cron: '0 10 * * *', endAt: '2026-12-31T00:00:00Z' };
    const id = await approvedCampaign(
      w,
      body(
        noticeId,
        groups.map((g) => g.id),
        '每日',
        schedule,
      ),
    );
    expect((await w.t.request('POST', `/api/campaigns/${id}/pause`, w.editor)).statusCode).toBe(200);
    const edited = await w.t.request(
      'PUT',
      `/api/campaigns/${id}`,
      w.editor,
      body(
        noticeId,
        groups.map((g) => g.id),
        '每日（改）',
        schedule,
      ),
    );
    expect(edited.statusCode, edited.body).toBe(200);
    expect(edited.json().status).toBe('in_review');
    const approved = await w.t.request('POST', `/api/campaigns/${id}/approve`, w.reviewer);
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json().status).toBe('paused');
    clock.advance(24 * 60 * 60_000);
    await runUntilIdle(w);
    expect(await OccurrenceModel.countDocuments({ campaignId: id })).toBe(0);
    expect((await w.t.request('POST', `/api/campaigns/${id}/resume`, w.editor)).json().status).toBe('approved');
  });

  it('never runs a one-off twice when an edit lands between the tick’s read and its advance (defect 5)', async () => {
    const noticeId = await approvedNotice(w, { title: '一次性' });
    const groups = await wecomGroups(w, 2);
    const ids = groups.map((g) => g.id);
    const id = await approvedCampaign(w, body(noticeId, ids, '立即发送'));
    const campaigns = w.t.ctx.campaigns;
    // The tick read the campaign; the edit lands before it creates the run and advances past it.
    const racing = Object.assign(Object.create(campaigns) as CampaignService, {
      dueForRun: async (now: Date) => {
        const due = await campaigns.dueForRun(now);
        const edit = await w.t.request('PUT', `/api/campaigns/${id}`, w.editor, body(noticeId, ids, '立即发送（改）'));
        expect(edit.statusCode, edit.body).toBe(200);
        return due;
      },
    });
    await createDueOccurrences(racing, { timeZone: 'Asia/Shanghai', quietHours: { start: '22:00', end: '07:00' } }, clock.now());
    expect((await CampaignModel.findById(id).lean())?.lastRunAt).toBeNull(); // the advance lost to the edit
    clock.advance(5 * 60_000);
    const approved = await w.t.request('POST', `/api/campaigns/${id}/approve`, w.reviewer);
    expect(approved.statusCode, approved.body).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);
    expect(await OccurrenceModel.countDocuments({ campaignId: id })).toBe(1);
    const posts = groups.map((g) => w.doubles.received({ robot: g.key }).length);
    expect(posts).toEqual([1, 1]);
  });

  it('refuses a correction notice that can never be sent, naming the field (defect 4)', async () => {
    const noticeId = await approvedNotice(w, { title: '待撤回' });
    const groups = await wecomGroups(w, 1);
    const id = await approvedCampaign(w, body(noticeId, [groups[0]!.id], '待撤回'));
    await runUntilIdle(w);
    const archived = await approvedNotice(w, { title: '已归档的更正' });
    expect((await w.t.request('POST', `/api/notices/${archived}/archive`, w.editor)).statusCode).toBe(200);
    for (const followUpNoticeId of [archived, noticeId]) {
      const refused = await w.t.request('POST', `/api/campaigns/${id}/retract`, w.editor, { followUpNoticeId });
      expect(refused.statusCode, refused.body).toBe(400);
      expect(refused.json().field).toBe('followUpNoticeId');
    }
    expect((await CampaignModel.findById(id).lean())?.retractedAt).toBeNull();
  });

  it('retracts at once without a correction, which is attached afterwards and replaced when it can no longer be sent (defect 4, issue 21 item 5)', async () => {
    const noticeId = await approvedNotice(w, { title: '两步撤回' });
    const groups = await wecomGroups(w, 2);
    const id = await approvedCampaign(
      w,
      body(
        noticeId,
        groups.map((g) => g.id),
        '两步撤回',
      ),
    );
    await runUntilIdle(w);
    const stopped = await w.t.request('POST', `/api/campaigns/${id}/retract`, w.editor, {});
    expect(stopped.statusCode, stopped.body).toBe(200);
    expect(stopped.json().followUp).toBeNull();
    expect(stopped.json().retracted.actions).toContain('attach-follow-up');

    const first = await approvedNotice(w, { title: '更正一' });
    const attached = await w.t.request('POST', `/api/campaigns/${id}/follow-up`, w.editor, { followUpNoticeId: first });
    expect(attached.statusCode, attached.body).toBe(200);
    expect(attached.json()).toMatchObject({ status: 'in_review', noticeId: first });
    expect(attached.json().audience.recipientsOfNotice).toBe(noticeId);
    const page = (await w.t.request('GET', `/api/campaigns/${id}`, w.editor)).json();
    expect(page.followUpId).toBe(attached.json().id);
    expect(page.actions).not.toContain('attach-follow-up');

    // The chosen correction is archived before the follow-up runs: it is stuck until replaced.
    expect((await w.t.request('POST', `/api/notices/${first}/archive`, w.editor)).statusCode).toBe(200);
    const stuck = await w.t.request('POST', `/api/campaigns/${attached.json().id}/approve`, w.reviewer);
    expect(stuck.statusCode).toBe(409);
    const second = await approvedNotice(w, { title: '更正二' });
    const replaced = await w.t.request('POST', `/api/campaigns/${id}/follow-up`, w.editor, { followUpNoticeId: second });
    expect(replaced.statusCode, replaced.body).toBe(200);
    expect(replaced.json()).toMatchObject({ id: attached.json().id, noticeId: second, status: 'in_review' });
    expect((await w.t.request('POST', `/api/campaigns/${replaced.json().id}/approve`, w.reviewer)).statusCode).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);
    expect((await campaignItems(replaced.json().id)).map((i) => i.status)).toEqual(['sent', 'sent']);
    expect(await CampaignModel.countDocuments({ followUpOfNotice: noticeId })).toBe(1);
  });

  it('wakes the notice’s parked batches at a case outcome, so its follow-up is planned at once (defect 3)', async () => {
    const deadline = '2026-12-31';
    const noticeId = await approvedNotice(w, {
      category: 'wanted_clue',
      title: '协查：唤醒',
      regionCode: TREE.countyA.code,
      wanted: { ...WANTED, deadline },
    });
    const groups = await wecomGroups(w, 2);
    await approvedCampaign(w, body(noticeId, [groups[0]!.id], '已发出'));
    await runUntilIdle(w);
    const parked = await approvedCampaign(w, body(noticeId, [groups[1]!.id], '暂停中'));
    await w.scheduler.tick();
    expect((await w.t.request('POST', `/api/campaigns/${parked}/pause`, w.editor)).statusCode).toBe(200);
    await runUntilIdle(w);
    expect((await campaignItems(parked)).map((i) => i.status)).toEqual(['pending']);

    const solved = await w.t.request('POST', `/api/cases/${noticeId}/solve`, w.editor, { kind: 'caught' });
    expect(solved.statusCode, solved.body).toBe(200);
    const { followUpNoticeId, followUpCampaignId } = solved.json().outcomes[0];
    expect((await w.t.request('POST', `/api/notices/${followUpNoticeId}/approve`, w.reviewer, {})).statusCode).toBe(200);
    expect((await w.t.request('POST', `/api/campaigns/${followUpCampaignId}/approve`, w.reviewer)).statusCode).toBe(
      200,
    );
    await runUntilIdle(w); // the parked delivery is skipped
    await runUntilIdle(w); // so the follow-up is planned and sent, not deferred
    expect((await campaignItems(parked)).map((i) => i.status)).toEqual(['skipped']);
    expect((await campaignItems(followUpCampaignId)).map((i) => [i.groupId, i.status])).toEqual([
      [groups[0]!.id, 'sent'],
    ]);
  });

  it('lists the actions the caller may take, from the lifecycle table', async () => {
    const noticeId = await approvedNotice(w, { title: '操作列表' });
    const groups = await wecomGroups(w, 1);
    const created = await w.t.request('POST', '/api/campaigns', w.editor, body(noticeId, [groups[0]!.id], '操作'));
    const id = created.json().id;
    expect((await w.t.request('GET', `/api/campaigns/${id}`, w.editor)).json().actions).toEqual([
      'edit',
      'submit',
      'cancel',
    ]);
    await w.t.request('POST', `/api/campaigns/${id}/submit`, w.editor);
    expect((await w.t.request('GET', `/api/campaigns/${id}`, w.editor)).json().actions).toEqual([
      'edit',
      'cancel',
    ]);
    expect((await w.t.request('GET', `/api/campaigns/${id}`, w.reviewer)).json().actions).toEqual([
      'approve',
      'reject',
    ]);
  });
});

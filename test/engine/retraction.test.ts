// Retraction of a notice: every group that received it, through any campaign, gets the
// follow-up; nothing of the notice goes out after the retraction; one follow-up per notice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignModel } from '../../src/campaigns/model.js';
import type { EnginePorts } from '../../src/engine/ports.js';
import { fixedClock } from '../../src/lib/clock.js';
import { NoticeModel } from '../../src/notices/model.js';
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
import { until } from '../helpers/wait.js';
import { workerWithPorts } from '../helpers/workers.js';

// 10:00 Beijing time.
const clock = fixedClock('2026-11-29T02:00:00Z');

describe('retracting a notice', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
  });
  afterAll(() => w.close());

  const now = (noticeId: string, groups: string[], title: string) =>
    approvedCampaign(w, { title, noticeId, audience: audienceOf([], groups), schedule: { kind: 'now' } });

  it('sends the follow-up to every group that received the notice through any campaign, once each', async () => {
    const noticeId = await approvedNotice(w, { title: '协查通报：嫌疑人甲' });
    const [g1, g2, g3, g4] = await wecomGroups(w, 4);
    const first = await now(noticeId, [g1!.id, g2!.id], '第一轮');
    const second = await now(noticeId, [g2!.id, g3!.id], '第二轮');
    await runUntilIdle(w);
    // A third campaign of the notice, planned and paused before it sent anything.
    const third = await now(noticeId, [g4!.id], '第三轮');
    await w.scheduler.tick();
    expect((await w.t.request('POST', `/api/campaigns/${third}/pause`, w.editor)).statusCode).toBe(200);
    await runUntilIdle(w);

    const correction = await approvedNotice(w, { title: '更正：协查通报有误' });
    const retract = await w.t.request('POST', `/api/campaigns/${first}/retract`, w.editor, {
      followUpNoticeId: correction,
    });
    expect(retract.statusCode, retract.body).toBe(200);
    const followUp = retract.json().followUp;
    expect(followUp.audience.recipientsOfNotice).toBe(noticeId);
    expect((await w.t.request('POST', `/api/campaigns/${followUp.id}/approve`, w.reviewer)).statusCode).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);

    const reached = (await campaignItems(followUp.id)).filter((i) => i.status === 'sent').map((i) => i.groupId);
    expect(reached.sort()).toEqual([g1!.id, g2!.id, g3!.id].sort());
    // The paused campaign of the retracted notice is silenced, not left waiting.
    expect((await campaignItems(third)).map((i) => i.status)).toEqual(['skipped']);
    expect(w.doubles.received({ robot: g4!.key })).toHaveLength(0); // it never had the notice
    expect(w.doubles.received({ robot: g2!.key })).toHaveLength(3); // two campaigns + one follow-up
    expect((await campaignItems(second)).every((i) => i.status === 'sent')).toBe(true);
  });

  it('when retracted mid-batch, sends nothing more but in-flight posts, and follows up exactly the groups that got it', async () => {
    const noticeId = await approvedNotice(w, { title: '协查通报：嫌疑人乙' });
    const groups = await wecomGroups(w, 24);
    const id = await now(
      noticeId,
      groups.map((g) => g.id),
      '中途撤回',
    );
    await w.scheduler.tick();
    const correction = await approvedNotice(w, { title: '更正：嫌疑人乙信息有误' });
    const ports = w.t.ctx.dispatch;
    const concurrency = 3;
    let calls = 0;
    let afterRetract = 0;
    let retracted = false;
    let followUpId = '';
    const send: EnginePorts['send'] = async (...args) => {
      calls += 1;
      if (retracted) afterRetract += 1;
      if (calls === 5) {
        const answer = await w.t.request('POST', `/api/campaigns/${id}/retract`, w.editor, {
          followUpNoticeId: correction,
        });
        expect(answer.statusCode, answer.body).toBe(200);
        followUpId = answer.json().followUp.id;
        retracted = true;
      }
      return ports.send(...args);
    };
    const worker = workerWithPorts(w, clock, { send }, concurrency);
    while ((await worker.drainOnce()) > 0);
    expect(afterRetract).toBeLessThanOrEqual(concurrency - 1);
    expect(followUpId).not.toBe('');
    expect((await w.t.request('POST', `/api/campaigns/${followUpId}/approve`, w.reviewer)).statusCode).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);
    const got = groups.filter((g) => w.doubles.received({ robot: g.key }).length >= 1).map((g) => g.id);
    const followed = (await campaignItems(followUpId)).map((i) => i.groupId);
    expect(followed.sort()).toEqual(got.sort());
    expect(got.length).toBeLessThan(groups.length);
    for (const g of groups) expect(w.doubles.received({ robot: g.key }).length).toBe(got.includes(g.id) ? 2 : 0);
  });

  it('a retraction whose process died part-way is finished by asking again once its lease has lapsed', async () => {
    const noticeId = await approvedNotice(w, { title: '协查通报：嫌疑人丙' });
    const groups = await wecomGroups(w, 3);
    const id = await now(
      noticeId,
      groups.map((g) => g.id),
      '撤回中断',
    );
    await runUntilIdle(w);
    const correction = await approvedNotice(w, { title: '更正：嫌疑人丙信息有误' });
    // The first runner stops for good at withdrawing the notice: a process that died.
    const campaigns = w.t.ctx.campaigns;
    const withdrawNotice = campaigns.withdrawNotice;
    let reached = false;
    campaigns.withdrawNotice = () => {
      reached = true;
      return new Promise<void>(() => {});
    };
    void w.t.request('POST', `/api/campaigns/${id}/retract`, w.editor, { followUpNoticeId: correction });
    await until(async () => reached);
    campaigns.withdrawNotice = withdrawNotice;

    const meanwhile = await w.t.request('POST', `/api/campaigns/${id}/retract`, w.editor, {
      followUpNoticeId: correction,
    });
    expect(meanwhile.statusCode).toBe(409);
    expect(meanwhile.json().message).toContain('仍在进行');

    clock.advance(3 * 60_000);
    const resumed = await w.t.request('POST', `/api/campaigns/${id}/retract`, w.editor, {
      followUpNoticeId: correction,
    });
    expect(resumed.statusCode, resumed.body).toBe(200);
    const followUp = resumed.json().followUp;
    expect(followUp.audience.recipientsOfNotice).toBe(noticeId);
    expect(await CampaignModel.countDocuments({ followUpOfNotice: noticeId })).toBe(1);
    expect((await NoticeModel.findById(noticeId).lean())?.retractedAt).toBeInstanceOf(Date);

    const again = await w.t.request('POST', `/api/campaigns/${id}/retract`, w.editor, { followUpNoticeId: correction });
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toContain('已撤回');
  });
});

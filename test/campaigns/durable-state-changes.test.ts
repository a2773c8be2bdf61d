// Issue 20, defect 2: a state change made by the API records what must follow it (its intent)
// in the same write; a process that dies after that write leaves the rest to the scheduler's
// sweep (or to 继续完成 on the campaign page). A death is simulated by a step that never
// returns (the process's last act), with a fixed clock moved past the runner's lease.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryControl } from '../../src/campaigns/ports.js';
import { CampaignModel } from '../../src/campaigns/model.js';
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

// 10:00 Beijing time.
const clock = fixedClock('2026-11-29T02:00:00Z');
/** Past the runner's lease (LEASE_SECONDS, 60 by default) and the sweep's grace. */
const PAST_LEASE_MS = 2 * 60_000;

describe('a state change whose process dies part-way', () => {
  let w: DeliveryWorld;
  let control: DeliveryControl;
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    control = (w.t.ctx.campaigns as unknown as { deliveries: DeliveryControl }).deliveries;
  });
  afterAll(() => w.close());

  /**
   * The next call of `step` never returns: the process died there. Returns the restore, which
   * waits for the dying runner to reach the step.
   */
  function dieAt<K extends keyof DeliveryControl>(step: K): () => Promise<void> {
    const real = control[step];
    let reached = false;
    (control as unknown as Record<string, unknown>)[step] = () => {
      reached = true;
      return new Promise(() => {});
    };
    return async () => {
      await until(async () => reached);
      (control as unknown as Record<string, unknown>)[step] = real;
    };
  }

  async function plannedAndPaused(title: string, count = 3) {
    const noticeId = await approvedNotice(w, { title });
    const groups = await wecomGroups(w, count);
    const id = await approvedCampaign(w, {
      title,
      noticeId,
      audience: audienceOf(
        [],
        groups.map((g) => g.id),
      ),
      schedule: { kind: 'now' },
    });
    await w.scheduler.tick(); // planned, nothing sent yet
    expect((await w.t.request('POST', `/api/campaigns/${id}/pause`, w.editor)).statusCode).toBe(200);
    await runUntilIdle(w); // the worker parks the paused campaign's batch
    expect((await campaignItems(id)).every((i) => i.status === 'pending')).toBe(true);
    return { id, noticeId, groups };
  }

  it('a resume that died after writing the state: the sweep lists the parked deliveries and they are sent', async () => {
    const { id, groups } = await plannedAndPaused('恢复中断');
    const restore = dieAt('requeue');
    void w.t.request('POST', `/api/campaigns/${id}/resume`, w.editor);
    await until(async () => (await CampaignModel.findById(id).lean())?.status === 'completed');
    await restore();
    const page = (await w.t.request('GET', `/api/campaigns/${id}`, w.editor)).json();
    expect(page.unfinished.map((u: { kind: string }) => u.kind)).toEqual(['resume']);
    expect(page.actions).toContain('finish');

    await runUntilIdle(w);
    expect((await campaignItems(id)).every((i) => i.status === 'pending')).toBe(true); // still parked
    clock.advance(PAST_LEASE_MS);
    await runUntilIdle(w); // the tick's sweep finishes the resume
    expect((await campaignItems(id)).map((i) => i.status)).toEqual(groups.map(() => 'sent'));
    const after = (await w.t.request('GET', `/api/campaigns/${id}`, w.editor)).json();
    expect(after.unfinished).toEqual([]);
    expect(after.actions).not.toContain('finish');
  });

  it('a cancel that died after writing the state: the pending deliveries are skipped, not pending for ever', async () => {
    const { id } = await plannedAndPaused('取消中断');
    const restore = dieAt('stop');
    void w.t.request('POST', `/api/campaigns/${id}/cancel`, w.editor);
    await until(async () => (await CampaignModel.findById(id).lean())?.status === 'cancelled');
    await restore();
    clock.advance(PAST_LEASE_MS);
    await runUntilIdle(w);
    expect((await campaignItems(id)).every((i) => i.status === 'skipped')).toBe(true);
  });

  it('an approval of an edit that died after writing the state: the runs held for it are sent', async () => {
    const noticeId = await approvedNotice(w, { title: '审核中断' });
    const groups = await wecomGroups(w, 2);
    const body = {
      title: '每日提醒',
      noticeId,
      audience: audienceOf(
        [],
        groups.map((g) => g.id),
      ),
      schedule: { kind: 'cron', cron: '0 10 * * *', endAt: '2026-12-31T00:00:00Z' },
      priority: 'urgent',
    };
    clock.advance(-60_000); // 09:59: the 10:00 run is next
    const id = await approvedCampaign(w, body);
    clock.advance(60_000);
    await w.scheduler.tick(); // 10:00's run planned
    const edited = await w.t.request('PUT', `/api/campaigns/${id}`, w.editor, { ...body, title: '每日提醒（改）' });
    expect(edited.statusCode, edited.body).toBe(200);
    await runUntilIdle(w); // held for the approval
    expect((await campaignItems(id)).every((i) => i.status === 'pending')).toBe(true);
    const restore = dieAt('requeue');
    void w.t.request('POST', `/api/campaigns/${id}/approve`, w.reviewer);
    await until(async () => (await CampaignModel.findById(id).lean())?.status === 'approved');
    await restore();
    clock.advance(PAST_LEASE_MS);
    await runUntilIdle(w);
    expect((await campaignItems(id)).every((i) => i.status === 'sent')).toBe(true);
  });

  it('a retraction that died after writing the state shows as unfinished on the campaign page and 继续完成 finishes it', async () => {
    const noticeId = await approvedNotice(w, { title: '撤回中断' });
    const groups = await wecomGroups(w, 2);
    const sent = await approvedCampaign(w, {
      title: '已发出',
      noticeId,
      audience: audienceOf([], [groups[0]!.id]),
      schedule: { kind: 'now' },
    });
    await runUntilIdle(w);
    const { id: paused } = await (async () => {
      const id = await approvedCampaign(w, {
        title: '暂停中',
        noticeId,
        audience: audienceOf([], [groups[1]!.id]),
        schedule: { kind: 'now' },
      });
      await w.scheduler.tick();
      await w.t.request('POST', `/api/campaigns/${id}/pause`, w.editor);
      await runUntilIdle(w);
      return { id };
    })();
    const correction = await approvedNotice(w, { title: '更正：撤回中断' });
    const restore = dieAt('stop');
    void w.t.request('POST', `/api/campaigns/${sent}/retract`, w.editor, { followUpNoticeId: correction });
    await until(async () => Boolean((await CampaignModel.findById(sent).lean())?.retractedAt));
    await restore();

    const page = (await w.t.request('GET', `/api/campaigns/${sent}`, w.editor)).json();
    expect(page.unfinished.map((u: { kind: string }) => u.kind)).toEqual(['retract']);
    expect(page.actions).toContain('finish');
    expect(page.followUpId).toBeNull();
    // The runner's lease has not lapsed: 继续完成 says it is still at work.
    const early = await w.t.request('POST', `/api/campaigns/${sent}/finish`, w.editor);
    expect(early.statusCode).toBe(409);

    clock.advance(PAST_LEASE_MS);
    const finished = await w.t.request('POST', `/api/campaigns/${sent}/finish`, w.editor);
    expect(finished.statusCode, finished.body).toBe(200);
    expect(finished.json().unfinished).toEqual([]);
    expect(finished.json().followUpId).toMatch(/^[0-9a-f]{24}$/);
    expect((await NoticeModel.findById(noticeId).lean())?.retractedAt).toBeInstanceOf(Date);
    expect(await CampaignModel.countDocuments({ followUpOfNotice: noticeId })).toBe(1);
    await runUntilIdle(w);
    expect((await campaignItems(paused)).map((i) => i.status)).toEqual(['skipped']);
    // The sweep finds nothing left to do; a second 继续完成 changes nothing.
    expect(await w.t.ctx.campaigns.sweepIntents()).toBe(0);
    expect(await CampaignModel.countDocuments({ followUpOfNotice: noticeId })).toBe(1);
  });
});

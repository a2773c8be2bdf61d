// API the console's campaign screens need: the calendar of runs, the schedule preview,
// the test send, the failed/uncertain tables and per-township progress.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

describe('the calendar, schedule preview, test send and delivery tables', () => {
  let w: DeliveryWorld;
  let noticeId: string;

  beforeAll(async () => {
    w = await startDeliveryWorld();
    noticeId = await approvedNotice(w);
  });
  afterAll(() => w.close());

  it('previews the next five runs of a weekly schedule, with a quiet-hours run moved to the morning', async () => {
    const response = await w.t.request('POST', '/api/campaigns/schedule-preview', w.editor, {
      schedule: { kind: 'cron', cron: '30 23 * * 1', endAt: new Date(Date.now() + 90 * 86_400_000).toISOString() },
    });
    expect(response.statusCode, response.body).toBe(200);
    const { runs, quietHours } = response.json();
    expect(quietHours).toEqual({ start: '22:00', end: '07:00' });
    expect(runs).toHaveLength(5);
    for (const run of runs) {
      // 23:30 Monday in Shanghai = 15:30 UTC; sent at 07:00 Tuesday = 23:00 UTC Monday.
      expect(new Date(run.plannedAt).getUTCHours()).toBe(15);
      expect(run.deferred).toBe(true);
      expect(new Date(run.sendsAt).getTime() - new Date(run.plannedAt).getTime()).toBe(7.5 * 3600_000);
    }
  });

  it('refuses a bad cron expression on its field', async () => {
    const response = await w.t.request('POST', '/api/campaigns/schedule-preview', w.editor, {
      schedule: { kind: 'cron', cron: '99 99 * * *', endAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().field).toBe('schedule.cron');
  });

  it('lists a campaign’s runs in the calendar window, filterable by category and status', async () => {
    const at = new Date(Date.now() + 3 * 86_400_000);
    at.setUTCHours(2, 0, 0, 0); // 10:00 in Shanghai: outside quiet hours
    await wecomGroups(w, 1);
    const created = await w.t.request('POST', '/api/campaigns', w.editor, {
      title: '日程测试',
      noticeId,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'once', at: at.toISOString() },
    });
    expect(created.statusCode, created.body).toBe(201);
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const to = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const all = (await w.t.request('GET', `/api/calendar?from=${from}&to=${to}`, w.editor)).json();
    const entry = all.find((e: { campaignId: string }) => e.campaignId === created.json().id);
    expect(entry).toMatchObject({ title: '日程测试', status: 'draft', category: 'anti_fraud', past: false });
    expect(entry.sendsAt).toBe(at.toISOString());
    const otherCategory = (
      await w.t.request('GET', `/api/calendar?from=${from}&to=${to}&category=anti_theft`, w.editor)
    ).json();
    expect(otherCategory.map((e: { campaignId: string }) => e.campaignId)).not.toContain(created.json().id);
    const approvedOnly = (
      await w.t.request('GET', `/api/calendar?from=${from}&to=${to}&status=approved`, w.editor)
    ).json();
    expect(approvedOnly.map((e: { campaignId: string }) => e.campaignId)).not.toContain(created.json().id);
    const weekly = await w.t.request('POST', '/api/campaigns', w.editor, {
      title: '每周提醒',
      noticeId,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'cron', cron: '0 9 * * *', endAt: new Date(Date.now() + 20 * 86_400_000).toISOString() },
    });
    const daily = (await w.t.request('GET', `/api/calendar?from=${from}&to=${to}`, w.editor))
      .json()
      .filter((e: { campaignId: string }) => e.campaignId === weekly.json().id);
    // Daily at 09:00 from its creation (never before it) for twenty days.
    expect(daily.length).toBeGreaterThanOrEqual(19);
    expect(daily.length).toBeLessThanOrEqual(21);
    expect(daily.every((e: { plannedAt: string }) => new Date(e.plannedAt) > new Date(weekly.json().createdAt))).toBe(true);
    const tooLong = await w.t.request(
      'GET',
      `/api/calendar?from=${from}&to=${new Date(Date.now() + 200 * 86_400_000).toISOString()}`,
      w.editor,
    );
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().field).toBe('to');
  });

  // Test sends: test/security/test-send-limits.test.ts (fixed clock: quiet hours apply).

  it('lists failed deliveries with their reasons, and progress per township', async () => {
    const groups = await wecomGroups(w, 3, TREE.villageA.code);
    // One robot removed at the platform: its send fails permanently.
    w.doubles.wecom.robots.delete(groups[0]!.key);
    const campaignId = await approvedCampaign(w, {
      title: '失败明细',
      noticeId,
      audience: audienceOf(
        [],
        groups.map((g) => g.id),
      ),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await runUntilIdle(w);
    const failed = await w.t.request('GET', `/api/campaigns/${campaignId}/deliveries?status=failed`, w.editor);
    expect(failed.statusCode, failed.body).toBe(200);
    expect(failed.json()).toHaveLength(1);
    expect(failed.json()[0]).toMatchObject({ groupId: groups[0]!.id, status: 'failed' });
    expect(failed.json()[0].lastError).toBeTruthy();
    const progress = (await w.t.request('GET', `/api/campaigns/${campaignId}/progress`, w.editor)).json();
    expect(progress.townships).toEqual([
      expect.objectContaining({
        townshipCode: TREE.townshipA.code,
        townshipName: TREE.townshipA.name,
        total: 3,
        sent: 2,
        failed: 1,
      }),
    ]);
  });
});

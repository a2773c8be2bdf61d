// What a run sends and when (issue 20, defects 8, 9 and 11): a run sends exactly the notice
// version approved for it; deliveries held by a pause past their run's missed-run limit are
// skipped when released, not sent days late; a normal wave that rate-limit waits carried
// past 22:00 waits for the morning.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineDeps } from '../../src/context.js';
import type { EnginePorts } from '../../src/engine/ports.js';
import { createWorker } from '../../src/engine/runner.js';
import { createDueOccurrences } from '../../src/engine/tick.js';
import { HELD_PAST_LIMIT } from '../../src/engine/worker.js';
import { type Clock, fixedClock } from '../../src/lib/clock.js';
import { BatchFixedModel, packFixed, withFixedItems } from '../../src/tracking/batch-fixed.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  campaignItems,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

const clock = fixedClock('2026-12-01T00:00:00Z'); // 08:00 Beijing time
const settings = { timeZone: 'Asia/Shanghai', quietHours: { start: '22:00', end: '07:00' } };

describe('what a run sends and when', () => {
  let w: DeliveryWorld;

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
  });
  afterAll(() => w.close());

  const texts = (key: string) => w.doubles.received({ robot: key }).map((m) => JSON.stringify(m.body));

  it('sends exactly the notice version approved for the run, though a new one is approved before it goes out', async () => {
    clock.set('2026-12-01T02:00:00Z');
    const noticeId = await approvedNotice(w, { title: '第一版：冒充客服诈骗' });
    const groups = await wecomGroups(w, 2, TREE.villageA.code);
    const first = await approvedCampaign(w, {
      title: '版本固定',
      noticeId,
      audience: audienceOf([], groups.map((g) => g.id)),
      schedule: { kind: 'now' },
    });
    await createDueOccurrences(w.t.ctx.campaigns, settings, clock.now());
    // A second version is approved after the run was created, before it is planned and sent.
    const edit = await w.t.request('PATCH', `/api/notices/${noticeId}`, w.editor, { title: '第二版：冒充公检法诈骗' });
    expect(edit.statusCode, edit.body).toBe(200);
    expect((await w.t.request('POST', `/api/notices/${noticeId}/submit`, w.editor)).statusCode).toBe(200);
    expect((await w.t.request('POST', `/api/notices/${noticeId}/approve`, w.reviewer, {})).statusCode).toBe(200);
    await runUntilIdle(w);
    expect((await campaignItems(first)).map((i) => i.status)).toEqual(['sent', 'sent']);
    for (const group of groups) {
      expect(texts(group.key)).toHaveLength(1);
      expect(texts(group.key)[0]).toContain('第一版');
      expect(texts(group.key)[0]).not.toContain('第二版');
    }
    // A later run sends the version approved by then.
    await approvedCampaign(w, {
      title: '新版本',
      noticeId,
      audience: audienceOf([], [groups[0]!.id]),
      schedule: { kind: 'now' },
    });
    await runUntilIdle(w);
    expect(texts(groups[0]!.key).at(-1)).toContain('第二版');
  });

  it('skips the held remainder of a daily 09:00 run paused on day 1 and resumed on day 3', async () => {
    clock.set('2026-12-02T00:00:00Z');
    const noticeId = await approvedNotice(w, { title: '每日防诈提醒' });
    const groups = await wecomGroups(w, 2, TREE.villageA.code);
    const id = await approvedCampaign(w, {
      title: '每日九点',
      noticeId,
      audience: audienceOf([], groups.map((g) => g.id)),
      schedule: { kind: 'cron', cron: '0 9 * * *', endAt: '2026-12-20T00:00:00Z' },
    });
    clock.set('2026-12-02T01:00:00Z'); // 09:00 day 1: the run is planned
    await w.scheduler.tick();
    expect((await w.t.request('POST', `/api/campaigns/${id}/pause`, w.editor)).statusCode).toBe(200);
    await runUntilIdle(w); // the worker parks the run
    expect((await campaignItems(id)).map((i) => i.status)).toEqual(['pending', 'pending']);
    clock.set('2026-12-04T01:30:00Z'); // 09:30 day 3
    expect((await w.t.request('POST', `/api/campaigns/${id}/resume`, w.editor)).statusCode).toBe(200);
    await runUntilIdle(w);
    const items = await campaignItems(id);
    expect(items.map((i) => [i.status, i.lastError])).toEqual([
      ['skipped', HELD_PAST_LIMIT],
      ['skipped', HELD_PAST_LIMIT],
    ]);
    for (const group of groups) expect(texts(group.key)).toEqual([]);
    const batch = await DeliveryBatchModel.findOne({ campaignId: id }).lean();
    expect(batch!.heldSince).toBeNull();
  });

  it('sends a held run resumed within its missed-run limit', async () => {
    clock.set('2026-12-05T01:00:00Z'); // 09:00
    const noticeId = await approvedNotice(w, { title: '短暂停' });
    const groups = await wecomGroups(w, 2, TREE.villageA.code);
    const id = await approvedCampaign(w, {
      title: '暂停半小时',
      noticeId,
      audience: audienceOf([], groups.map((g) => g.id)),
      schedule: { kind: 'now' },
    });
    await w.scheduler.tick();
    expect((await w.t.request('POST', `/api/campaigns/${id}/pause`, w.editor)).statusCode).toBe(200);
    await runUntilIdle(w);
    clock.advance(30 * 60_000);
    expect((await w.t.request('POST', `/api/campaigns/${id}/resume`, w.editor)).statusCode).toBe(200);
    await runUntilIdle(w);
    expect((await campaignItems(id)).map((i) => i.status)).toEqual(['sent', 'sent']);
  });

  it('does not start a normal wave after 22:00 that rate-limit waits carried past it', async () => {
    clock.set('2026-12-06T13:59:00Z'); // 21:59 Beijing time
    const noticeId = await approvedNotice(w, { title: '晚间提醒' });
    const groups = await wecomGroups(w, 2, TREE.villageA.code);
    const id = await approvedCampaign(w, {
      title: '临近夜间',
      noticeId,
      audience: audienceOf([], groups.map((g) => g.id)),
      schedule: { kind: 'now' },
    });
    await w.scheduler.tick();
    // Both groups share one robot that allows one post per 1.5 s.
    // (The robot key is a fixed field: in the batch's packed part.)
    const batch = await withFixedItems((await DeliveryBatchModel.findOne({ campaignId: id }).lean())!);
    const shared = batch.items.map((item) => ({ ...item, robotKey: 'shared-robot' }));
    await BatchFixedModel.updateOne({ _id: batch.fixedId }, { $set: { packed: packFixed(shared) } });
    const deps = engineDeps(w.t.ctx);
    const limited: EnginePorts = Object.assign(Object.create(deps.ports), {
      rateLimits: () => [{ limit: 1, windowMs: 1_500 }],
    });
    // A clock that runs from 21:59:59.000: the second send's inline wait ends after 22:00.
    const started = Date.now();
    const running: Clock = { now: () => new Date(Date.parse('2026-12-06T13:59:59.000Z') + Date.now() - started) };
    const worker = createWorker({
      ...deps,
      ports: limited,
      clock: running,
      worker: { ...deps.worker, pollMs: 10, maxInlineWaitMs: 2_000 },
    });
    await worker.drainOnce();
    expect(running.now().getTime()).toBeGreaterThan(Date.parse('2026-12-06T14:00:00Z'));
    for (const group of groups) expect(texts(group.key)).toEqual([]);
    const items = await campaignItems(id);
    expect(items.map((i) => [i.status, i.nextAt?.toISOString()])).toEqual([
      ['pending', '2026-12-06T23:00:00.000Z'],
      ['pending', '2026-12-06T23:00:00.000Z'],
    ]);
  });
});

// The scheduler tick and the WeCom customer-group loop when nothing is due read one due marker
// by `_id` (db/due-marks.ts) and nothing else, however much history the database holds: the tick
// read the campaigns by status and next run, the campaigns and notices with intents and the
// planning queue every 5 s (13.7 % of a core idle on the 3,000-group world), the WeCom loop its
// items and tasks by state every 15 s. Every writer of due work lowers the marker, so the loops
// still fire: a campaign approved for later runs at its time, one approved now at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listLive, taskEntry } from '../../src/channels/wecom-group/live.js';
import { WecomTaskModel } from '../../src/channels/wecom-group/model.js';
import { SCHEDULER_DUE, WECOM_GROUPS_DUE, lowerDue, readDue } from '../../src/db/due-marks.js';
import { collectionChanged } from '../../src/db/versions.js';
import { engineDeps } from '../../src/context.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { OccurrenceModel, PlanningQueueModel } from '../../src/engine/model.js';
import { buildPlanningQueue } from '../../src/engine/planner.js';
import { Scheduler } from '../../src/engine/runner.js';
import { fixedClock } from '../../src/lib/clock.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { wecomItem, wecomTask } from '../helpers/wecom-history.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  runUntilIdle,
  startDeliveryWorld,
  urgentNowCampaign,
  wecomGroups,
} from '../helpers/delivery.js';

// 10:00 in Shanghai: outside quiet hours.
const clock = fixedClock('2026-06-01T02:00:00.000Z');
const shape = (seen: { name: string; collection: string; filter: Record<string, unknown> | null }[]) =>
  seen.map((c) => `${c.name} ${c.collection} ${Object.keys(c.filter ?? {})}`);

describe('idle passes of the scheduler tick and the WeCom customer-group loop', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  let robots: { id: string; key: string }[];

  /** A month of history in miniature: `n` urgent pushes sent and settled. */
  async function history(n: number, from: number) {
    for (let i = from; i < from + n; i++)
      await urgentNowCampaign(
        w,
        noticeId,
        robots.map((g) => g.id),
        `历史推送 ${i}`,
      );
    await runUntilIdle(w);
    // Settled WeCom customer-group work of the past: items and tasks in final states.
    for (let i = from; i < from + n; i++) {
      await wecomTask('old', i, 'sent', clock.now());
      await wecomItem('old', i, 'sent', clock.now());
    }
  }

  /** The commands of one idle pass of each loop, after a full pass raised their markers. */
  async function idlePasses() {
    await w.scheduler.tick();
    await w.scheduler.tick(); // its own advance lowered the marker during the first
    await w.t.ctx.wecomGroups.tick();
    clock.advance(5_000);
    const tick = await commandsDuring(() => w.scheduler.tickWhenDue());
    const wecom = await commandsDuring(() => w.t.ctx.wecomGroups.tickWhenDue());
    return { tick, wecom };
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock });
    noticeId = await approvedNotice(w);
    robots = await wecomGroups(w, 3);
    await history(2, 0);
  }, 180_000);
  afterAll(() => w.close());

  it('reads only its due marker by _id, the same commands with three times the history', async () => {
    const small = await idlePasses();
    expect(small.tick.length).toBeGreaterThan(0);
    for (const command of [...small.tick, ...small.wecom]) {
      expect(command.collection).toBe('duemarks');
      expect(byIdOnly(command.filter)).toBe(true);
    }
    await history(4, 2);
    const large = await idlePasses();
    expect(shape(large.tick)).toEqual(shape(small.tick));
    expect(shape(large.wecom)).toEqual(shape(small.wecom));
  }, 180_000);

  it("a scheduler process's first tick reads no run by status: runs left planning before the queue existed are queued once per install, at start", async () => {
    // A restart: a new process's first (full) tick. It scanned every run ever made by status.
    const first = await commandsDuring(() => new Scheduler(engineDeps(w.t.ctx)).tick());
    expect(first.filter((c) => c.collection === 'occurrences' && !byIdOnly(c.filter))).toEqual([]);
    // An install written before the queue: a run planning with no queue entry, queued by the start-up step.
    await OccurrenceModel.collection.insertOne({
      _id: 'older-run@2026-06-01T00:00:00.000Z' as never,
      campaignId: 'older-run',
      status: 'planning',
      priority: 'urgent',
      dueAt: clock.now(),
    });
    await BackfillModel.deleteOne({ _id: 'planning-queue' });
    await buildPlanningQueue();
    expect(await PlanningQueueModel.exists({ _id: 'older-run@2026-06-01T00:00:00.000Z' })).not.toBeNull();
    await PlanningQueueModel.deleteOne({ _id: 'older-run@2026-06-01T00:00:00.000Z' });
    await OccurrenceModel.deleteOne({ _id: 'older-run@2026-06-01T00:00:00.000Z' });
  }, 60_000);

  it('still creates a run when an approved campaign falls due, and at once when approved for now', async () => {
    await w.scheduler.tick();
    await w.scheduler.tick();
    // Approved for an hour from now: the idle passes before then create nothing and read the marker only.
    const at = new Date(clock.now().getTime() + 3600_000);
    const later = await approvedCampaign(w, {
      title: '一小时后',
      noticeId,
      audience: audienceOf([], [robots[0]!.id]),
      schedule: { kind: 'once', at: at.toISOString() },
    });
    expect((await readDue(SCHEDULER_DUE)).at?.getTime()).toBeLessThanOrEqual(at.getTime());
    clock.advance(30 * 60_000);
    expect((await w.scheduler.tickWhenDue()).created).toBe(0);
    clock.advance(30 * 60_000);
    expect((await w.scheduler.tickWhenDue()).created).toBe(1);
    expect(await OccurrenceModel.exists({ campaignId: later })).not.toBeNull();
    // Approved to go now: its approval lowered the marker to now.
    await w.scheduler.tick();
    await w.scheduler.tick();
    const now = await urgentNowCampaign(w, noticeId, [robots[1]!.id], '立即发送');
    expect((await w.scheduler.tickWhenDue()).created).toBe(1);
    expect(await OccurrenceModel.exists({ campaignId: now })).not.toBeNull();
  }, 120_000);

  it('a lowered WeCom marker makes its next pass a full one', async () => {
    await w.t.ctx.wecomGroups.tick();
    const idle = await commandsDuring(() => w.t.ctx.wecomGroups.tickWhenDue());
    expect(idle.every((c) => c.collection === 'duemarks')).toBe(true);
    await lowerDue(WECOM_GROUPS_DUE, clock.now());
    const full = await commandsDuring(() => w.t.ctx.wecomGroups.tickWhenDue());
    expect(full.some((c) => c.collection === 'wecomgrouplive')).toBe(true);
  });

  it('while a customer-group task is open, an idle pass reads its marker and two version tokens; a campaign or notice write or the task\'s next look makes it full', async () => {
    const campaignId = await urgentNowCampaign(w, noticeId, [robots[2]!.id], '群发任务进行中');
    await runUntilIdle(w);
    // As its creator does (wecom-group/service.ts claimTask): on the loop's live list, then created.
    await listLive([taskEntry('open@1|440106|owner|1')], clock.now());
    await WecomTaskModel.create({
      _id: `open@1|440106|owner|1`,
      occurrenceId: 'open@1',
      campaignId,
      countyCode: '440106',
      ownerUserId: 'owner',
      state: 'open',
      nextPollAt: new Date(clock.now().getTime() + 10 * 60_000),
      createdAt: clock.now(),
    });
    await w.t.ctx.wecomGroups.tick();
    const idle = await commandsDuring(() => w.t.ctx.wecomGroups.tickWhenDue());
    expect(idle.map((c) => c.collection).sort()).toEqual(['countversions', 'countversions', 'duemarks']);
    expect(idle.every((c) => byIdOnly(c.filter))).toBe(true);
    // A stop is a campaign or notice write: the next pass is full, and reads the open tasks.
    await collectionChanged('campaigns');
    const afterWrite = await commandsDuring(() => w.t.ctx.wecomGroups.tickWhenDue());
    expect(afterWrite.some((c) => c.collection === 'wecomgrouptasks' && byIdOnly(c.filter))).toBe(true);
    expect((await commandsDuring(() => w.t.ctx.wecomGroups.tickWhenDue())).some((c) => c.collection === 'wecomgrouptasks')).toBe(false);
    await collectionChanged('notices');
    expect((await commandsDuring(() => w.t.ctx.wecomGroups.tickWhenDue())).some((c) => c.collection === 'wecomgrouptasks')).toBe(true);
    // The task's next look is due: a full pass, which polls it.
    clock.advance(10 * 60_000);
    expect((await w.t.ctx.wecomGroups.tickWhenDue()).polled).toBe(1);
    await WecomTaskModel.updateOne({ _id: 'open@1|440106|owner|1' }, { $set: { state: 'sent', nextPollAt: null } });
  }, 120_000);
});

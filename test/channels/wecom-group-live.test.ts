// The WeCom customer-group loop's full passes (at an open task's poll time, and every 10 minutes
// when idle) read what is live through its live list (channels/wecom-group/live.ts), each item
// and task by `_id`: they read the items and tasks by state, which on FerretDB 1.24 reads every
// customer-group delivery ever made. Commands counted with the driver's monitor, not timed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackfillModel } from '../../src/db/backfills.js';
import { WecomLiveModel, buildWecomLive, listLive, taskEntry } from '../../src/channels/wecom-group/live.js';
import { WecomTaskModel } from '../../src/channels/wecom-group/model.js';
import { fixedClock } from '../../src/lib/clock.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { wecomItem, wecomTask } from '../helpers/wecom-history.js';
import { type DeliveryWorld, approvedNotice, startDeliveryWorld, urgentNowCampaign, wecomGroups } from '../helpers/delivery.js';

// 10:00 in Shanghai: outside quiet hours.
const clock = fixedClock('2026-06-01T02:00:00.000Z');
const HISTORY = ['wecomgroupitems', 'wecomgrouptasks'];

describe('the WeCom customer-group loop reads its live list, not its history', () => {
  let w: DeliveryWorld;

  /** Settled customer-group work of the past: `n` runs' items and tasks in final states. */
  async function history(n: number, from: number) {
    for (let i = from; i < from + n; i++) {
      await wecomTask('old', i, i % 2 ? 'sent' : 'closed', clock.now());
      await wecomItem('old', i, i % 2 ? 'sent' : 'failed', clock.now());
    }
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock });
  }, 120_000);
  afterAll(() => w.close());

  it('a full pass with nothing live reads no item or task, however much history there is', async () => {
    await history(3, 0);
    await w.t.ctx.wecomGroups.tick(); // the first pass writes its marker
    const small = await commandsDuring(() => w.t.ctx.wecomGroups.tick());
    expect(small.filter((c) => HISTORY.includes(c.collection))).toEqual([]);
    await history(9, 3);
    const large = await commandsDuring(() => w.t.ctx.wecomGroups.tick());
    expect(large.filter((c) => HISTORY.includes(c.collection))).toEqual([]);
    // O(1): the same commands, whatever the history.
    expect(large.map((c) => `${c.name} ${c.collection}`)).toEqual(small.map((c) => `${c.name} ${c.collection}`));
    expect(large.length).toBeLessThanOrEqual(8);
  }, 60_000);

  it('a full pass while a task is open reads it by _id and polls it at its time; its end takes it off the list', async () => {
    const noticeId = await approvedNotice(w);
    const robots = await wecomGroups(w, 1);
    const campaignId = await urgentNowCampaign(w, noticeId, [robots[0]!.id], '群发任务进行中');
    const id = 'live@1|440106|owner|1';
    // As its creator does (service.ts claimTask): listed, then created.
    await listLive([taskEntry(id)], clock.now());
    await WecomTaskModel.create({
      _id: id,
      occurrenceId: 'live@1',
      campaignId,
      countyCode: '440106',
      ownerUserId: 'owner',
      state: 'open',
      msgid: null,
      nextPollAt: new Date(clock.now().getTime() + 10 * 60_000),
      createdAt: clock.now(),
    });
    const before = await commandsDuring(() => w.t.ctx.wecomGroups.tick());
    const reads = before.filter((c) => HISTORY.includes(c.collection));
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((c) => byIdOnly(c.filter))).toBe(true);
    clock.advance(10 * 60_000);
    expect((await w.t.ctx.wecomGroups.tick()).polled).toBe(1);
    // Settled (as recordResults writes it): the next pass past the grace drops the entry.
    await WecomTaskModel.updateOne({ _id: id }, { $set: { state: 'sent', nextPollAt: null } });
    await w.t.ctx.wecomGroups.tick();
    expect(await WecomLiveModel.exists({ _id: taskEntry(id) })).not.toBeNull(); // listed just now: kept
    clock.advance(11 * 60_000);
    await w.t.ctx.wecomGroups.tick();
    expect(await WecomLiveModel.exists({ _id: taskEntry(id) })).toBeNull();
  }, 60_000);

  it('an install written before the list: its queued groups and open tasks are listed once at start', async () => {
    await wecomTask('older', 1, 'retry', clock.now(), { nextAt: new Date(clock.now().getTime() + 60_000) });
    await wecomItem('older', 2, 'queued', clock.now());
    await BackfillModel.deleteOne({ _id: 'wecom-group-live' });
    await buildWecomLive(clock.now());
    const listed = (await WecomLiveModel.find({}).lean()).map((e) => e._id).sort();
    expect(listed).toEqual(['item:older@2/g', 'task:older@1|440106|owner|1']);
    // Listed a second time at a later start: nothing more (the backfill ran once).
    await WecomLiveModel.deleteMany({});
    await buildWecomLive(clock.now());
    expect(await WecomLiveModel.countDocuments({})).toBe(0);
  });
});

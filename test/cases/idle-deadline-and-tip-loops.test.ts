// The scheduler's once-a-minute loops of the cases (issue 25: each idle loop ≤ 1 % of a core on
// a province a month in): the deadline watch read every live wanted notice on every pass (a
// scan of the notices on FerretDB) and the tip alerts every tip by its notified state (a scan
// of the tips). An idle pass now reads one version token by `_id`, however many notices and
// tips there are; each still does its job when something becomes due.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoticeModel } from '../../src/notices/model.js';
import { TipModel } from '../../src/tips/model.js';
import { approvedNotice } from '../helpers/delivery.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { type WantedWorld, startWantedWorld } from '../residents/world.js';

describe('the deadline watch and the tip alerts when nothing is due', () => {
  let w: WantedWorld;

  const postTip = (address: string, text: string) =>
    w.t.app.inject({
      method: 'POST',
      url: `/n/${w.noticeId}/tips`,
      remoteAddress: address,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ text }).toString(),
    });
  const alerts = () => w.doubles.received({ platform: 'wecom', robot: w.officerRobotKey });

  beforeAll(async () => {
    w = await startWantedWorld();
  }, 180_000);
  afterAll(() => w.close());

  it('an idle tip-alert pass reads the tips token only; a queued tip is still told once its slot turns', async () => {
    expect(await w.t.ctx.tips.tellQueued()).toBe(0); // a full pass: nothing queued
    const idle = await commandsDuring(() => w.t.ctx.tips.tellQueued());
    expect(idle.map((c) => `${c.name} ${c.collection}`)).toEqual(['find countversions']);
    expect(idle.every((c) => byIdOnly(c.filter))).toBe(true);

    // Two tips in one slot: the first is told at once, the second queued for the next slot.
    const before = alerts().length;
    expect((await postTip('10.7.0.1', '在菜市场见过此人')).statusCode).toBe(303);
    expect((await postTip('10.7.0.2', '可能住在五山新村')).statusCode).toBe(303);
    expect(alerts()).toHaveLength(before + 1);
    expect(await TipModel.countDocuments({ 'notified.status': 'queued' })).toBe(1);
    expect(await w.t.ctx.tips.tellQueued()).toBe(0); // the slot has not turned
    w.clock.advance(5 * 60_000);
    expect(await w.t.ctx.tips.tellQueued()).toBe(1);
    expect(alerts()).toHaveLength(before + 2);
    expect(await w.t.ctx.tips.tellQueued()).toBe(0);
    const idleAgain = await commandsDuring(() => w.t.ctx.tips.tellQueued());
    expect(idleAgain.some((c) => c.collection === 'tips')).toBe(false);
  });

  it('an idle deadline pass reads the notices token by _id only, as many notices as there are', async () => {
    expect(await w.t.ctx.cases.sweepDeadlines()).toBe(0); // a full pass: the deadline is ahead
    const idle = await commandsDuring(() => w.t.ctx.cases.sweepDeadlines());
    expect(idle.map((c) => `${c.name} ${c.collection}`)).toEqual(['find countversions']);
    expect(idle.every((c) => byIdOnly(c.filter))).toBe(true);

    // History: more notices (each write changes the token: the next pass reads them once).
    for (let i = 0; i < 4; i++) await approvedNotice(w);
    expect(await NoticeModel.countDocuments()).toBeGreaterThanOrEqual(5);
    const full = await commandsDuring(() => w.t.ctx.cases.sweepDeadlines());
    expect(full.some((c) => c.collection === 'notices')).toBe(true);
    const idleAgain = await commandsDuring(() => w.t.ctx.cases.sweepDeadlines());
    expect(idleAgain).toHaveLength(idle.length);
    expect(idleAgain.some((c) => c.collection === 'notices')).toBe(false);
  });

  it('drafts the 已过期 follow-up once the kept deadline passes, without any notice write in between', async () => {
    w.clock.set('2025-07-31T16:01:00.000Z'); // 00:01 on 1 August, the day after the deadline
    expect(await w.t.ctx.cases.sweepDeadlines()).toBe(1);
    expect(await w.t.ctx.cases.sweepDeadlines()).toBe(0);
    const notice = await NoticeModel.findById(w.noticeId).lean();
    expect((notice!.caseOutcomes ?? []).map((o) => o.kind)).toEqual(['expired']);
    const idle = await commandsDuring(() => w.t.ctx.cases.sweepDeadlines());
    expect(idle.some((c) => c.collection === 'notices')).toBe(false);
  });
});

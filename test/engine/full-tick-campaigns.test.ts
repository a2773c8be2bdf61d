// The scheduler's full tick (one per 10 minutes when idle, and at every wake) read the
// campaigns collection three times, every campaign ever made on FerretDB: the due campaigns and
// the earliest next run by `{status, nextRunAt}`, and the campaigns with intents by `intents.0`.
// It now takes them from the campaigns' index (campaigns/list-index.ts: a per-process copy kept
// exact by the write log, read by `_id`) and reads only the candidates by `_id`: the same
// commands with three times the campaigns. Runs still come at their time. The notices are read
// by `_id` only too (the case outcomes' intents from their list, tenth session).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OccurrenceModel } from '../../src/engine/model.js';
import { fixedClock } from '../../src/lib/clock.js';
import { commandsDuring } from '../helpers/commands.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  type DeliveryWorld,
  runUntilIdle,
  startDeliveryWorld,
  urgentNowCampaign,
  wecomGroups,
} from '../helpers/delivery.js';

// 10:00 in Shanghai: outside quiet hours.
const clock = fixedClock('2026-06-08T02:00:00.000Z');

describe('the full tick reads campaigns by _id', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  let robots: { id: string; key: string }[];

  async function history(n: number, from: number) {
    for (let i = from; i < from + n; i++)
      await urgentNowCampaign(
        w,
        noticeId,
        robots.map((g) => g.id),
        `历史推送 ${i}`,
      );
    await runUntilIdle(w);
  }

  /** The campaign commands of one full tick: what each read filters on. */
  async function fullTick() {
    // Warm: the intent sweep (every 5 s) has seen the new campaigns' intents done once.
    await w.scheduler.tick();
    clock.advance(5_000);
    await w.scheduler.tick();
    clock.advance(5_000);
    const seen = await commandsDuring(() => w.scheduler.tick());
    const campaigns = seen.filter((c) => c.collection === 'campaigns');
    // The case outcomes' intents: their list (notices/intent-list.ts), each notice by `_id`.
    const notices = seen.filter((c) => c.collection === 'notices');
    return {
      noticeScans: notices
        .filter((c) => !c.filter || !('_id' in c.filter))
        .map((c) => `${c.name} ${JSON.stringify(c.filter)}`),
      shape: campaigns.map((c) => `${c.name} ${Object.keys(c.filter ?? {}).sort()}`),
      scans: campaigns
        .filter((c) => !c.filter || !('_id' in c.filter))
        .map((c) => `${c.name} ${JSON.stringify(c.filter)}`),
    };
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock });
    noticeId = await approvedNotice(w);
    robots = await wecomGroups(w, 2);
    await history(2, 0);
  }, 180_000);
  afterAll(() => w.close());

  it('reads no campaign but by _id, the same commands with three times the campaigns', async () => {
    const small = await fullTick();
    process.stdout.write(`full tick campaign commands: ${JSON.stringify(small)}\n`);
    expect(small.scans).toEqual([]);
    expect(small.noticeScans).toEqual([]);
    await history(4, 2);
    const large = await fullTick();
    expect(large.scans).toEqual([]);
    expect(large.noticeScans).toEqual([]);
    expect(large.shape).toEqual(small.shape);
  }, 180_000);

  it('a campaign approved for later still runs at its time', async () => {
    const at = new Date(clock.now().getTime() + 30 * 60_000);
    const campaignId = await approvedCampaign(w, {
      title: '稍后推送',
      noticeId,
      audience: audienceOf(
        [],
        robots.map((g) => g.id),
      ),
      schedule: { kind: 'once', at: at.toISOString() },
    });
    await w.scheduler.tick();
    expect(await OccurrenceModel.countDocuments({ campaignId })).toBe(0);
    clock.set(new Date(at.getTime() + 1_000));
    await w.scheduler.tickWhenDue();
    expect(await OccurrenceModel.countDocuments({ campaignId })).toBe(1);
  }, 120_000);
});

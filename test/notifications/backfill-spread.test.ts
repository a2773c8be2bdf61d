// The open-task watch list of an install written before it existed is listed once at start,
// every task already due: the officer notifier's first pass then handled every open task of
// the month at once (on the 3,000-group world it did not end within 30 minutes). The backfill
// spreads the first looks: at most `perPass` entries due per notifier period, an officer's run
// kept whole, so each pass does a bounded part and every officer is still told, once. And a pass
// handles at most `maxDuePerPass` due entries whenever many fall due at once (an outage).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BACKFILL_SPACING_MS,
  OpenTaskMarkModel,
  OpenTaskModel,
  buildOpenTaskWatch,
} from '../../src/channels/manual/watch.js';
import { fixedClock } from '../../src/lib/clock.js';
import type { NotifierSettings } from '../../src/notifications/notifier.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  runUntilIdle,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { officerGroups, officerWithRobot } from '../helpers/officers.js';

// 10:00 in Shanghai: outside the default quiet hours.
const clock = fixedClock('2026-06-03T02:00:00.000Z');
const PER_PASS = 5;
const RUNS = 4;
const GROUPS_PER_RUN = 3;

describe('the watch list backfill spreads the notifier first passes', () => {
  let w: DeliveryWorld;
  const phone = '13800009902';
  const robot = `station-spread-${Math.random().toString(36).slice(2, 10)}`;

  const digests = () =>
    w.doubles
      .received({ platform: 'wecom', robot })
      .map((m) => (m.body.text as { content: string }).content)
      .filter((text) => text.includes('转发'));

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    const officer = { name: '孙警官', phone };
    await officerWithRobot(w, { ...officer, robot, superiorUserId: null });
    // Four pushes, each to three of the officer's groups: four officer runs of three tasks.
    for (let r = 0; r < RUNS; r++) {
      const groups = await officerGroups(w, officer, `补录${r + 1}批`, GROUPS_PER_RUN, 80);
      const noticeId = await approvedNotice(w, { title: `补录通告${r + 1}` });
      await approvedCampaign(w, { title: `补录推送${r + 1}`, noticeId, audience: audienceOf([], groups), schedule: { kind: 'now' } });
      await runUntilIdle(w);
      clock.advance(60_000);
    }
    // As an install before the watch list: the tasks exist, the list and its markers do not.
    await OpenTaskModel.deleteMany({});
    await OpenTaskMarkModel.deleteMany({});
    clock.advance(3600_000);
  }, 180_000);
  afterAll(() => w.close());

  it('lists every open task with at most perPass due per period, and each pass tells one part', async () => {
    const start = clock.now();
    expect(await buildOpenTaskWatch(start, undefined, PER_PASS)).toBe(RUNS * GROUPS_PER_RUN);
    const entries = await OpenTaskModel.find({}).lean();
    expect(entries).toHaveLength(RUNS * GROUPS_PER_RUN);
    const perSlot = new Map<number, number>();
    for (const entry of entries) {
      const slot = (entry.dueAt.getTime() - start.getTime()) / BACKFILL_SPACING_MS;
      perSlot.set(slot, (perSlot.get(slot) ?? 0) + 1);
    }
    // Runs of three, at most five per slot: one run per slot, four slots 15 s apart.
    expect([...perSlot].sort((a, b) => a[0] - b[0])).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    // One officer run's digest per pass, not all four at once; every run told once in the end.
    const told: number[] = [];
    for (let pass = 0; pass < RUNS; pass++) {
      await w.t.ctx.notifier.tick();
      told.push(digests().length);
      clock.advance(BACKFILL_SPACING_MS);
    }
    expect(told).toEqual([1, 2, 3, 4]);
    await w.t.ctx.notifier.tick();
    expect(digests()).toHaveLength(RUNS);
  });

  it('handles at most maxDuePerPass due entries per pass when all fall due at once, runs whole', async () => {
    // Hours later every run's reminder is due at the same moment (as after an outage).
    (w.t.ctx.notifier as unknown as { settings: NotifierSettings }).settings.maxDuePerPass = PER_PASS;
    const posted = () => w.doubles.received({ platform: 'wecom', robot }).length;
    const before = posted();
    clock.advance(5 * 3600_000);
    const told: number[] = [];
    for (let pass = 0; pass < RUNS; pass++) {
      await w.t.ctx.notifier.tick();
      told.push(posted() - before);
    }
    // One run (three entries, at most five) per pass; each run once.
    expect(told).toEqual([1, 2, 3, 4]);
  });
});

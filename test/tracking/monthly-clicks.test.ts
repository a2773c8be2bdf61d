// The monthly table's clicks (点击次数, 独立访客) come from the click tallies read by `_id`
// (tracking/click-tally.ts), never from the clicks collection: a call's commands do not grow
// with the clicks ever counted, and its figures equal counts made from the raw clicks across
// months, counties, the three people, a writer killed between its click and its tally, a
// tally write done twice, and an install that counted clicks before the tallies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClickTallyIntentModel,
  forgetClickTalliesBuilt,
  tallyClick,
} from '../../src/tracking/click-tally.js';
import { buildClickTallies } from '../../src/tracking/click-backfill.js';
import { ClickModel } from '../../src/tracking/clicks.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { fixedClock } from '../../src/lib/clock.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

// Sessions are made at BASE; clicks are written at other days and the clock put back after.
const BASE = '2026-06-25T04:00:00.000Z';
const clock = fixedClock(BASE);
const VILLAGES = [TREE.villageA.code, TREE.villageB.code];
const TOWNSHIP_OF: Record<string, string> = {
  [TREE.villageA.code]: TREE.townshipA.code,
  [TREE.villageB.code]: TREE.townshipB.code,
};

interface Row {
  townshipCode: string;
  clicks: number;
  uniqueClicks: number;
}

describe('the monthly table’s clicks from tallies read by _id', () => {
  let t: TestApp;
  let editor: string;
  let coordinator: string;
  let admin: string;
  let visitor = 0;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    await createRegionTree(t);
    editor = (await t.userToken('editor', TREE.countyA.code)).token;
    coordinator = (await t.userToken('editor', TREE.city.code)).token;
    admin = (await t.userToken('admin', TREE.province.code)).token;
  });
  afterAll(() => t.close());

  /** Clicks on one village's card: `visitors` visitors, each clicking `times` times. */
  const clicks = async (village: string | null, visitors: number, times: number, day = BASE) => {
    clock.set(day);
    try {
      await clicksNow(village, visitors, times);
    } finally {
      clock.set(BASE);
    }
  };
  const clicksNow = async (village: string | null, visitors: number, times: number) => {
    for (let v = 0; v < visitors; v++) {
      visitor += 1;
      for (let n = 0; n < times; n++) {
        await t.ctx.tracking.clicks.record(
          {
            campaignId: 'c'.repeat(24),
            groupId: village ? `g${village}`.padEnd(24, '0') : null,
            noticeId: 'n'.repeat(24),
            villageCode: village,
          },
          `10.1.${Math.floor(visitor / 200)}.${visitor % 200}`,
          'WeChat/8.0',
        );
      }
    }
  };

  /** The table's click figures per township with clicks (and the total). */
  const table = async (token: string, period: string) => {
    const response = await t.request('GET', `/api/reach/monthly?period=${period}`, token);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json() as { rows: Row[]; total: { clicks: number; uniqueClicks: number } };
    const rows = body.rows
      .filter((row) => row.clicks > 0 || row.uniqueClicks > 0)
      .map((row) => ({ townshipCode: row.townshipCode, clicks: row.clicks, uniqueClicks: row.uniqueClicks }))
      .sort((a, b) => a.townshipCode.localeCompare(b.townshipCode));
    return { rows, total: body.total.clicks, unique: body.total.uniqueClicks };
  };

  /** The same from the raw clicks (the definition: every click, first clicks as unique). */
  const raw = async (townships: string[], months: string[]) => {
    const all = await ClickModel.find({}).lean();
    const rows: Row[] = [];
    for (const code of [...townships].sort()) {
      const mine = all.filter((c) => c.townshipCode === code && months.includes(c.month));
      if (mine.length > 0) {
        rows.push({ townshipCode: code, clicks: mine.length, uniqueClicks: mine.filter((c) => c.first).length });
      }
    }
    return {
      rows,
      total: rows.reduce((n, r) => n + r.clicks, 0),
      unique: rows.reduce((n, r) => n + r.uniqueClicks, 0),
    };
  };

  const both = [TREE.townshipA.code, TREE.townshipB.code];
  const PERIODS: [string, string[]][] = [
    ['2026-05', ['2026-05']],
    ['2026-06', ['2026-06']],
    ['2026-Q2', ['2026-04', '2026-05', '2026-06']],
    ['2026', Array.from({ length: 12 }, (_, i) => `2026-${String(i + 1).padStart(2, '0')}`)],
  ];

  const expectExact = async () => {
    for (const [period, months] of PERIODS) {
      expect(await table(editor, period), `county editor ${period}`).toEqual(
        await raw([TREE.townshipA.code], months),
      );
      expect(await table(coordinator, period), `city coordinator ${period}`).toEqual(await raw(both, months));
      expect(await table(admin, period), `province admin ${period}`).toEqual(await raw(both, months));
    }
  };

  it('reads no click: the same commands whatever the clicks counted, figures equal the raw counts', async () => {
    const may = '2026-05-10T04:00:00.000Z';
    await clicks(TREE.villageA.code, 3, 2, may);
    await clicks(TREE.villageB.code, 2, 1, may);
    await clicks(null, 2, 1, may);
    await clicks(TREE.villageA.code, 2, 3, '2026-06-03T04:00:00.000Z');
    await clicks(TREE.villageB.code, 1, 1, '2026-06-03T04:00:00.000Z');
    await expectExact();

    const seen = async (token: string) => {
      const commands = await commandsDuring(() => table(token, '2026-06'));
      // Nothing on the clicks; the tallies by `_id` only.
      expect(commands.filter((c) => c.collection === 'clicks')).toEqual([]);
      expect(commands.filter((c) => c.collection === 'clicktallies' && !byIdOnly(c.filter))).toEqual([]);
      return commands.length;
    };
    const before = [await seen(editor), await seen(coordinator), await seen(admin)];
    // More history: other months, both counties, more visitors (the same townships shown).
    for (const village of VILLAGES) await clicks(village, 4, 2, '2026-07-20T04:00:00.000Z');
    for (const village of VILLAGES) await clicks(village, 3, 1, '2026-06-21T04:00:00.000Z');
    // The clicks' batched tally step (tracking/click-flusher.ts) is theirs, not the table's:
    // applied before counting the table's commands (a table read applies what is pending).
    await t.ctx.tracking.clicks.flushTallies();
    expect([await seen(editor), await seen(coordinator), await seen(admin)]).toEqual(before);
    await expectExact();
  });

  it('stays exact when a writer is killed between its click and its tally, and when a tally is written twice', async () => {
    const clicksService = t.ctx.tracking.clicks;
    // The writer's own tally step (the flusher's), put back after each stand-in below.
    const ownTally = clicksService.tally;
    // Killed after its click, before its tally: the click is missing from the tallies until
    // the repair, which counts it once its intent is stale.
    clicksService.tally = async () => {
      throw new Error('killed');
    };
    await expect(clicks(TREE.villageB.code, 1, 1)).rejects.toThrow('killed');
    // Killed after its tally, before its intent was removed: the repair must not count it again.
    clicksService.tally = async (intent, first) => {
      await tallyClick(intent, first);
      throw new Error('killed');
    };
    await expect(clicks(TREE.villageA.code, 1, 1)).rejects.toThrow('killed');
    clicksService.tally = ownTally;
    expect(await ClickTallyIntentModel.countDocuments({})).toBe(2);
    expect((await table(admin, '2026-06')).total).toBe((await raw(both, ['2026-06'])).total - 1);
    // Not stale yet: left for its writer.
    expect(await clicksService.repairTallies(clock.now(), true)).toBe(0);
    expect(await clicksService.repairTallies(new Date(clock.now().getTime() + 61_000), true)).toBe(2);
    expect(await ClickTallyIntentModel.countDocuments({})).toBe(0);
    await expectExact();

    // The same tally step made twice for one click (a retried write) counts it once.
    const retried = async (intent: Parameters<typeof tallyClick>[0], first: boolean) => {
      await tallyClick(intent, first);
      await tallyClick(intent, first);
    };
    clicksService.tally = retried;
    await clicks(TREE.villageA.code, 2, 2);
    clicksService.tally = ownTally;
    await expectExact();
  });

  it('counts the clicks of an install that counted them before the tallies, once', async () => {
    // Clicks as older code wrote them (no intent, no tally), in a month of their own.
    const old = Array.from({ length: 7 }, (_, i) => ({
      _id: `old${i}#${i % 2}`,
      campaignId: 'c'.repeat(24),
      groupId: '',
      noticeId: 'n'.repeat(24),
      townshipCode: TOWNSHIP_OF[VILLAGES[i % 2]!]!,
      day: '2026-04-02',
      month: '2026-04',
      first: i % 2 === 0,
      at: new Date('2026-04-02T04:00:00.000Z'),
    }));
    await ClickModel.insertMany(old);
    await BackfillModel.deleteOne({ _id: 'click-tallies' });
    forgetClickTalliesBuilt();
    // Until the tallies are built the table counts the clicks themselves: exact meanwhile.
    await expectExact();
    await buildClickTallies();
    // Built twice (two processes starting, or one killed before its marker): the same figures.
    await BackfillModel.deleteOne({ _id: 'click-tallies' });
    await buildClickTallies();
    forgetClickTalliesBuilt();
    await expectExact();
    const commands = await commandsDuring(() => table(admin, '2026-Q2'));
    expect(commands.filter((c) => c.collection === 'clicks')).toEqual([]);
  });
});

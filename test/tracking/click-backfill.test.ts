// The one-time click-tally backfill in the background (click-backfill.ts): the start does not
// wait for it, it resumes after a kill without counting a click twice, and clicks written
// meanwhile are counted once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDatabase } from '../../src/context.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { fixedClock } from '../../src/lib/clock.js';
import { buildClickTallies, ClickTallyBackfill, PROGRESS_ID } from '../../src/tracking/click-backfill.js';
import { ClickTallyModel, clickTalliesBuilt, forgetClickTalliesBuilt } from '../../src/tracking/click-tally.js';
import { ClickModel } from '../../src/tracking/clicks.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';
import { createRegionTree, TREE } from '../helpers/regions.js';

const BASE = '2026-06-25T04:00:00.000Z';
const clock = fixedClock(BASE);
const VILLAGES = [TREE.villageA.code, TREE.villageB.code];
const TOWNSHIP_OF: Record<string, string> = {
  [TREE.villageA.code]: TREE.townshipA.code,
  [TREE.villageB.code]: TREE.townshipB.code,
};
const MONTHS = ['2026-04', '2026-05', '2026-06'];
/** Old clicks (as an install counted them before the tallies: no intent). */
const OLD = 430;

interface Row {
  townshipCode: string;
  clicks: number;
  uniqueClicks: number;
}

describe('the click-tally backfill in the background', () => {
  let t: TestApp;
  let admin: string;
  let editor: string;
  let visitor = 0;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    await createRegionTree(t);
    admin = (await t.userToken('admin', TREE.province.code)).token;
    editor = (await t.userToken('editor', TREE.countyA.code)).token;
    await ClickModel.insertMany(
      Array.from({ length: OLD }, (_, i) => {
        const month = MONTHS[i % 3]!;
        return {
          _id: `old${i}#${i % 4}`,
          campaignId: 'c'.repeat(24),
          groupId: '',
          noticeId: 'n'.repeat(24),
          townshipCode: TOWNSHIP_OF[VILLAGES[i % 2]!]!,
          day: `${month}-0${1 + (i % 7)}`,
          month,
          first: i % 4 === 0,
          at: new Date(`${month}-02T04:00:00.000Z`),
        };
      }),
    );
    // An install upgraded from before the tallies: the backfill has not run.
    await BackfillModel.deleteOne({ _id: 'click-tallies' });
    forgetClickTalliesBuilt();
  });
  afterAll(() => t.close());

  /** New clicks (this code's writers: intent, click, tally) on a village in a month. */
  const newClicks = async (village: string, month: string, visitors: number) => {
    clock.set(`${month}-10T04:00:00.000Z`);
    try {
      for (let v = 0; v < visitors; v++) {
        visitor += 1;
        for (let n = 0; n < 2; n++) {
          await t.ctx.tracking.clicks.record(
            {
              campaignId: 'c'.repeat(24),
              groupId: `g${village}`.padEnd(24, '0'),
              noticeId: 'n'.repeat(24),
              villageCode: village,
            },
            `10.2.${Math.floor(visitor / 200)}.${visitor % 200}`,
            'WeChat/8.0',
          );
        }
      }
    } finally {
      clock.set(BASE);
    }
  };

  const table = async (token: string) => {
    const response = await t.request('GET', '/api/reach/monthly?period=2026-Q2', token);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json() as { rows: Row[] };
    return body.rows
      .filter((row) => row.clicks > 0 || row.uniqueClicks > 0)
      .map((row) => ({ townshipCode: row.townshipCode, clicks: row.clicks, uniqueClicks: row.uniqueClicks }))
      .sort((a, b) => a.townshipCode.localeCompare(b.townshipCode));
  };

  const raw = async (townships: string[]) => {
    const all = await ClickModel.find({}).lean();
    return [...townships].sort().flatMap((code) => {
      const mine = all.filter((c) => c.townshipCode === code && MONTHS.includes(c.month));
      return mine.length > 0
        ? [{ townshipCode: code, clicks: mine.length, uniqueClicks: mine.filter((c) => c.first).length }]
        : [];
    });
  };

  const expectExact = async () => {
    expect(await table(admin)).toEqual(await raw([TREE.townshipA.code, TREE.townshipB.code]));
    expect(await table(editor)).toEqual(await raw([TREE.townshipA.code]));
  };

  /** The tallies' figures only (the clicks not read): built, from a fresh process's view. */
  const expectFromTallies = async () => {
    forgetClickTalliesBuilt();
    expect(await clickTalliesBuilt()).toBe(true);
    const commands = await commandsDuring(() => table(admin));
    expect(commands.filter((c) => c.collection === 'clicks')).toEqual([]);
    await expectExact();
  };

  it('starts and answers before the backfill has run; the refresh of the lease holder does it', async () => {
    // A process starting on this install (the same steps as the server's start).
    await prepareDatabase(t.ctx);
    forgetClickTalliesBuilt();
    // Today's start ran the whole backfill before answering; now the start leaves it.
    expect(await clickTalliesBuilt()).toBe(false);
    expect((await t.request('GET', '/healthz')).statusCode).toBe(200);
    expect((await t.request('GET', '/readyz')).statusCode).toBe(200);
    // Meanwhile the table counts the clicks themselves: exact.
    await expectExact();
    // The roll-up lease's holder backfills in its refresh (one slice here: few clicks).
    expect(await t.ctx.tracking.rollups.refresh('click-backfill-test')).not.toBeNull();
    await t.ctx.tracking.rollups.release('click-backfill-test');
    expect(await BackfillModel.collection.findOne({ _id: PROGRESS_ID as never })).toBeNull();
    await expectFromTallies();
  });

  it('resumes after kills without counting a click twice; clicks written meanwhile count once', async () => {
    // Run again from nothing: the marker gone, the old clicks' cells cleared.
    await BackfillModel.deleteOne({ _id: 'click-tallies' });
    await ClickTallyModel.updateMany({}, { $unset: { b: 1 } });
    forgetClickTalliesBuilt();
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    const always = async () => true;

    // Process 1: reads 130 clicks (marks at 50, 100, 130), then is killed.
    const first = new ClickTallyBackfill(log, 50);
    expect(await first.step(always, 60_000, 130)).toBe(false);
    await first.drop();
    await newClicks(VILLAGES[0]!, '2026-05', 6);

    // Process 2: resumes at 130, reads on and loses its lease at its second mark (the 50
    // clicks after its first mark are read but never saved), then dies.
    let keeps = 0;
    const second = new ClickTallyBackfill(log, 50);
    expect(await second.step(async () => ++keeps < 2, 60_000)).toBe(false);
    await second.drop();
    await newClicks(VILLAGES[1]!, '2026-04', 5);
    const mark = await BackfillModel.collection.findOne<{ done: number }>({ _id: PROGRESS_ID as never });
    expect(mark?.done).toBe(180);
    // Not built yet: the table reads the clicks, exact.
    forgetClickTalliesBuilt();
    expect(await clickTalliesBuilt()).toBe(false);
    await expectExact();

    // Process 3: resumes at 180 and finishes.
    const third = new ClickTallyBackfill(log, 50);
    await newClicks(VILLAGES[0]!, '2026-06', 4);
    expect(await third.step(always, 60_000)).toBe(true);
    expect(lines.filter((line) => line.includes('resumed after'))).toEqual([
      'backfill resumed after 130 old clicks',
      'backfill resumed after 180 old clicks',
    ]);
    expect(await BackfillModel.collection.findOne({ _id: PROGRESS_ID as never })).toBeNull();
    await newClicks(VILLAGES[1]!, '2026-06', 3);
    await expectFromTallies();

    // A whole rerun (two processes both finishing): the same figures.
    await BackfillModel.deleteOne({ _id: 'click-tallies' });
    await buildClickTallies();
    await expectFromTallies();
  });
});

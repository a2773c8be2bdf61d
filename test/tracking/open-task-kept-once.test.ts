// The province admin's open tasks screen reads no county document the process already holds
// (issue 25, eleventh session): the workbench, the open-task list (`/api/manual-tasks?open=true`)
// and the monthly table's 待民警转发 share one kept copy of the per-county open-task documents
// (context.ts), which the api role warms at start (main.ts, `workbench.warm`). Before, the list
// and the table each kept a copy of their own, so a province admin's first list call read every
// county's document again (75 documents, ~36,000 entries, the 456 ms p99 at 50,000 groups), and
// every count write was re-read once per screen. When eight counties hold open tasks, then
// after the warm-up the list and the table read no county document; a write (this process's,
// another process's, or a writer killed between its entry and its count) is re-read once for
// all three screens; and the list equals the open tasks read straight from the tasks, newest
// first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { COUNTS_LOG, countedChange, flushOpenCounts, OpenCountModel } from '../../src/channels/manual/open-counts.js';
import { OpenTaskModel, repairCounts } from '../../src/channels/manual/watch.js';
import { collectionChanged } from '../../src/db/versions.js';
import { fixedClock } from '../../src/lib/clock.js';
import { commandsDuring, type SeenCommand } from '../helpers/commands.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  type DeliveryWorld,
  manualGroup,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { makeRunTasks, PATH_A, PATH_B, taskTarget, villagePath } from '../helpers/officer-tasks.js';
import { addRegions, TREE } from '../helpers/regions.js';

const clock = fixedClock('2026-06-15T02:00:00.000Z');
const RUN_AT = '2026-06-14T02:00:00.000Z';

/** Six more counties of the city, each with a township and a village. */
const MORE = Array.from({ length: 6 }, (_, i) => {
  const county = `4401${20 + i}`;
  return {
    county: { code: county, name: `测试${i}区`, parentCode: TREE.city.code },
    township: { code: `${county}001`, name: `测试${i}街道`, parentCode: county },
    village: { code: `${county}001001`, name: `测试${i}社区`, parentCode: `${county}001` },
  };
});

describe("the province admin's open tasks from the process's one kept copy", () => {
  let w: DeliveryWorld;
  let campaignId: string;
  const paths = [PATH_A, PATH_B, ...MORE.map((m) => villagePath(m.county.code, m.township.code, m.village.code))];

  const open = (token: string, limit = 50) =>
    w.t.request('GET', `/api/manual-tasks?open=true&limit=${limit}`, token).then((r) => {
      expect(r.statusCode, r.body).toBe(200);
      return (r.json() as { id: string }[]).map((task) => task.id);
    });
  const monthly = (token: string) =>
    w.t.request('GET', '/api/reach/monthly?period=2026-06', token).then((r) => {
      expect(r.statusCode, r.body).toBe(200);
      return r.json().total.awaitingOfficers as number;
    });
  const awaiting = (token: string) =>
    w.t.request('GET', '/api/workbench/counts', token).then((r) => {
      expect(r.statusCode, r.body).toBe(200);
      return r.json().awaitingTasks as number;
    });
  /** The oracle: unconfirmed, not withdrawn tasks straight from the tasks, newest first (then id). */
  async function direct(limit = 10_000): Promise<string[]> {
    const tasks = await ManualTaskModel.find({ confirmedAt: null, withdrawnAt: null }, { createdAt: 1 }).lean<
      { _id: string; createdAt: Date }[]
    >();
    return tasks
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a._id < b._id ? 1 : -1))
      .slice(0, limit)
      .map((task) => String(task._id));
  }
  const countyReads = (seen: SeenCommand[]) =>
    seen.filter((c) => c.collection === 'opentaskcounts' && c.name === 'find').map((c) => String(c.filter?._id));
  /** The three screens of a province admin, one after another: the county documents they read. */
  async function screens(): Promise<string[]> {
    const seen = await commandsDuring(async () => {
      await awaiting(w.t.adminToken);
      await open(w.t.adminToken, 20);
      await monthly(w.t.adminToken);
    });
    return countyReads(seen);
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    await addRegions(
      w.t,
      MORE.flatMap((m) => [m.county, m.township, m.village]),
    );
    const noticeId = await approvedNotice(w, { title: '防诈提醒' });
    const group = await manualGroup(w, '东村群', { officer: { name: '王警官', phone: '13900000001' } });
    campaignId = await approvedCampaign(w, {
      title: '防诈提醒',
      noticeId,
      audience: audienceOf([], [group]),
      schedule: { kind: 'now' },
    });
    await w.t.ctx.tracking.rollups.refreshAll('test');
    // Tasks in every county, in waves a minute apart (newest first differs from county order).
    for (let wave = 0; wave < 3; wave++) {
      for (const [i, path] of paths.entries()) {
        await makeRunTasks(
          w.t.ctx.manualTasks,
          `${campaignId}@${RUN_AT}`,
          Array.from({ length: 2 + ((i + wave) % 3) }, () => taskTarget(path)),
        );
        clock.advance(7_000);
      }
      clock.advance(60_000);
    }
    await flushOpenCounts();
  });
  afterAll(() => w.close());

  it('reads no county document after the warm-up, and each write once for the workbench, list and table', async () => {
    // As main.ts does in the api role at start.
    await w.t.ctx.workbench.warm(w.t.ctx.regions.rootScope());
    const first = await commandsDuring(() => open(w.t.adminToken, 20));
    expect(countyReads(first)).toEqual([]);
    expect(countyReads(await commandsDuring(() => monthly(w.t.adminToken)))).toEqual([]);
    expect(await screens()).toEqual([]);
    expect(await open(w.t.adminToken, 20)).toEqual(await direct(20));
    expect(await open(w.t.adminToken, 500)).toEqual(await direct());
    const all = (await direct()).length;
    expect(await awaiting(w.t.adminToken)).toBe(all);
    expect(await monthly(w.t.adminToken)).toBe(all);

    // This process's write (a wave in county B): county B re-read once, for all three screens.
    clock.advance(60_000);
    await makeRunTasks(w.t.ctx.manualTasks, `${campaignId}@${RUN_AT}`, [taskTarget(PATH_B), taskTarget(PATH_B)]);
    await flushOpenCounts();
    expect(await screens()).toEqual([TREE.countyB.code]);
    expect(await open(w.t.adminToken, 20)).toEqual(await direct(20));
    expect(await awaiting(w.t.adminToken)).toBe(all + 2);

    // Another process's confirmation in county A: its task, entry and county document written,
    // then the counts' log (open-counts.ts), without this process's readers being told.
    const [victim] = (await open(w.editor, 500)).slice(-1);
    await ManualTaskModel.updateOne({ _id: victim }, { $set: { confirmedAt: clock.now() } });
    await OpenTaskModel.deleteOne({ _id: victim });
    await OpenCountModel.updateOne({ _id: TREE.countyA.code }, { $unset: { [`e.${victim}`]: '' } });
    await collectionChanged(COUNTS_LOG, [TREE.countyA.code]);
    expect(await screens()).toEqual([TREE.countyA.code]);
    expect(await open(w.t.adminToken, 500)).toEqual(await direct());
    expect(await awaiting(w.t.adminToken)).toBe(all + 1);
    expect(await monthly(w.t.adminToken)).toBe(all + 1);

    // A writer killed between its entry write and its count write (a confirmation in a third
    // county): the list checks each task it shows, so it is exact at once; the counts are once
    // the notifier's repair re-counted the county, which is then re-read once.
    const third = MORE[0]!.county.code;
    const [killed] = (await OpenTaskModel.find({ regionPath: third }).lean<{ _id: string; regionPath: string[] }[]>())
      .map((entry) => entry)
      .slice(0, 1);
    await ManualTaskModel.updateOne({ _id: killed!._id }, { $set: { confirmedAt: clock.now() } });
    await countedChange(
      [killed!._id],
      [killed!.regionPath],
      async () => {
        await OpenTaskModel.deleteOne({ _id: killed!._id });
        throw new Error('killed');
      },
      async () => [],
    ).catch(() => undefined);
    expect(await open(w.t.adminToken, 500)).toEqual(await direct());
    await repairCounts(new Date(Date.now() + 120_000));
    expect(await screens()).toEqual([third]);
    expect(await open(w.t.adminToken, 500)).toEqual(await direct());
    expect(await awaiting(w.t.adminToken)).toBe(all);
    expect(await monthly(w.t.adminToken)).toBe(all);
  });
});

// The monthly table's 待民警转发 from per-county summaries (issue 25, eleventh session): a call
// walked every open task of the scope (~36,000 for a province admin at 50,000 groups); now it
// sums each county's runs and townships, kept with the county document the process holds.
// When a county's open tasks grow from 50 to 2,000 in the same runs and townships, a call
// visits as many entries, runs and groups as before (`openTaskWork`), and the figures per
// township, category and in all equal those counted from the raw tasks (unconfirmed, not
// withdrawn, not expired; runs in the period and not past the day horizon; campaigns not
// withdrawn, read live) for the province, a county and a village, after this process's writes,
// another process's confirmation and a campaign retracted with its tasks still open.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignModel } from '../../src/campaigns/model.js';
import { localDay } from '../../src/campaigns/schedule.js';
import { withdrawalReason } from '../../src/campaigns/withdrawal.js';
import { KeptOpenCounts } from '../../src/channels/manual/kept-open-counts.js';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { COUNTS_LOG, flushOpenCounts, OpenCountModel } from '../../src/channels/manual/open-counts.js';
import { OpenTaskModel } from '../../src/channels/manual/watch.js';
import { collectionChanged } from '../../src/db/versions.js';
import { fixedClock } from '../../src/lib/clock.js';
import { NoticeModel } from '../../src/notices/model.js';
import { Scope } from '../../src/regions/scope.js';
import { OpenTaskCounter, openTaskWork } from '../../src/tracking/open-tasks.js';
import { tasksExpiredAfter } from '../../src/tracking/progress.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  type DeliveryWorld,
  manualGroup,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { makeRunTasks, PATH_A, PATH_B, taskTarget } from '../helpers/officer-tasks.js';
import { TREE } from '../helpers/regions.js';

const clock = fixedClock('2026-06-15T02:00:00.000Z');
const JUNE = '2026-06-14T02:00:00.000Z';
const LATE = '2026-06-15T01:00:00.000Z';
const MAY = '2026-05-20T02:00:00.000Z';
const ZONE = 'Asia/Shanghai';

type Counts = { byTownship: Record<string, number>; byCategory: Record<string, number>; total: number };

describe("the monthly table's open tasks from per-county summaries", () => {
  let w: DeliveryWorld;
  let fraud: string;
  let theft: string;
  const counter = new OpenTaskCounter(clock, ZONE, new KeptOpenCounts());
  const make = (campaign: string, runAt: string, path: string[], size: number) =>
    makeRunTasks(
      w.t.ctx.manualTasks,
      `${campaign}@${runAt}`,
      Array.from({ length: size }, () => taskTarget(path)),
    );

  /** The figures of a call, and the entries, runs and groups it visited. */
  async function figures(region: string, within = region, from = '2026-06', to = '2026-06') {
    const before = openTaskWork.visited;
    const counts = await counter.counts(new Scope(region), within, from, to);
    const visited = openTaskWork.visited - before;
    const plain: Counts = {
      byTownship: Object.fromEntries([...counts.byTownship].sort()),
      byCategory: Object.fromEntries([...counts.byCategory].sort()),
      total: counts.total,
    };
    return { counts: plain, visited };
  }

  type RawTask = { taskKey: string; regionPath: string[]; createdAt: Date };
  /** The unconfirmed, unwithdrawn tasks, and the live campaigns' notices by campaign id (null: withdrawn). */
  async function rawTasks() {
    const tasks = await ManualTaskModel.find({ confirmedAt: null, withdrawnAt: null }).lean<RawTask[]>();
    return { tasks, runs: new Map<string, { content: { category: string } } | null>() };
  }

  /**
   * The oracle, from the raw tasks and their campaigns and notices read live. `raw`: read by
   * the caller when it asks several questions with nothing written between them (the same
   * tasks each would read; each region's are picked from them here).
   */
  async function oracle(
    region: string,
    from = '2026-06',
    to = '2026-06',
    raw?: Awaited<ReturnType<typeof rawTasks>>,
  ): Promise<Counts> {
    const now = clock.now().getTime();
    const { tasks, runs } = raw ?? (await rawTasks());
    const byTownship = new Map<string, number>();
    const byCategory = new Map<string, number>();
    let total = 0;
    for (const task of tasks) {
      if (!task.regionPath.includes(region)) continue;
      if (task.createdAt.getTime() + 7 * 24 * 3600_000 <= now) continue;
      const [campaignId, rest] = task.taskKey.split('@') as [string, string];
      const day = localDay(new Date(rest.slice(0, rest.lastIndexOf('/'))), ZONE);
      if (day.slice(0, 7) < from || day.slice(0, 7) > to || tasksExpiredAfter(day, now)) continue;
      if (!runs.has(campaignId)) {
        const campaign = await CampaignModel.findById(campaignId).lean<{ noticeId: string }>();
        const notice = await NoticeModel.findById(campaign!.noticeId).lean<{ content: { category: string } }>();
        runs.set(campaignId, withdrawalReason(campaign as never, notice as never) === null ? notice : null);
      }
      const notice = runs.get(campaignId);
      if (!notice) continue;
      const township = task.regionPath[task.regionPath.length - 2]!;
      byTownship.set(township, (byTownship.get(township) ?? 0) + 1);
      byCategory.set(notice!.content.category, (byCategory.get(notice!.content.category) ?? 0) + 1);
      total += 1;
    }
    return {
      byTownship: Object.fromEntries([...byTownship].sort()),
      byCategory: Object.fromEntries([...byCategory].sort()),
      total,
    };
  }

  async function exact() {
    const raw = await rawTasks();
    for (const region of [TREE.province.code, TREE.countyA.code, TREE.countyB.code, TREE.villageB.code]) {
      expect((await figures(region)).counts, region).toEqual(await oracle(region, undefined, undefined, raw));
    }
    expect((await figures(TREE.province.code, TREE.province.code, '2026-05', '2026-06')).counts).toEqual(
      await oracle(TREE.province.code, '2026-05', '2026-06', raw),
    );
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    const group = await manualGroup(w, '东村群', { officer: { name: '王警官', phone: '13900000001' } });
    const campaign = async (title: string, category: string) =>
      approvedCampaign(w, {
        title,
        noticeId: await approvedNotice(w, { title, category }),
        audience: audienceOf([], [group]),
        schedule: { kind: 'now' },
      });
    fraud = await campaign('防诈提醒', 'anti_fraud');
    theft = await campaign('防盗提醒', 'anti_theft');
  });
  afterAll(() => w.close());

  it('visits as much with 2,000 open tasks as with 50, and equals the raw tasks', async () => {
    await make(fraud, JUNE, PATH_A, 20);
    await make(fraud, JUNE, PATH_B, 15);
    await make(theft, JUNE, PATH_B, 10);
    // A run of May: outside June's table and past the day horizon (its tasks made now are open).
    await make(fraud, MAY, PATH_A, 5);
    await flushOpenCounts();
    const few = await figures(TREE.province.code);
    expect(few.counts.total).toBe(45);
    await exact();

    await make(fraud, JUNE, PATH_A, 1_000);
    await make(fraud, JUNE, PATH_B, 600);
    await make(theft, JUNE, PATH_B, 350);
    await flushOpenCounts();
    await figures(TREE.province.code); // takes in the counties written
    const many = await figures(TREE.province.code);
    expect(many.counts.total).toBe(1_995);
    expect(many.visited).toBe(few.visited);
    expect(many.visited).toBeLessThan(20);
    await exact();

    // Another process confirms a task in county B: task, entry, county document, log record.
    const [victim] = await OpenTaskModel.find({ regionPath: TREE.countyB.code }).limit(1).lean<{ _id: string }[]>();
    await ManualTaskModel.updateOne({ _id: victim!._id }, { $set: { confirmedAt: clock.now() } });
    await OpenTaskModel.deleteOne({ _id: victim!._id });
    await OpenCountModel.updateOne({ _id: TREE.countyB.code }, { $unset: { [`e.${victim!._id}`]: '' } });
    await collectionChanged(COUNTS_LOG, [TREE.countyB.code]);
    expect((await figures(TREE.province.code)).counts.total).toBe(1_994);
    await exact();

    // The theft campaign retracted, its tasks not yet withdrawn: not counted (read live).
    await CampaignModel.updateOne({ _id: theft }, { $set: { retractedAt: clock.now() } });
    expect(Object.keys((await figures(TREE.province.code)).counts.byCategory)).toEqual(['anti_fraud']);
    await exact();

    // A run of the 15th (its day horizon the 23rd): 4 tasks now, 3 a day later; on the 22nd
    // after 02:00 the first 4 are past their expiry (7 days), the 3 still open.
    await make(fraud, LATE, PATH_A, 4);
    clock.advance(24 * 3600_000);
    await make(fraud, LATE, PATH_A, 3);
    await flushOpenCounts();
    await exact();
    clock.advance(6 * 24 * 3600_000 + 3600_000);
    expect((await figures(TREE.countyA.code)).counts.total).toBe(3);
    await exact();
  }, 300_000);
});

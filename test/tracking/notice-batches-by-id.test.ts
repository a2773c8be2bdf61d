// Who received a notice (a retraction's audience, a deferred follow-up's wait, a case's reach,
// "was it ever planned", the residents' page) is read from the notice's own batches by `_id`,
// through the notice's list of runs (tracking/run-batches.ts), never by a scan of the ledger by
// `noticeId`; after many runs, other notices' history and retention's pruning, a retraction
// still reaches exactly the groups that got the notice; a database written before the
// notices' lists existed is listed once at start with the same answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Retention } from '../../src/engine/retention.js';
import { fixedClock } from '../../src/lib/clock.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import {
  campaignsWithNotice,
  groupsThatReceivedNotice,
  noticeStillSending,
  noticeWasPlanned,
  receivedCounts,
  receivedCountsOf,
} from '../../src/tracking/recipients.js';
import {
  NOTICE_LISTS_BUILT,
  RunBatchListModel,
  batchIdsOfNotice,
  buildNoticeLists,
} from '../../src/tracking/run-batches.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import {
  type DeliveryWorld,
  approvedNotice,
  campaignItems,
  manualGroup,
  runUntilIdle,
  startDeliveryWorld,
  urgentNowCampaign,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

const start = new Date();
start.setUTCHours(6, 0, 0, 0);
const clock = fixedClock(start);
const DAY = 24 * 60 * 60_000;

describe('a notice’s recipients read by _id', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  let otherNotice: string;
  let firstCampaign: string;
  let reached: string[];
  let failedGroup: string;

  /** The recipients of every read this test checks, as one comparable value. */
  async function answers(id: string) {
    const groups: string[] = [];
    for await (const chunk of groupsThatReceivedNotice(id)) groups.push(...chunk.map((g) => g.groupId));
    return {
      groups,
      counts: await receivedCounts(id),
      countsOf: Object.fromEntries(await receivedCountsOf([id])),
      planned: await noticeWasPlanned(id),
      sending: await noticeStillSending(id),
      campaigns: await campaignsWithNotice(id),
    };
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    noticeId = await approvedNotice(w, { title: '防诈骗提醒：按通告读取' });
    otherNotice = await approvedNotice(w, { title: '另一则通告的历史' });
    const groupsA = (await wecomGroups(w, 3)).map((g) => g.id);
    const groupsB = (await wecomGroups(w, 2)).map((g) => g.id);
    const failing = await w.t.request('POST', '/api/groups', w.t.adminToken, {
      name: '失效机器人群',
      regionCode: TREE.villageA.code,
      channel: { kind: 'wecom', key: 'removed-robot-key' },
      memberCount: 30,
    });
    failedGroup = failing.json().id as string;
    const confirmedGroup = await manualGroup(w, '人工转发群（已确认）', { memberCount: 480 });
    const awaitingGroup = await manualGroup(w, '人工转发群（待确认）', {
      memberCount: 300,
      officer: { name: '李警官', phone: '13900000001' },
    });

    // Run 1: robots sent, one failed for good, two officers' tasks (one confirmed below).
    firstCampaign = await urgentNowCampaign(
      w,
      noticeId,
      [...groupsA, failedGroup, confirmedGroup, awaitingGroup],
      '第一次',
    );
    await runUntilIdle(w);
    const tasks = (await w.t.request('GET', '/api/manual-tasks', w.t.adminToken)).json() as Array<{
      groupId: string;
      link: string;
    }>;
    const link = new URL(tasks.find((t) => t.groupId === confirmedGroup)!.link);
    const confirm = await w.t.app.inject({
      method: 'POST',
      url: `${link.pathname.replace(/^\/task\//, '/api/manual-tasks/')}/confirm${link.search}`,
    });
    expect(confirm.statusCode, confirm.body).toBe(200);
    // More runs of the notice (one group reached twice), and another notice's history.
    await urgentNowCampaign(w, noticeId, [...groupsB, groupsA[0]!], '第二次');
    await urgentNowCampaign(w, otherNotice, [...groupsA, ...groupsB], '别的通告');
    await urgentNowCampaign(w, noticeId, [groupsB[1]!], '第三次');
    await runUntilIdle(w);
    await runUntilIdle(w);
    reached = [...groupsA, ...groupsB, confirmedGroup, awaitingGroup].sort();
  }, 180_000);
  afterAll(() => w.close());

  it('answers from the notice’s own batches, each read by _id, never a scan by noticeId', async () => {
    const own = await batchIdsOfNotice(noticeId);
    // Every batch of the notice is listed (a full scan here is the test's truth only).
    const truth = (await DeliveryBatchModel.find({ noticeId }, { _id: 1 }).lean()).map((b) => String(b._id));
    expect([...own].sort()).toEqual([...truth].sort());
    let got!: Awaited<ReturnType<typeof answers>>;
    const seen = await commandsDuring(async () => {
      got = await answers(noticeId);
      await w.t.ctx.publication.wasSent({ noticeId });
    });
    const batchReads = seen.filter((c) => c.collection === 'deliverybatches');
    expect(batchReads.length).toBeGreaterThan(0);
    for (const read of batchReads) {
      expect(read.name, JSON.stringify(read)).toBe('find');
      expect(byIdOnly(read.filter), JSON.stringify(read.filter)).toBe(true);
      // Only this notice's batches: another notice's history is never read.
      expect(own).toContain(read.filter!._id);
    }
    expect(got.groups.sort()).toEqual(reached);
    expect(got.counts).toEqual({ groupCount: reached.length, villageCount: 1 });
    expect(got.countsOf).toEqual({ [noticeId]: { groupCount: reached.length, villageCount: 1 } });
    expect(got.planned).toBe(true);
    expect(got.sending).toBe(false);
    expect(got.campaigns).toHaveLength(3);
    expect(await noticeWasPlanned('0123456789abcdef01234567')).toBe(false);
  });

  it('gives the same answers for a database written before the notices’ lists, once listed at start', async () => {
    const before = await answers(noticeId);
    const other = await answers(otherNotice);
    await RunBatchListModel.deleteMany({ _id: { $regex: '^notice\\|' } });
    await RunBatchListModel.deleteOne({ _id: NOTICE_LISTS_BUILT });
    expect((await answers(noticeId)).planned).toBe(false);
    await buildNoticeLists();
    expect(await answers(noticeId)).toEqual(before);
    expect(await answers(otherNotice)).toEqual(other);
    // A second start reads only the marker.
    const seen = await commandsDuring(() => buildNoticeLists());
    expect(seen.filter((c) => c.collection === 'deliverybatches')).toEqual([]);
  });

  it('a retraction after retention’s pruning reaches exactly the groups that got the notice', async () => {
    // As the scheduler does every 10 minutes: the stranded-batch sweep closes the settled runs
    // and files them for retention on the day they settled (engine/retention-due.ts).
    await w.scheduler.sweep();
    clock.advance(8 * DAY);
    const report = await new Retention(clock, { keepDays: 7, everyMs: 60_000 }).runOnce();
    expect(report.batchesCompacted).toBeGreaterThan(0);
    const correction = await approvedNotice(w, { title: '更正：按通告读取' });
    const retract = await w.t.request('POST', `/api/campaigns/${firstCampaign}/retract`, w.editor, {
      followUpNoticeId: correction,
    });
    expect(retract.statusCode, retract.body).toBe(200);
    const followUp = retract.json().followUp as { id: string };
    expect((await w.t.request('POST', `/api/campaigns/${followUp.id}/approve`, w.reviewer)).statusCode).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);
    const items = await campaignItems(followUp.id);
    expect(items.map((i) => i.groupId).sort()).toEqual(reached);
    expect(items.some((i) => i.groupId === failedGroup)).toBe(false);
  });
});

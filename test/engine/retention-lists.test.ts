// Retention of the lists the ninth session added (docs/retention.md, *The lists of the ninth
// session*): a settled run's officer run lists in `opentaskdue` (`r:<run>|<officer>` items and
// hints) once none of their entries is on the watch list, the notifier's day, hour and
// ten-minute markers of a day it has walked past, and kept deliveries pages (`deliverypages`)
// not written for the keep period. Before retention they are all still there after the
// notifier is done with the run (they grew unpruned); after it, every figure they fed is
// exactly as before (the campaign's progress, deliveries page and export, the rankings and the
// monthly table), and a retraction afterwards still withdraws every officer task of the
// campaign and reaches every group that got the notice. The campaign's task list in
// `taskhistory` (`c:<campaign>`) and the run generations stay: the retraction reads the first,
// the kept summaries and pages are checked against the second.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  campaignRows,
  listAndFile,
  listRunEntries,
  OpenTaskDueModel,
  runEntryIds,
} from '../../src/channels/manual/due-slots.js';
import { TaskHistoryModel } from '../../src/channels/manual/history.js';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { lookAtCampaignTasks, markCampaignWithdrawn, OpenTaskModel } from '../../src/channels/manual/watch.js';
import { OpenRunModel, openRun } from '../../src/engine/open-runs.js';
import { Retention } from '../../src/engine/retention.js';
import { RetentionDueModel } from '../../src/engine/retention-due.js';
import { fixedClock } from '../../src/lib/clock.js';
import { DeliveryPageModel } from '../../src/tracking/deliveries/kept-pages.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { RunGenerationModel } from '../../src/tracking/run-generation.js';
import { commandsDuring } from '../helpers/commands.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  campaignItems,
  type DeliveryWorld,
  manualGroup,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

const start = new Date();
start.setUTCHours(6, 0, 0, 0);
const clock = fixedClock(start);
const DAY = 24 * 60 * 60_000;
const day = start.toISOString().slice(0, 10);

describe('retention of the run lists, due markers and kept pages', () => {
  let w: DeliveryWorld;
  let campaignId: string;
  let runId: string;
  let reached: string[];
  let taskIds: string[];
  let confirmedTask: string;
  let before: Awaited<ReturnType<typeof figures>>;

  const runLists = () =>
    OpenTaskDueModel.find(
      { _id: { $regex: `^r:${runId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\|` } },
      { _id: 1 },
    ).lean();
  const dayMarkers = () => OpenTaskDueModel.find({ _id: { $regex: `^[dht]:${day}` } }, { _id: 1 }).lean();
  const campaignList = () => OpenTaskDueModel.find({ _id: { $regex: `^c:${campaignId}\\|` } }, { _id: 1 }).lean();
  const pages = () => DeliveryPageModel.find({ _id: { $regex: `^${campaignId}\\|` } }, { _id: 1 }).lean();

  async function figures() {
    const get = async (url: string) => {
      const response = await w.t.request('GET', url, w.t.adminToken);
      expect(response.statusCode, `${url} ${response.body}`).toBe(200);
      return response;
    };
    await w.t.ctx.tracking.rollups.refreshAll('test');
    const month = start.toISOString().slice(0, 7);
    return {
      progress: (await get(`/api/campaigns/${campaignId}/progress`)).json(),
      deliveries: (await get(`/api/campaigns/${campaignId}/deliveries`)).json(),
      failed: (await get(`/api/campaigns/${campaignId}/deliveries?status=failed`)).json(),
      export: (await get(`/api/campaigns/${campaignId}/deliveries/export?format=csv`)).body,
      rankings: (await get(`/api/reach/rankings?from=${month}&to=${month}`)).json(),
      monthly: (await get(`/api/reach/monthly?month=${month}`)).json(),
    };
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    const noticeId = await approvedNotice(w, { title: '协查通报：名单保留期' });
    const robots = await wecomGroups(w, 2);
    // A robot the platform does not know: the delivery fails for good (the failed page).
    const failed = await w.t.request('POST', '/api/groups', w.t.adminToken, {
      name: '失效机器人群',
      regionCode: TREE.villageA.code,
      channel: { kind: 'wecom', key: 'removed-robot-key' },
      memberCount: 30,
    });
    const failedGroup = failed.json().id as string;
    const manual = [
      await manualGroup(w, '人工转发群一', { officer: { name: '王警官', phone: '13900000001' } }),
      await manualGroup(w, '人工转发群二', { officer: { name: '李警官', phone: '13900000002' } }),
      await manualGroup(w, '人工转发群三', { officer: { name: '李警官', phone: '13900000002' } }),
    ];
    campaignId = await approvedCampaign(w, {
      title: '名单保留期',
      noticeId,
      audience: audienceOf([], [...robots.map((g) => g.id), failedGroup, ...manual]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await runUntilIdle(w);
    reached = [...robots.map((g) => g.id), ...manual].sort();
    runId = (await DeliveryBatchModel.findOne({ campaignId }).lean())!.occurrenceId;
    const tasks = (await w.t.request('GET', '/api/manual-tasks', w.t.adminToken)).json() as Array<{
      id: string;
      groupId: string;
      link: string;
    }>;
    taskIds = tasks.map((task) => task.id).sort();
    expect(taskIds).toHaveLength(3);
    // The first officer confirms; the second never does (his two tasks expire).
    const first = tasks.find((task) => task.groupId === manual[0])!;
    confirmedTask = first.id;
    const link = new URL(first.link);
    const confirm = await w.t.app.inject({
      method: 'POST',
      url: `${link.pathname.replace(/^\/task\//, '/api/manual-tasks/')}/confirm${link.search}`,
    });
    expect(confirm.statusCode, confirm.body).toBe(200);
    await runUntilIdle(w);
    // The notifier's digests, then its look at the entries' expiry a week later.
    await w.t.ctx.notifier.tick();
    await w.scheduler.sweep();
    clock.advance(8 * DAY);
    await w.t.ctx.notifier.tick();
    await w.t.ctx.notifier.tick();
    // The notifier is done with the run: no entry of it is on the watch list any more.
    expect(await OpenTaskModel.countDocuments({ campaignId })).toBe(0);
    before = await figures();
  }, 120_000);
  afterAll(() => w.close());

  it('before retention, the run lists, the walked day’s markers and the kept pages are still there', async () => {
    expect((await runLists()).length).toBeGreaterThan(0);
    expect((await campaignList()).length).toBeGreaterThan(0);
    expect((await dayMarkers()).length).toBeGreaterThan(0);
    expect((await pages()).length).toBeGreaterThan(0);
  });

  it('prunes them by _id on its schedule, and every figure they fed stays exactly as it was', async () => {
    const retention = new Retention(clock, { keepDays: 7, everyMs: 60_000 });
    const generations = await RunGenerationModel.countDocuments();
    const history = await TaskHistoryModel.countDocuments({ _id: { $regex: `^c:${campaignId}:` } });
    expect(history).toBeGreaterThan(0);
    const kept = (await pages()).length;
    let report: Awaited<ReturnType<Retention['runOnce']>> | undefined;
    const seen = await commandsDuring(async () => {
      report = await retention.runOnce();
    });
    expect(report).toMatchObject({
      runs: 1,
      runLists: 2,
      campaignLists: 1,
      dueMarkers: expect.any(Number),
      deliveryPages: kept,
      behind: false,
    });
    expect(report!.dueMarkers).toBeGreaterThanOrEqual(3);
    expect(await runLists()).toEqual([]);
    expect(await campaignList()).toEqual([]);
    expect(await dayMarkers()).toEqual([]);
    expect(await pages()).toEqual([]);
    // The run lists, markers and watch entries only by `_id`; the pages by `at` in the daily sweep.
    const onLists = seen.filter((c) => c.collection === 'opentaskdue' || c.collection === 'opentasks');
    expect(onLists.filter((c) => c.filter && typeof c.filter._id !== 'string')).toEqual([]);
    expect(
      seen.filter((c) => c.collection === 'deliverypages').map((c) => [c.name, Object.keys(c.filter ?? {})]),
    ).toEqual([['delete', ['at']]]);
    // What a stop reads and what the kept summaries are checked against stay.
    expect(await TaskHistoryModel.countDocuments({ _id: { $regex: `^c:${campaignId}:` } })).toBe(history);
    expect(await RunGenerationModel.countDocuments()).toBe(generations);
    expect(await figures()).toEqual(before);
    // A second pass finds nothing more.
    clock.advance(DAY + 60_000);
    expect(await retention.runOnce()).toMatchObject({ runs: 0, runLists: 0, deliveryPages: 0 });
  });

  it('a retraction afterwards withdraws every officer task of the campaign and reaches every group that got the notice', async () => {
    const correction = await approvedNotice(w, { title: '更正：名单保留期' });
    const retract = await w.t.request('POST', `/api/campaigns/${campaignId}/retract`, w.editor, {
      followUpNoticeId: correction,
    });
    expect(retract.statusCode, retract.body).toBe(200);
    const followUp = retract.json().followUp as { id: string };
    expect((await w.t.request('POST', `/api/campaigns/${followUp.id}/approve`, w.reviewer)).statusCode).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);
    const tasks = await ManualTaskModel.find({ _id: { $in: taskIds } }, { confirmedAt: 1, withdrawnAt: 1 }).lean();
    expect(
      tasks
        .filter((task) => task.withdrawnAt)
        .map((task) => String(task._id))
        .sort(),
    ).toEqual(taskIds.filter((id) => id !== confirmedTask));
    const items = await campaignItems(followUp.id);
    expect(items.map((i) => i.groupId).sort()).toEqual(reached);
    // The officer notifier looks at the correction's tasks from their new run lists.
    await w.t.ctx.notifier.tick();
    expect(await OpenTaskModel.countDocuments({ campaignId: followUp.id })).toBe(3);
  });
});

describe('run lists of a run still listed, and a pass killed while pruning them', () => {
  const began = new Date();
  began.setUTCHours(6, 0, 0, 0);
  const time = fixedClock(began);
  let w: DeliveryWorld;
  let campaignId: string;
  let runId: string;
  let officerRuns: string[];

  const lists = () =>
    OpenTaskDueModel.find(
      { _id: { $regex: `^r:${runId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\|` } },
      { _id: 1 },
    ).lean();
  const progress = async () =>
    (await w.t.request('GET', `/api/campaigns/${campaignId}/progress`, w.t.adminToken)).json();

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock: time, env: { TOKEN_TTL_HOURS: '720' } });
    const noticeId = await approvedNotice(w, { title: '协查通报：名单中断' });
    const manual = [
      await manualGroup(w, '人工一', { officer: { name: '赵警官', phone: '13900000011' } }),
      await manualGroup(w, '人工二', { officer: { name: '钱警官', phone: '13900000012' } }),
    ];
    campaignId = await approvedCampaign(w, {
      title: '名单中断',
      noticeId,
      audience: audienceOf([], manual),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await runUntilIdle(w);
    runId = (await DeliveryBatchModel.findOne({ campaignId }).lean())!.occurrenceId;
    officerRuns = [`${runId}|13900000011`, `${runId}|13900000012`];
    await w.t.ctx.notifier.tick();
    await w.scheduler.sweep();
  }, 120_000);
  afterAll(() => w.close());

  it('keeps the lists of a run whose entries are still on the watch list (and the walk markers of a day the notifier has not passed), and files the run again', async () => {
    time.advance(8 * DAY);
    // The notifier has not looked at the expired entries yet: they are still listed.
    expect(await OpenTaskModel.countDocuments({ campaignId })).toBe(2);
    const markers = await OpenTaskDueModel.countDocuments({
      _id: { $regex: `^[dht]:${began.toISOString().slice(0, 10)}` },
    });
    expect(markers).toBeGreaterThan(0);
    const report = await new Retention(time, { keepDays: 7, everyMs: 60_000 }).runOnce();
    // The notifier's cursor still lies in that day (its last pass): its walk markers stay.
    expect(report).toMatchObject({ runs: 1, batchesCompacted: 1, runLists: 0, dueMarkers: 0 });
    expect(
      await OpenTaskDueModel.countDocuments({ _id: { $regex: `^[dht]:${began.toISOString().slice(0, 10)}` } }),
    ).toBe(markers);
    expect((await lists()).length).toBeGreaterThan(0);
    for (const run of officerRuns) expect(await runEntryIds(run)).toHaveLength(1);
    const due = await RetentionDueModel.find({ runs: { $exists: true } }).lean();
    expect(due.flatMap((d) => d.runs)).toEqual([`${runId}|${campaignId}`]);
  });

  it('a pass killed after the run’s batches, then one killed in the middle of each list’s deletion, leave lists a reader reads whole and as empty; the next pass deletes them, and a writer still carrying a list’s number appends where a reader finds it', async () => {
    await w.t.ctx.notifier.tick();
    expect(await OpenTaskModel.countDocuments({ campaignId })).toBe(0);
    const before = await progress();
    // Each list gets a second item (a retried wave listing its entry again): the first list
    // so has a hint (due-slots.ts: from a run list's second item); the second list's hint is
    // lost, as when its writer dies between the item and the hint in the one ordered command.
    const [hinted, unhinted] = officerRuns as [string, string];
    const entryOf = async (run: string) => (await runEntryIds(run))[0]!;
    await listRunEntries([
      { run: hinted, id: await entryOf(hinted) },
      { run: unhinted, id: await entryOf(unhinted) },
    ]);
    await OpenTaskDueModel.deleteOne({ _id: `r:${unhinted}|next` });
    expect((await lists()).map((doc) => doc._id).sort()).toEqual(
      [`r:${hinted}|0`, `r:${hinted}|1`, `r:${hinted}|next`, `r:${unhinted}|0`, `r:${unhinted}|1`].sort(),
    );
    time.advance(8 * DAY);
    // Killed after its batches were walked (and their place saved), before the lists.
    const steps = vi
      .spyOn(Retention.prototype as unknown as { finishedSteps: () => Promise<null> }, 'finishedSteps')
      .mockRejectedValueOnce(new Error('process died'));
    await expect(new Retention(time, { keepDays: 7, everyMs: 60_000 }).runOnce()).rejects.toThrow('process died');
    steps.mockRestore();
    expect((await lists()).length).toBe(5);
    // A new process (which did not walk the run's batch) dies right after the first list's
    // hint (deleted first), and in the middle of the second list's items (the highest of them
    // deleted, then nothing).
    const original = OpenTaskDueModel.bulkWrite.bind(OpenTaskDueModel);
    const dies = vi.spyOn(OpenTaskDueModel, 'bulkWrite').mockImplementation((async (
      ops: { deleteOne?: { filter: { _id: string } } }[],
      options: unknown,
    ) => {
      const ids = ops.map((op) => op.deleteOne?.filter._id ?? '');
      if (ids.length > 0 && ids.every((id) => id.startsWith(`r:${hinted}|`))) throw new Error('process died');
      if (ids.length > 1 && ids.every((id) => id.startsWith(`r:${unhinted}|`))) {
        await original(ops.slice(0, 1) as never, options as never);
        throw new Error('process died');
      }
      return original(ops as never, options as never);
    }) as never);
    await expect(new Retention(time, { keepDays: 7, everyMs: 60_000 }).runOnce()).rejects.toThrow('process died');
    // (The other list's lane, still going when the pass failed, meets its death too.)
    await new Promise((resolve) => setTimeout(resolve, 500));
    dies.mockRestore();
    // What is left of each list is its lowest items, without a hint: a reader reads it whole
    // from item 0 on, and it names no entry still listed.
    expect((await lists()).map((doc) => doc._id).sort()).toEqual(
      [`r:${hinted}|0`, `r:${hinted}|1`, `r:${unhinted}|0`].sort(),
    );
    for (const run of officerRuns) {
      const ids = await runEntryIds(run);
      expect(ids).toHaveLength(1);
      expect(await OpenTaskModel.countDocuments({ _id: { $in: ids } })).toBe(0);
    }
    expect(await runEntryIds(unhinted)).toHaveLength(1);
    const report = await new Retention(time, { keepDays: 7, everyMs: 60_000 }).runOnce();
    expect(report).toMatchObject({ runs: 1, runLists: 2, behind: false });
    expect(await lists()).toEqual([]);
    expect(await progress()).toEqual(before);
    // This process still carries the lists' next numbers (2): a late listing on a pruned run
    // goes to item 2 with the hint 3, and a reader (item 0 missing) finds it below the hint.
    await listRunEntries([{ run: hinted, id: 'late-entry' }]);
    expect((await lists()).map((doc) => doc._id).sort()).toEqual([`r:${hinted}|2`, `r:${hinted}|next`].sort());
    expect(await runEntryIds(hinted)).toEqual(['late-entry']);
  });
});

describe('a re-opened run listing while retention prunes its lists (the race left by the tenth session)', () => {
  const began = new Date();
  began.setUTCHours(6, 0, 0, 0);
  const time = fixedClock(began);
  let w: DeliveryWorld;
  let campaignId: string;
  let runId: string;
  let officerA: string;
  let officerB: string;

  const campaignList = () => OpenTaskDueModel.find({ _id: { $regex: `^c:${campaignId}\\|` } }, { _id: 1 }).lean();
  const progress = async () =>
    (await w.t.request('GET', `/api/campaigns/${campaignId}/progress`, w.t.adminToken)).json();
  /** A listing as a send of the re-opened run makes it: on the officer's run and the campaign, in one write. */
  const listing = (run: string, id: string) =>
    listAndFile([{ run, id, at: new Date(time.now().getTime() + 60_000), campaign: campaignId, county: null }]);

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock: time, env: { TOKEN_TTL_HOURS: '720' } });
    const noticeId = await approvedNotice(w, { title: '协查通报：名单重开' });
    const manual = [
      await manualGroup(w, '重开一', { officer: { name: '孙警官', phone: '13900000021' } }),
      await manualGroup(w, '重开二', { officer: { name: '周警官', phone: '13900000022' } }),
    ];
    campaignId = await approvedCampaign(w, {
      title: '名单重开',
      noticeId,
      audience: audienceOf([], manual),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await runUntilIdle(w);
    runId = (await DeliveryBatchModel.findOne({ campaignId }).lean())!.occurrenceId;
    officerA = `${runId}|13900000021`;
    officerB = `${runId}|13900000022`;
    await w.t.ctx.notifier.tick();
    await w.scheduler.sweep();
    time.advance(8 * DAY);
    await w.t.ctx.notifier.tick();
    expect(await OpenTaskModel.countDocuments({ campaignId })).toBe(0);
    expect(await OpenRunModel.exists({ _id: runId })).toBeNull();
  }, 120_000);
  afterAll(() => w.close());

  it('a run re-opened after its batches were walked, its new task listed and not yet on the watch list, keeps its lists', async () => {
    // The interleaving: the pass has walked the run's batches (all settled); then a wake
    // re-opens the run (open-runs.ts) and a send lists a new task on officer A's run and the
    // campaign; its watch entry is inserted only after the pass has looked the entries up.
    const runLists = Retention.prototype as unknown as { runLists: (...args: unknown[]) => Promise<unknown> };
    const original = runLists.runLists;
    const hook = vi.spyOn(runLists, 'runLists').mockImplementationOnce(async function (this: unknown, ...args) {
      await openRun(runId, campaignId);
      await listing(officerA, 'reopened-a');
      return original.apply(this, args);
    });
    const report = await new Retention(time, { keepDays: 7, everyMs: 60_000 }).runOnce();
    hook.mockRestore();
    // The new task's entry is findable from its run list and its campaign's list (a stop reaches it).
    expect(await runEntryIds(officerA)).toContain('reopened-a');
    expect((await campaignRows(campaignId)).map((row) => row.id)).toContain('reopened-a');
    expect(report).toMatchObject({ runs: 1, runLists: 0, campaignLists: 0 });
    // Its writer died before the entry (a row naming no entry: harmless); the run closes again.
    await OpenRunModel.deleteOne({ _id: runId });
  });

  it('a listing between the pass’s read of the lists and their deletion is found by readers afterwards', async () => {
    time.advance(8 * DAY);
    // The run is re-opened and lists new tasks on both officers' runs while the pass looks the
    // entries it read up on the watch list (after its look at the run's state).
    let raced = false;
    const original = OpenTaskModel.exists.bind(OpenTaskModel);
    const hook = vi.spyOn(OpenTaskModel, 'exists').mockImplementation((async (filter: never) => {
      if (!raced) {
        raced = true;
        await openRun(runId, campaignId);
        await listing(officerA, 'late-a');
        await listing(officerB, 'late-b');
      }
      return original(filter);
    }) as never);
    await new Retention(time, { keepDays: 7, everyMs: 60_000 }).runOnce();
    hook.mockRestore();
    expect(raced).toBe(true);
    expect(await runEntryIds(officerA)).toContain('late-a');
    expect(await runEntryIds(officerB)).toContain('late-b');
    expect((await campaignRows(campaignId)).map((row) => row.id)).toEqual(expect.arrayContaining(['late-a', 'late-b']));
    await OpenRunModel.deleteOne({ _id: runId });
  });

  it('once the run is closed and no entry is listed, its lists and its campaign’s list go; a stop and a resume then reach nothing and change nothing', async () => {
    const before = await progress();
    time.advance(8 * DAY);
    // The run was filed again by each pass that kept its lists (a key a keep period later).
    const report = await new Retention(time, { keepDays: 7, everyMs: 60_000 }).runOnce();
    expect(report).toMatchObject({ runLists: 2, campaignLists: 1 });
    expect(
      await OpenTaskDueModel.countDocuments({
        _id: { $regex: `^r:${runId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\|` },
      }),
    ).toBe(0);
    expect(await campaignList()).toEqual([]);
    expect(await campaignRows(campaignId)).toEqual([]);
    // A stop's and a resume's watch part after the pruning: the campaign has no open entry, so
    // there is nothing to reach; they read the empty list and write no entry.
    const seen = await commandsDuring(async () => {
      await markCampaignWithdrawn(campaignId, time.now());
      await lookAtCampaignTasks(campaignId, time.now());
    });
    expect(seen.filter((c) => c.collection === 'opentasks')).toEqual([]);
    expect(await OpenTaskModel.countDocuments({})).toBe(0);
    expect(await progress()).toEqual(before);
  });
});

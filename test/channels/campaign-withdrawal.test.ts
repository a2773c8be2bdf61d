// A stop withdraws its campaign's officer tasks by `_id` from the campaign's task list
// (channels/manual/history.ts), never by a `taskKey` filter: on FerretDB 1.24 that read every
// task ever made (32 s per campaign at 50,000 groups). When the stop runs, then every open task
// of the campaign is withdrawn (confirmed ones and other campaigns' untouched), every command
// on the tasks collection picks one task by `_id`, and the command count does not grow with
// other campaigns' tasks; a task whose process died after its insert and before its watch
// entry is still reached (its list entry was written before the insert); a list entry whose
// task was never inserted is harmless; tasks of an install older than the campaign lists are
// listed once at start; the notifier's last step (`withdrawTasks`) writes by `_id` too.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTaskHistory, recordTasks, TaskHistoryModel } from '../../src/channels/manual/history.js';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { OpenTaskModel, unwatch } from '../../src/channels/manual/watch.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';
import { makeRunTasks, TASK_MESSAGE, taskTarget } from '../helpers/officer-tasks.js';
import { createRegionTree, TREE } from '../helpers/regions.js';

const RUN_AT = '2026-06-03T02:00:00.000Z';

describe('a stop withdraws its campaign’s tasks by _id', () => {
  let t: TestApp;

  const campaign = () => new mongoose.Types.ObjectId().toHexString();
  const PATH = ['000000', TREE.province.code, TREE.city.code, TREE.countyA.code, 'x', 'y'];

  /** A wave of `size` tasks of the campaign's run (the worker's path), their task keys. */
  const wave = (campaignId: string, size: number) =>
    makeRunTasks(
      t.ctx.manualTasks,
      `${campaignId}@${RUN_AT}`,
      Array.from({ length: size }, () => taskTarget(PATH)),
    );

  const tasksOf = (keys: string[]) =>
    Promise.all(keys.map(async (taskKey) => (await ManualTaskModel.findOne({ taskKey }).lean())!));

  /** A filter picking one task by an `_id` equality (FerretDB looks it up in its index), nothing by taskKey. */
  const oneById = (filter: Record<string, unknown>) =>
    (typeof filter._id === 'string' || filter._id instanceof mongoose.Types.ObjectId) && !('taskKey' in filter);

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it('when a campaign is stopped, then its open tasks are withdrawn by _id, in commands that do not grow with other campaigns’ tasks', async () => {
    const stopped = campaign();
    const keys = [...(await wave(stopped, 12)), ...(await wave(stopped, 9))];
    const other = campaign();
    const others = await wave(other, 15);
    const [confirmed] = await tasksOf(keys.slice(0, 1));
    await ManualTaskModel.updateOne({ _id: confirmed!._id }, { $set: { confirmedAt: new Date() } });

    let withdrawn = 0;
    const seen = await commandsDuring(async () => {
      withdrawn = await t.ctx.manualTasks.withdrawCampaignTasks(stopped, 'cancelled');
    });
    expect(withdrawn).toBe(20);
    const after = await tasksOf(keys);
    expect(
      after
        .filter((task) => task.withdrawnAt)
        .map((task) => task.taskKey)
        .sort(),
    ).toEqual(keys.slice(1).sort());
    expect(after.filter((task) => task.withdrawnReason === 'cancelled')).toHaveLength(20);
    expect(after.find((task) => task.taskKey === keys[0])!.withdrawnAt).toBeNull();
    expect((await tasksOf(others)).filter((task) => task.withdrawnAt)).toEqual([]);
    // Every statement on the tasks collection names one task by _id (no regex, no $in: a scan on FerretDB).
    const onTasks = seen.filter((c) => c.collection === 'manualtasks');
    expect(onTasks.length).toBeGreaterThan(0);
    expect(onTasks.flatMap((c) => c.statements).filter((f) => !oneById(f))).toEqual([]);
    // Its watch entries are withdrawn too (the notifier announces them at once).
    const entries = await OpenTaskModel.find({ campaignId: stopped }).lean();
    expect(entries.filter((entry) => !entry.withdrawn).map((entry) => entry._id)).toEqual([]);

    // The same stop of a campaign the same size, after many more tasks of other campaigns: the same commands.
    const again = campaign();
    await wave(again, 12);
    await wave(again, 9);
    for (let i = 0; i < 4; i += 1) await wave(campaign(), 25);
    const seenAgain = await commandsDuring(() => t.ctx.manualTasks.withdrawCampaignTasks(again, 'cancelled'));
    const shape = (list: typeof seen) => list.map((c) => `${c.name} ${c.collection} ${c.statements.length}`).sort();
    expect(shape(seenAgain.filter((c) => c.collection === 'manualtasks'))).toEqual(shape(onTasks));
    expect(seenAgain.filter((c) => c.collection === 'manualtasks' || c.collection === 'taskhistory').length).toBe(
      seen.filter((c) => c.collection === 'manualtasks' || c.collection === 'taskhistory').length,
    );

    // A repeat changes nothing (idempotent).
    expect(await t.ctx.manualTasks.withdrawCampaignTasks(stopped, 'retracted')).toBe(0);
    expect((await tasksOf(keys)).filter((task) => task.withdrawnReason === 'retracted')).toEqual([]);
  });

  it('when a task’s process died after its insert and before its watch entry, then the stop still withdraws it', async () => {
    const stopped = campaign();
    const keys = await wave(stopped, 6);
    // The state such a kill leaves: the task on its lists and inserted, no watch entry.
    const orphaned = await tasksOf(keys.slice(0, 3));
    await unwatch(orphaned.map((task) => String(task._id)));
    expect(await OpenTaskModel.countDocuments({ _id: { $in: orphaned.map((task) => String(task._id)) } })).toBe(0);
    // And one killed after its list entry, before its insert: an entry naming no task.
    const never = new mongoose.Types.ObjectId();
    await recordTasks(
      [
        {
          id: String(never),
          createdAt: new Date(),
          officerPhone: null,
          regionPath: PATH,
          taskKey: `${stopped}@${RUN_AT}/never`,
        },
      ],
      new Date(),
    );

    expect(await t.ctx.manualTasks.withdrawCampaignTasks(stopped, 'retracted')).toBe(6);
    expect((await tasksOf(keys)).every((task) => task.withdrawnAt && task.withdrawnReason === 'retracted')).toBe(true);
    expect(await ManualTaskModel.exists({ _id: never })).toBeNull();
  });

  it('a task is on its campaign’s list before it is inserted (no kill can leave it off)', async () => {
    const made = campaign();
    for (const make of [
      () => wave(made, 3),
      () => t.ctx.manualTasks.createTask(taskTarget(PATH), TASK_MESSAGE, `${made}@${RUN_AT}/single`),
    ]) {
      const seen = await commandsDuring(make);
      const listed = seen.findIndex(
        (c) =>
          c.name === 'insert' &&
          c.collection === 'taskhistory' &&
          c.ids.some((id) => String(id).startsWith(`c:${made}:`)),
      );
      const inserted = seen.findIndex((c) => c.name === 'insert' && c.collection === 'manualtasks');
      expect(listed).toBeGreaterThanOrEqual(0);
      expect(inserted).toBeGreaterThan(listed);
    }
  });

  it('an install whose tasks predate the campaign lists: listed once at start, then withdrawn by the stop', async () => {
    const old = campaign();
    const docs = Array.from({ length: 5 }, (_, i) => ({
      _id: new mongoose.Types.ObjectId(),
      taskKey: `${old}@${RUN_AT}/old-${i}`,
      groupId: `old-${i}`,
      groupName: `旧群${i}`,
      regionPath: PATH,
      officerName: '民警',
      officerPhone: '13800000001',
      title: '旧任务',
      createdAt: new Date(),
      confirmedAt: null,
      withdrawnAt: null,
      linkGeneration: 0,
      rotations: [],
    }));
    await ManualTaskModel.collection.insertMany(docs as never[]);
    // Built before the campaign lists existed: the other lists' marker only.
    await TaskHistoryModel.deleteOne({ _id: '_built_c' });
    const regionBase = await TaskHistoryModel.findById(`r:${TREE.countyA.code}:base`).lean();
    await buildTaskHistory();
    expect(await TaskHistoryModel.exists({ _id: '_built_c' })).toBeTruthy();
    // The other lists are left as they were.
    expect(await TaskHistoryModel.findById(`r:${TREE.countyA.code}:base`).lean()).toEqual(regionBase);
    expect(await t.ctx.manualTasks.withdrawCampaignTasks(old, 'case_closed')).toBe(5);
    const after = await ManualTaskModel.find({ _id: { $in: docs.map((d) => d._id) } }).lean();
    expect(after.every((task) => task.withdrawnReason === 'case_closed')).toBe(true);
  });

  it('the notifier’s last step for stopped tasks writes them by _id', async () => {
    const stopped = campaign();
    const tasks = await tasksOf(await wave(stopped, 4));
    const ids = tasks.map((task) => String(task._id));
    let withdrawn = 0;
    const seen = await commandsDuring(async () => {
      withdrawn = await t.ctx.manualTasks.withdrawTasks(ids, 'cancelled');
    });
    expect(withdrawn).toBe(4);
    const onTasks = seen.filter((c) => c.collection === 'manualtasks').flatMap((c) => c.statements);
    expect(onTasks.filter((f) => !oneById(f))).toEqual([]);
    const after = await tasksOf(tasks.map((task) => task.taskKey));
    expect(after.every((task) => task.withdrawnAt && task.withdrawalAnnounced)).toBe(true);
    expect(await OpenTaskModel.countDocuments({ _id: { $in: ids } })).toBe(0);
  });
});

// A stop marks its campaign's watch entries withdrawn (and a resume makes them due) by `_id`,
// from the campaign's list of entries (channels/manual/due-slots.ts `c:<campaign>`), never by a
// `campaignId` filter: on FerretDB 1.24 that read the whole open-task watch list (~36,000
// entries at 50,000 groups). The notifier's `markTold` writes its tasks (and WeCom groups) one
// `_id` each, never `_id: {$in}` (a read of every task ever made). Checked with the driver's
// command monitor: every statement on `opentasks`, `manualtasks` and `wecomitems` names one
// `_id`, and a stop sends the same commands with 100 more entries of other campaigns. Exactness:
// the campaign's entries withdrawn and off the open counts, other campaigns' untouched; an entry
// is on its campaign list before it is inserted; an older install's entries are listed once.
import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenTaskDueModel } from '../../src/channels/manual/due-slots.js';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { flushOpenCounts, OpenCountModel } from '../../src/channels/manual/open-counts.js';
import {
  buildOpenTaskCampaignLists,
  lookAtCampaignTasks,
  OpenTaskModel,
  unwatch,
  watchTasks,
} from '../../src/channels/manual/watch.js';
import { WecomItemModel } from '../../src/channels/wecom-group/model.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { TASK_MESSAGE } from '../helpers/officer-tasks.js';
import { createRegionTree, TREE } from '../helpers/regions.js';

const RUN_AT = '2026-06-03T02:00:00.000Z';

describe('a stop, a resume and markTold write the watch list and the tasks by _id', () => {
  let t: TestApp;
  let n = 0;

  const campaign = () => new mongoose.Types.ObjectId().toHexString();
  const target = (i: number) => ({
    groupId: `group-${i}`,
    groupName: `平安群${i}`,
    credentials: { kind: 'manual' } as never,
    regionPath: ['000000', TREE.province.code, TREE.city.code, TREE.countyA.code, 'x', 'y'],
    officer: { name: '民警', phone: '13800000001' },
  });

  /** A wave of `size` tasks of the campaign's run (the worker's path): their task ids. */
  async function wave(campaignId: string, size: number): Promise<string[]> {
    const list = Array.from({ length: size }, () => {
      n += 1;
      return { target: target(n), message: TASK_MESSAGE, reference: `${campaignId}@${RUN_AT}/group-${n}` };
    });
    await t.ctx.manualTasks.createTasks(list);
    await flushOpenCounts();
    const docs = await Promise.all(list.map((item) => ManualTaskModel.findOne({ taskKey: item.reference }).lean()));
    return docs.map((doc) => String(doc!._id));
  }

  /** Every statement's filter of the commands sent while `work` runs, by collection. */
  async function statementsDuring(work: () => Promise<unknown>) {
    const client = mongoose.connection.getClient();
    const seen: { name: string; collection: string; filters: Record<string, unknown>[]; ids: unknown[] }[] = [];
    const listener = (event: CommandStartedEvent) => {
      const command = event.command as Record<string, unknown>;
      const value = command[event.commandName];
      seen.push({
        name: event.commandName,
        collection: typeof value === 'string' ? value : String(command.collection ?? ''),
        filters: [
          ...((command.updates as { q: Record<string, unknown> }[] | undefined) ?? []).map((u) => u.q),
          ...((command.deletes as { q: Record<string, unknown> }[] | undefined) ?? []).map((d) => d.q),
          ...(command.filter ? [command.filter as Record<string, unknown>] : []),
          ...(command.query ? [command.query as Record<string, unknown>] : []),
        ],
        ids: ((command.documents as { _id: unknown }[] | undefined) ?? []).map((doc) => doc._id),
      });
    };
    client.on('commandStarted', listener);
    try {
      await work();
    } finally {
      client.off('commandStarted', listener);
    }
    return seen;
  }

  /** A filter with one `_id` equality (looked up in FerretDB's index; docs/ferretdb.md), nothing by campaign. */
  const byId = (filter: Record<string, unknown>) =>
    (typeof filter._id === 'string' || filter._id instanceof mongoose.Types.ObjectId) && !('campaignId' in filter);
  /** The statements on the collection that name no single `_id` (the collection must have been written or read). */
  const notById = (seen: Awaited<ReturnType<typeof statementsDuring>>, collection: string) => {
    const on = seen.filter((c) => c.collection === collection);
    expect(on.length).toBeGreaterThan(0);
    return on.flatMap((c) => c.filters.filter((f) => !byId(f)).map((f) => `${c.name} ${JSON.stringify(f)}`));
  };
  const countyEntries = async () =>
    Object.keys((await OpenCountModel.findById(TREE.countyA.code).lean<{ e: Record<string, unknown> }>())?.e ?? {});

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it('a stop marks its campaign’s entries withdrawn by _id, in commands that do not grow with other campaigns’ entries', async () => {
    const stopped = campaign();
    const ids = [...(await wave(stopped, 12)), ...(await wave(stopped, 9))];
    const others = await wave(campaign(), 15);
    await unwatch(ids.slice(0, 1)); // confirmed: off the list

    const seen = await statementsDuring(() => t.ctx.manualTasks.withdrawCampaignTasks(stopped, 'cancelled'));
    expect(notById(seen, 'opentasks')).toEqual([]);
    const entries = await OpenTaskModel.find({ _id: { $in: [...ids, ...others] } }).lean();
    expect(
      entries
        .filter((e) => e.withdrawn)
        .map((e) => e._id)
        .sort(),
    ).toEqual(ids.slice(1).sort());
    expect(entries.filter((e) => others.includes(e._id) && !e.withdrawn)).toHaveLength(15);
    const counted = await countyEntries();
    expect(counted.filter((id) => ids.includes(id))).toEqual([]);
    expect(others.every((id) => counted.includes(id))).toBe(true);

    // The same stop of a campaign the same size after 100 more entries of other campaigns: the same commands.
    const again = campaign();
    await wave(again, 12);
    await wave(again, 9);
    for (let i = 0; i < 4; i += 1) await wave(campaign(), 25);
    const seenAgain = await statementsDuring(() => t.ctx.manualTasks.withdrawCampaignTasks(again, 'cancelled'));
    expect(notById(seenAgain, 'opentasks')).toEqual([]);
    const onList = (list: typeof seen) => list.filter((c) => c.collection === 'opentasks').length;
    // The first stop's campaign had one entry fewer (the confirmed one): at most that read more.
    expect(Math.abs(onList(seenAgain) - onList(seen))).toBeLessThanOrEqual(1);
  });

  it('a resume makes its campaign’s entries due by _id', async () => {
    const resumed = campaign();
    const ids = await wave(resumed, 5);
    const others = await wave(campaign(), 5);
    const now = new Date(Date.now() + 3_600_000);
    const seen = await statementsDuring(() => lookAtCampaignTasks(resumed, now));
    expect(notById(seen, 'opentasks')).toEqual([]);
    const entries = await OpenTaskModel.find({ _id: { $in: [...ids, ...others] } }).lean();
    expect(
      entries
        .filter((e) => e.dueAt.getTime() === now.getTime())
        .map((e) => e._id)
        .sort(),
    ).toEqual(ids.sort());
  });

  it('an entry is on its campaign list before it is inserted', async () => {
    const made = campaign();
    const seen = await statementsDuring(() => wave(made, 3));
    const listed = seen.findIndex(
      (c) =>
        c.collection === 'opentaskdue' &&
        [...c.ids, ...c.filters.map((f) => f._id)].some((id) => String(id).startsWith(`c:${made}|`)),
    );
    const inserted = seen.findIndex((c) => c.name === 'update' && c.collection === 'opentasks');
    expect(listed).toBeGreaterThanOrEqual(0);
    expect(inserted).toBeGreaterThan(listed);
  });

  it('an install whose entries predate the campaign lists: listed once at start, then reached by the stop', async () => {
    const old = campaign();
    const ids = await wave(old, 4);
    // As the older version left them: entries without campaign lists, the backfill not run.
    await OpenTaskDueModel.deleteMany({ _id: { $regex: `^c:${old}\\|` } });
    await BackfillModel.deleteOne({ _id: 'opentask-campaign-lists' });
    await t.ctx.manualTasks.withdrawCampaignTasks(old, 'case_closed');
    expect(await OpenTaskModel.countDocuments({ _id: { $in: ids }, withdrawn: true })).toBe(0);
    await buildOpenTaskCampaignLists();
    await t.ctx.manualTasks.withdrawCampaignTasks(old, 'case_closed');
    expect(await OpenTaskModel.countDocuments({ _id: { $in: ids }, withdrawn: true })).toBe(4);
  });

  it('markTold writes the digest’s tasks and WeCom groups by _id, once', async () => {
    const ids = await wave(campaign(), 23);
    const seen = await statementsDuring(() => t.ctx.manualTasks.markTold(ids));
    expect(notById(seen, 'manualtasks')).toEqual([]);
    const told = await ManualTaskModel.find({ _id: { $in: ids } }, { toldAt: 1 }).lean();
    expect(told.every((task) => task.toldAt instanceof Date)).toBe(true);
    await t.ctx.manualTasks.markTold(ids.slice(0, 2));
    const again = await ManualTaskModel.find({ _id: { $in: ids } }, { toldAt: 1 }).lean();
    expect(again.map((task) => task.toldAt?.getTime())).toEqual(told.map((task) => task.toldAt?.getTime()));

    const references = ['wecom-told-1', 'wecom-told-2'];
    await WecomItemModel.collection.insertMany(references.map((_id) => ({ _id, told: false })) as never[]);
    const seenWecom = await statementsDuring(() => t.ctx.wecomGroups.markTold(references));
    expect(notById(seenWecom, WecomItemModel.collection.name)).toEqual([]);
    expect(await WecomItemModel.countDocuments({ _id: { $in: references }, told: true })).toBe(2);
  });

  it('watchTasks lists on the campaign what it inserts (WeCom entries too)', async () => {
    const wecomCampaign = campaign();
    const now = new Date();
    await watchTasks([
      {
        id: 'wecom:w-1',
        kind: 'wecom',
        reference: `${wecomCampaign}@${RUN_AT}/w-1`,
        regionPath: [TREE.countyA.code],
        officerName: '群主',
        officerPhone: null,
        createdAt: now,
      },
    ]);
    await t.ctx.manualTasks.withdrawCampaignTasks(wecomCampaign, 'retracted');
    expect((await OpenTaskModel.findById('wecom:w-1').lean())?.withdrawn).toBe(true);
  });
});

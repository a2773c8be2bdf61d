// What a wave of sends costs the database (issue 25 item 5, the fan-out's hot path): the
// cards' short links of one wave are stored in one write, not one per card, and every card
// still carries its own group's link; a link stored before (a retried send) is the same link.
// A wave's officer tasks (manual channel) are made in one insert and one watch-list write,
// and a batch sent in one wave costs a fixed number of commands, however many groups it has.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fileRuns,
  listRunEntries,
  OpenTaskDueModel,
  runEntryIds,
  slotItems,
  slotOf,
} from '../../src/channels/manual/due-slots.js';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { flushOpenCounts, OpenCountIntentModel } from '../../src/channels/manual/open-counts.js';
import { FIRST_LOOK_MS, OpenTaskModel } from '../../src/channels/manual/watch.js';
import { ShortLinkModel } from '../../src/tracking/short-links.js';
import { commandsDuring as commandsOnWire } from '../helpers/commands.js';
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

/** Counts the commands sent to each collection while `fn` runs. */
async function commandsDuring(fn: () => Promise<void>): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  mongoose.set('debug', (collection: string, method: string) => {
    const key = `${collection}.${method}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  });
  try {
    await fn();
  } finally {
    mongoose.set('debug', false);
  }
  return seen;
}

const shortLinkWrites = (commands: Map<string, number>) =>
  [...commands].filter(([key]) => key.startsWith('shortlinks.insert')).reduce((sum, [, n]) => sum + n, 0);

describe('a wave of sends', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld({ env: { PUBLIC_BASE_URL: 'https://jx.example.cn' } });
  });
  afterAll(() => w.close());

  it('stores its cards’ short links in one write, and each card carries its own group’s link', async () => {
    const noticeId = await approvedNotice(w, { title: '警惕刷单返利诈骗' });
    const groups = await wecomGroups(w, 12, TREE.villageA.code);
    const campaignId = await approvedCampaign(w, {
      title: '刷单返利',
      noticeId,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    const commands = await commandsDuring(() => runUntilIdle(w));

    // 12 groups fit one wave (16 sends at once): one write for their links, not 12.
    expect(shortLinkWrites(commands), JSON.stringify([...commands])).toBe(1);
    for (const group of groups) {
      const [post] = w.doubles.received({ platform: 'wecom', robot: group.key });
      const code = /\/t\/([0-9A-Za-z]{8})/.exec(JSON.stringify(post!.body))?.[1];
      const stored = await ShortLinkModel.findById(code).lean();
      expect(stored, group.key).toMatchObject({ campaignId, groupId: group.id, noticeId });
    }
  });

  it('gives a card whose link was stored before (a retried send) that same link, without a second one', async () => {
    const links = w.t.ctx.tracking.shortLinks;
    const target = { campaignId: 'c-retry', groupId: 'g-1', noticeId: 'n-1', villageCode: TREE.villageA.code };
    const before = await links.code(target);
    // A fresh process (empty cache) prepares the same target and a new one.
    const fresh = new (links.constructor as new (secret: () => Buffer, now: () => Date) => typeof links)(
      () => w.t.ctx.tracking.secret.get(),
      () => new Date(),
    );
    const other = { ...target, groupId: 'g-2' };
    await fresh.prepare([target, other]);
    expect(await fresh.code(target)).toBe(before);
    expect(await ShortLinkModel.countDocuments({ campaignId: 'c-retry' })).toBe(2);
    const written = await commandsDuring(async () => {
      expect(await fresh.code(other)).toBe(links.codeFor(other));
    });
    expect(shortLinkWrites(written)).toBe(0);
  });

  it('sends a batch of robot and manual groups in one wave for a fixed number of commands', async () => {
    const noticeId = await approvedNotice(w, { title: '警惕冒充客服退款诈骗' });
    const robots = await wecomGroups(w, 10, TREE.villageA.code);
    const manual: string[] = [];
    for (let i = 0; i < 4; i++)
      manual.push(await manualGroup(w, `手工转发群${i}`, { officer: { name: `警官${i}`, phone: `1390000000${i}` } }));
    const campaignId = await approvedCampaign(w, {
      title: '冒充客服',
      noticeId,
      audience: audienceOf([], [...robots.map((g) => g.id), ...manual]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await w.scheduler.tick();
    const commands = await commandsDuring(async () => {
      while ((await w.worker.drainOnce()) > 0) {}
    });
    const items = await campaignItems(campaignId);
    expect(items.map((item) => item.status).sort()).toEqual([...Array(4).fill('awaiting'), ...Array(10).fill('sent')]);
    const count = (prefix: string) =>
      [...commands].filter(([key]) => key.startsWith(prefix)).reduce((sum, [, n]) => sum + n, 0);
    const seen = JSON.stringify([...commands]);
    // The wave's 4 officer tasks: one insert, one watch-list write, one due-marker write (was 4 each).
    expect(count('manualtasks.'), seen).toBe(1);
    expect(count('opentasks.bulkWrite'), seen).toBe(1);
    expect(count('opentaskmarks.'), seen).toBe(1);
    // The county's open-task count (channels/manual/open-counts.ts): the process's intent
    // written, one count write; the wave's new entries are counted as the write inserted them,
    // not re-read by `_id` one by one (was 4 reads). The intent's deletion and the counts' log
    // record and token come with the process's flush (one per second of waves, not one per
    // wave; was 4 commands per wave here).
    expect(count('opentasks.findOne'), seen).toBe(0);
    expect(count('opentaskcountintents.'), seen).toBe(1);
    expect(count('opentaskcounts.'), seen).toBe(1);
    expect(count('countchanges.') + count('countversions.updateOne'), seen).toBe(0);
    const flushed = await commandsDuring(() => flushOpenCounts());
    // (The process's first log record reads where the log ends: `countversions.findOne`.)
    const flushWrites = [...flushed.keys()].filter((key) => key !== 'countversions.findOne').sort();
    expect(flushWrites, JSON.stringify([...flushed])).toEqual([
      'countchanges.insertOne',
      'countversions.updateOne',
      'opentaskcountintents.deleteOne',
    ]);
    expect(await OpenCountIntentModel.countDocuments({})).toBe(0);
    // The look after the release: one read of the batch's wake marker (nobody woke it), not
    // one confirmation read per awaiting task (was 4).
    expect(count('manualconfirmations.'), seen).toBe(0);
    expect(count('batchwakes.'), seen).toBe(1);
    // The fence (campaign read after the claim) once for the wave: no look before the first
    // claim of a batch that was not parked, none after a wave that left nothing pending.
    expect(count('campaigns.'), seen).toBe(1);
    expect(count('sendattempts.'), seen).toBe(1);
    expect(count('rateslots.'), seen).toBe(1);
    expect(count('shortlinks.'), seen).toBe(1);
    // One write of the batch (its release) and one roll-up marker.
    expect(count('deliverybatches.updateOne'), seen).toBe(1);
    expect(count('rollupmarkers.'), seen).toBe(1);
    // Everything else the worker sent for these 14 deliveries, besides looking at the work list
    // and taking the batch (a second lane may try the same batch once): the entry's two moves,
    // the packed part, the notice (the fence), the county's text setting (one read for the
    // wave's four tasks), the wake marker after the release, the county's open-task count
    // (2, above: the intent and the count; its claim is among the claims).
    expect(count('countyofficertexts.'), seen).toBe(1);
    const taking = ['queueentries.find', 'deliverybatches.findOne', 'claims.'];
    // The officer runs' due keys (due-slots.ts): the wave's 4 run list items, its campaign list
    // item (tenth session, scans: a stop reaches its entries by `_id`), its slot item and the
    // slot's hint in one write, and the slot's hint read when this process first files in
    // that minute (was a hint read per officer run, two inserts and two updates: up to 9).
    expect(count('opentaskdue.bulkWrite'), seen).toBe(1);
    expect(count('opentaskdue.'), seen).toBeLessThanOrEqual(2);
    // No rankings marker: the rankings read the history's made list (was one insert).
    expect(count('rankmarks.'), seen).toBe(0);
    const rest = [...commands].filter(
      ([key]) => !taking.some((prefix) => key.startsWith(prefix)) && !key.startsWith('opentaskdue.'),
    );
    expect(
      rest.reduce((sum, [, n]) => sum + n, 0),
      seen,
    ).toBeLessThanOrEqual(19);
    // Each task made in the wave is what createTask makes, and is on the watch list.
    const tasks = await ManualTaskModel.find({ taskKey: { $regex: `^${campaignId}@` } }).lean();
    expect(tasks).toHaveLength(4);
    for (const task of tasks) {
      expect(task).toMatchObject({
        confirmedAt: null,
        linkGeneration: 0,
        rotations: [],
        withdrawnAt: null,
        toldAt: null,
      });
      expect(await OpenTaskModel.findById(String(task._id)).lean()).toMatchObject({ kind: 'manual', campaignId });
    }
  });

  it('makes a hold’s officer tasks in its first wave, wherever they lie among its groups', async () => {
    const noticeId = await approvedNotice(w, { title: '警惕虚假投资理财' });
    // 30 groups of one village (one batch, two waves of at most 16 sends): every fifth manual,
    // so in the batch's order officer tasks fall in both waves.
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      if (i % 5 === 4)
        ids.push(await manualGroup(w, `理财转发群${i}`, { officer: { name: '赵警官', phone: '13900000009' } }));
      else ids.push((await wecomGroups(w, 1, TREE.villageA.code))[0]!.id);
    }
    const campaignId = await approvedCampaign(w, {
      title: '虚假理财',
      noticeId,
      audience: audienceOf([], ids),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await w.scheduler.tick();
    const commands = await commandsDuring(async () => {
      while ((await w.worker.drainOnce()) > 0) {}
    });
    const items = await campaignItems(campaignId);
    expect(items.map((item) => item.status).sort()).toEqual([...Array(6).fill('awaiting'), ...Array(24).fill('sent')]);
    const count = (prefix: string) =>
      [...commands].filter(([key]) => key.startsWith(prefix)).reduce((sum, [, n]) => sum + n, 0);
    const seen = JSON.stringify([...commands]);
    // More than one wave was sent…
    expect(count('sendattempts.'), seen).toBeGreaterThan(1);
    // …but the six tasks were made in one: one insert, one watch-list write, one count (was two of each).
    expect(count('manualtasks.'), seen).toBe(1);
    expect(count('opentasks.bulkWrite'), seen).toBe(1);
    expect(count('opentaskcounts.'), seen).toBe(1);
    expect(count('taskhistory.insertMany'), seen).toBe(1);
  });

  it('files a wave’s officer runs in one due-keys write and makes its tasks without a rankings marker', async () => {
    const tasks = w.t.ctx.manualTasks;
    const message = {
      type: 'text' as const,
      card: {
        format: 'text' as const,
        title: '标题',
        content: '正文',
        url: 'https://jx.example.cn/t/y',
        pictureUrl: null,
      },
    };
    /** A wave of 8 tasks of 4 officers (4 officer runs) of one campaign's run. */
    const wave = (campaign: string) =>
      Array.from({ length: 8 }, (_, i) => ({
        target: {
          groupId: `${campaign}-g${i}`,
          groupName: `群${i}`,
          credentials: { kind: 'manual' as const },
          regionPath: ['44', TREE.villageA.code],
          officer: { name: `警官${i % 4}`, phone: `1370000100${i % 4}` },
        },
        message,
        reference: `${campaign}@2026-01-02T00:00:00.000Z/${campaign}-g${i}`,
      }));
    for (const campaign of ['c-due-1', 'c-due-2']) {
      const seen = await commandsOnWire(() => tasks.createTasks(wave(campaign)).then(() => undefined));
      const on = (collection: string) => seen.filter((c) => c.collection === collection);
      const writes = on('opentaskdue').filter((c) => ['insert', 'update', 'delete'].includes(c.name));
      // One write for the wave's 4 run list items, its slot item, the slot's hint (and, first
      // in a ten minutes, its markers): was a hint read, an insert and an update for the run
      // lists and again for the slot (6 commands, 4 reads more with 4 runs).
      expect(
        writes.map((c) => c.name),
        JSON.stringify(on('opentaskdue')),
      ).toEqual(['update']);
      // The slot's hint is read once per process (and near its end), never per run.
      expect(on('opentaskdue').length - writes.length, JSON.stringify(on('opentaskdue'))).toBeLessThanOrEqual(1);
      // The rankings read the history's made list (written in its one insert): no marker.
      expect(on('rankmarks'), JSON.stringify(seen)).toEqual([]);
      expect(on('taskhistory').filter((c) => c.name === 'insert')).toHaveLength(1);
      // What the notifier reads: the runs filed at the tasks' first look, each run's entries listed.
      const made = await ManualTaskModel.find({ taskKey: { $regex: `^${campaign}@` } }).lean();
      expect(made).toHaveLength(8);
      const slot = slotOf(made[0]!.createdAt.getTime() + FIRST_LOOK_MS);
      const filed = new Set((await slotItems(slot)).map((item) => item.run));
      for (let officer = 0; officer < 4; officer++) {
        const run = `${campaign}@2026-01-02T00:00:00.000Z|1370000100${officer}`;
        expect(filed.has(run), run).toBe(true);
        const listed = made
          .filter((task) => task.officerPhone === `1370000100${officer}`)
          .map((task) => String(task._id));
        expect((await runEntryIds(run)).sort()).toEqual(listed.sort());
      }
    }
  });

  it('files above an item number another process took meanwhile (the process carries its lists’ numbers)', async () => {
    const at = new Date(Date.now() + 10 * 60_000);
    const slot = slotOf(at);
    await fileRuns([{ run: 'run-a', at }]);
    await listRunEntries([{ run: 'run-r', id: 'e-1' }]);
    // Another process appends to both lists (the numbers this process would take next).
    await OpenTaskDueModel.collection.insertMany([
      { _id: `s:${slot}|1` as never, runs: ['run-other'], ats: [at] },
      { _id: 'r:run-r|1' as never, ids: ['e-2'] },
    ]);
    await OpenTaskDueModel.collection.updateOne(
      { _id: `s:${slot}|next` as never },
      { $max: { next: 2 } },
      { upsert: true },
    );
    await fileRuns([{ run: 'run-b', at }]);
    await listRunEntries([{ run: 'run-r', id: 'e-3' }]);
    expect((await slotItems(slot)).map((item) => [item.n, item.run])).toEqual([
      [0, 'run-a'],
      [1, 'run-other'],
      [2, 'run-b'],
    ]);
    expect((await runEntryIds('run-r')).sort()).toEqual(['e-1', 'e-2', 'e-3']);
  });

  it('makes each officer task of a repeated wave once (createTasks is idempotent per delivery)', async () => {
    const tasks = w.t.ctx.manualTasks;
    const target = (groupId: string) => ({
      groupId,
      groupName: `群${groupId}`,
      credentials: { kind: 'manual' as const },
      regionPath: ['44', TREE.villageA.code],
      officer: { name: '李警官', phone: '13800000000' },
    });
    const message = {
      type: 'text' as const,
      card: {
        format: 'text' as const,
        title: '标题',
        content: '正文',
        url: 'https://jx.example.cn/t/x',
        pictureUrl: null,
      },
    };
    const wave = ['g-a', 'g-b'].map((g) => ({
      target: target(g),
      message,
      reference: `c-wave@2026-01-01T00:00:00.000Z/${g}`,
    }));
    expect([...(await tasks.createTasks(wave))].sort()).toEqual(wave.map((x) => x.reference).sort());
    const single = await tasks.createTask(target('g-c'), message, 'c-wave@2026-01-01T00:00:00.000Z/g-c');
    // Again, with one more and one made by createTask: no second task for any reference.
    const again = [
      ...wave,
      { target: target('g-c'), message, reference: single.reference },
      { target: target('g-d'), message, reference: 'c-wave@2026-01-01T00:00:00.000Z/g-d' },
    ];
    expect((await tasks.createTasks(again)).size).toBe(4);
    const stored = await ManualTaskModel.find({ taskKey: { $regex: '^c-wave@' } }).lean();
    expect(stored.map((doc) => doc.taskKey).sort()).toEqual(again.map((x) => x.reference).sort());
    const made = stored.find((doc) => doc.taskKey.endsWith('/g-a'))!;
    const byOne = stored.find((doc) => doc.taskKey.endsWith('/g-c'))!;
    const { _id: _a, taskKey: _ka, groupId: _ga, groupName: _na, createdAt: _ca, ...waveFields } = made;
    const { _id: _b, taskKey: _kb, groupId: _gb, groupName: _nb, createdAt: _cb, ...oneFields } = byOne;
    expect(waveFields).toEqual(oneFields);
  });
});

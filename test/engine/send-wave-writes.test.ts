// What a wave of sends costs the database (issue 25 item 5, the fan-out's hot path): the
// cards' short links of one wave are stored in one write, not one per card, and every card
// still carries its own group's link; a link stored before (a retried send) is the same link.
// A wave's officer tasks (manual channel) are made in one insert and one watch-list write,
// and a batch sent in one wave costs a fixed number of commands, however many groups it has.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { OpenCountIntentModel, flushOpenCounts } from '../../src/channels/manual/open-counts.js';
import { OpenTaskModel } from '../../src/channels/manual/watch.js';
import { ShortLinkModel } from '../../src/tracking/short-links.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  campaignItems,
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
    // The wave's 4 officer tasks: one insert, one watch-list write, one marker write (was 4 each).
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
    // The officer runs' due keys (due-slots.ts: per officer run its hint read, list item and
    // slot filing), counted apart: they grow with the wave's officer runs, not its groups; and
    // the campaign's list of entries (one hint read per wave; its item and hint ride in the same
    // insert and hint write: tenth session, a stop reaches its entries by `_id`).
    expect(count('opentaskdue.'), seen).toBeLessThanOrEqual(10);
    const rest = [...commands].filter(
      ([key]) => !taking.some((prefix) => key.startsWith(prefix)) && !key.startsWith('opentaskdue.'),
    );
    expect(
      rest.reduce((sum, [, n]) => sum + n, 0),
      seen,
    ).toBeLessThanOrEqual(20);
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
      if (i % 5 === 4) ids.push(await manualGroup(w, `理财转发群${i}`, { officer: { name: '赵警官', phone: '13900000009' } }));
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

// The per-county open-task counts (channels/manual/open-counts.ts): the workbench's 待确认转发
// figures and badges are read from one document per county by `_id`, and those documents must
// always equal a full recount of the open-task watch list — after tasks are listed, listed
// again (a retry or a take-over), confirmed, withdrawn, expired, and after a writer that died
// between its entry write and its count write (its intent repaired by the notifier's pass).
// Real FerretDB and HTTP, fixed clock; the driver's commands are counted, nothing is timed.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OpenCountIntentModel,
  OpenCountModel,
  countedChange,
  countedTasks,
  countyOf,
  flushOpenCounts,
  setCountsFlushMs,
} from '../../src/channels/manual/open-counts.js';
import { CollectionChangeModel } from '../../src/db/versions.js';
import {
  OpenTaskMarkModel,
  OpenTaskModel,
  buildOpenCounts,
  markCampaignWithdrawn,
  repairCounts,
  unwatch,
  watchTasks,
} from '../../src/channels/manual/watch.js';
import { fixedClock } from '../../src/lib/clock.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

const clock = fixedClock('2026-12-03T04:00:00Z');
const DAY = 24 * 3600_000;
const PATH_A = ['000000', '440000', '440100', '440106', '440106001', '440106001001'];
const PATH_B = ['000000', '440000', '440100', '440111', '440111002', '440111002003'];

/** What the counts documents say, per county and officer (open at `now`). */
async function fromCounts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const doc of await OpenCountModel.find({}).lean<
    { _id: string; e: Record<string, [number, string | null]> }[]
  >()) {
    for (const [expiresAt, phone] of Object.values(doc.e ?? {})) {
      if (expiresAt <= clock.now().getTime()) continue;
      const key = `${doc._id}|${phone}`;
      out[key] = (out[key] ?? 0) + 1;
    }
  }
  return out;
}

/** A full recount of the watch list, per county and officer. */
async function recount(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const entry of await OpenTaskModel.find({ kind: 'manual', withdrawn: { $ne: true } }).lean()) {
    if (entry.expiresAt.getTime() <= clock.now().getTime()) continue;
    const key = `${countyOf(entry.regionPath)}|${entry.officerPhone}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe('per-county open-task counts', () => {
  let t: TestApp;
  let n = 0;
  const task = (path: string[], phone: string, campaignId = 'c'.repeat(24), createdAt = clock.now()) => {
    n += 1;
    const id = new mongoose.Types.ObjectId().toHexString();
    return {
      id,
      kind: 'manual' as const,
      reference: `${campaignId}@2026-12-03T03:00:00.000Z/g${n}`,
      regionPath: path,
      officerName: `警官${phone.slice(-1)}`,
      officerPhone: phone,
      createdAt,
    };
  };

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  async function workbench(token: string) {
    const response = await t.request('GET', '/api/workbench/counts', token);
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as { awaitingTasks: number; awaitingByOfficer: { phone: string; open: number }[] };
  }

  it('equal a full recount after listing, a retry, confirmation, withdrawal and expiry', async () => {
    const a1 = [task(PATH_A, '13900000001'), task(PATH_A, '13900000001'), task(PATH_A, '13900000002')];
    const b1 = [task(PATH_B, '13900000001', 'd'.repeat(24))];
    const old = task(PATH_A, '13900000003', 'c'.repeat(24), new Date(clock.now().getTime() - 6 * DAY));
    await watchTasks([...a1, ...b1, old]);
    expect(await fromCounts()).toEqual(await recount());
    expect(Object.values(await recount()).reduce((s, v) => s + v, 0)).toBe(5);

    // A retry or a take-over lists the same tasks again: nothing doubles.
    await watchTasks([a1[0]!, b1[0]!]);
    expect(await fromCounts()).toEqual(await recount());

    const editor = (await t.userToken('editor', TREE.countyA.code)).token;
    const city = (await t.userToken('editor', TREE.city.code)).token;
    expect((await workbench(editor)).awaitingTasks).toBe(4);
    expect((await workbench(city)).awaitingTasks).toBe(5);
    expect((await workbench(t.adminToken)).awaitingTasks).toBe(5);
    expect((await workbench(city)).awaitingByOfficer[0]).toMatchObject({ phone: '13900000001', open: 3 });

    // Confirmed (the entry leaves the list).
    await unwatch([a1[0]!.id]);
    expect(await fromCounts()).toEqual(await recount());
    expect((await workbench(editor)).awaitingTasks).toBe(3);

    // Withdrawn: the campaign of county A's tasks is stopped (still listed until announced).
    await markCampaignWithdrawn('c'.repeat(24), clock.now());
    expect(await fromCounts()).toEqual(await recount());
    expect((await workbench(editor)).awaitingTasks).toBe(0);
    expect((await workbench(city)).awaitingTasks).toBe(1);

    // Expiry: a day on, the six-day-old task would be past its 7 days (here already withdrawn);
    // list a fresh old one and let time pass: it leaves the counts without any write.
    const aging = task(PATH_B, '13900000004', 'e'.repeat(24), new Date(clock.now().getTime() - 6 * DAY));
    await watchTasks([aging]);
    expect((await workbench(city)).awaitingTasks).toBe(2);
    clock.advance(DAY);
    expect(await fromCounts()).toEqual(await recount());
    expect((await workbench(city)).awaitingTasks).toBe(1);
  });

  it('a writer killed between its entry write and its count write is repaired by the notifier’s pass', async () => {
    const fresh = [task(PATH_A, '13900000005', 'f'.repeat(24)), task(PATH_B, '13900000005', 'f'.repeat(24))];
    // The writer dies right after its entry write (before reading the entries back).
    await expect(
      countedChange(
        fresh.map((f) => f.id),
        fresh.map((f) => f.regionPath),
        async () => {
          await OpenTaskModel.insertMany(
            fresh.map((f) => ({
              _id: f.id,
              kind: 'manual',
              campaignId: 'f'.repeat(24),
              occurrenceId: null,
              regionPath: f.regionPath,
              officerName: f.officerName,
              officerPhone: f.officerPhone,
              createdAt: f.createdAt,
              expiresAt: new Date(f.createdAt.getTime() + 7 * DAY),
              // Not due for the notifier in this test (it would drop entries without a task).
              dueAt: new Date(f.createdAt.getTime() + 7 * DAY),
            })),
          );
        },
        async () => {
          throw new Error('killed');
        },
      ),
    ).rejects.toThrow('killed');
    expect(await fromCounts()).not.toEqual(await recount());
    expect(await OpenCountIntentModel.countDocuments({})).toBe(1);

    // A pass before the intent is stale leaves it (its writer may still be running).
    expect(await repairCounts(new Date())).toBe(0);
    // The notifier's pass looks for them (one read of the intents, normally empty) ...
    const pass = await commandsDuring(() => t.ctx.notifier.tick());
    expect(pass.some((c) => c.collection === 'opentaskcountintents')).toBe(true);
    // ... and once stale (its writer is dead) re-counts the two counties it names.
    expect(await repairCounts(new Date(Date.now() + 61_000))).toBe(2);
    expect(await fromCounts()).toEqual(await recount());
    expect(await OpenCountIntentModel.countDocuments({})).toBe(0);

    // A writer killed after its entry deletion, before its count write: the same.
    const gone = fresh[0]!.id;
    await expect(
      countedChange(
        [gone],
        [fresh[0]!.regionPath],
        async () => {
          await OpenTaskModel.deleteOne({ _id: gone });
        },
        async () => {
          throw new Error('killed');
        },
      ),
    ).rejects.toThrow('killed');
    expect(await fromCounts()).not.toEqual(await recount());
    await repairCounts(new Date(Date.now() + 61_000));
    expect(await fromCounts()).toEqual(await recount());
  });

  it('are kept per process: a repeated call reads no county, a call after a write only the counties written, by _id', async () => {
    const editor = (await t.userToken('editor', TREE.countyA.code)).token;
    const city = (await t.userToken('editor', TREE.city.code)).token;
    const countsRead = (seen: Awaited<ReturnType<typeof commandsDuring>>) =>
      seen.filter((c) => /^opentask/.test(c.collection) || c.collection === 'manualtasks');
    for (const token of [editor, city, t.adminToken]) await workbench(token);
    for (const token of [editor, city, t.adminToken]) {
      expect(countsRead(await commandsDuring(() => workbench(token)))).toEqual([]);
    }
    // Another process lists a task in county A: its log record names county A only.
    await watchTasks([task(PATH_A, '13900000007', '7'.repeat(24))]);
    const seen = countsRead(await commandsDuring(() => workbench(city)));
    expect(seen.map((c) => c.filter)).toEqual([{ _id: TREE.countyA.code }]);
    for (const read of seen) expect(read.collection).toBe('opentaskcounts');
    expect(countsRead(await commandsDuring(() => workbench(t.adminToken)))).toEqual([]);
    // Exact: what a fresh read of the documents gives.
    const fresh = await countedTasks([TREE.countyA.code, TREE.countyB.code], clock.now());
    expect((await workbench(city)).awaitingTasks).toBe(fresh.length);
    expect((await workbench(t.adminToken)).awaitingTasks).toBe(fresh.length);
  });

  it('share one intent and one log record per process flush for deferred writes (the worker’s waves), exact after a kill', async () => {
    const editor = (await t.userToken('editor', TREE.countyA.code)).token;
    const city = (await t.userToken('editor', TREE.city.code)).token;
    await flushOpenCounts();
    // A flush window no loaded machine outlasts between two writes (1 s in service).
    setCountsFlushMs(600_000);
    const before = (await workbench(city)).awaitingTasks;
    const logged = async () => (await CollectionChangeModel.find({}).lean<{ _id: string; ids: string[] }[]>()).length;
    const records = await logged();
    // Two waves of one worker within a second, in two counties: one intent names both.
    const waves = [[task(PATH_A, '13900000008', '8'.repeat(24))], [task(PATH_B, '13900000008', '8'.repeat(24))]];
    const seen = await commandsDuring(async () => {
      for (const wave of waves) await watchTasks(wave, { deferLog: true });
    });
    expect(seen.filter((c) => c.collection === 'opentaskcountintents').map((c) => c.name)).toEqual([
      'update',
      'update',
    ]);
    expect(seen.filter((c) => /^count(changes|versions)$/.test(c.collection))).toEqual([]);
    const intents = await OpenCountIntentModel.find({}).lean<{ counties: string[] }[]>();
    expect(intents.map((i) => [...i.counties].sort())).toEqual([[TREE.countyA.code, TREE.countyB.code].sort()]);
    // Readers of this process see the writes at once (before the log record is written).
    expect((await workbench(city)).awaitingTasks).toBe(before + 2);
    expect(await fromCounts()).toEqual(await recount());
    // The flush: one record naming both counties, then the intent goes.
    await flushOpenCounts();
    expect(await logged()).toBe(records + 1);
    expect(await OpenCountIntentModel.countDocuments({})).toBe(0);

    // A worker killed after its count write, before its flush (the log record never written):
    // its intent names the county, and the repair re-counts and logs it for readers elsewhere.
    await watchTasks([task(PATH_A, '13900000008', '8'.repeat(24))], { deferLog: true });
    expect(await OpenCountIntentModel.countDocuments({})).toBe(1);
    const atKill = await logged();
    expect(await repairCounts(new Date(Date.now() + 61_000))).toBe(1);
    expect(await logged()).toBe(atKill + 1);
    expect(await OpenCountIntentModel.countDocuments({})).toBe(0);
    expect(await fromCounts()).toEqual(await recount());
    await flushOpenCounts();
    setCountsFlushMs();
    expect((await workbench(editor)).awaitingTasks).toBe(
      (await countedTasks([TREE.countyA.code], clock.now())).length,
    );
  });

  it('are counted once at start for a list written before they existed', async () => {
    await watchTasks([task(PATH_A, '13900000006'), task(PATH_B, '13900000006')]);
    const before = await recount();
    expect(Object.keys(before).length).toBeGreaterThan(1);
    await OpenCountModel.deleteMany({});
    await OpenTaskMarkModel.deleteOne({ _id: 'counts-built' });
    expect(await buildOpenCounts(clock.now())).toBe(2);
    expect(await fromCounts()).toEqual(before);
    // A second start reads the marker only.
    const seen = await commandsDuring(() => buildOpenCounts(clock.now()));
    expect(seen.map((c) => c.collection)).toEqual(['opentaskmarks']);
  });
});

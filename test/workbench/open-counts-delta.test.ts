// A held county is re-read by the entries written, not whole (issue 25, eleventh session,
// countlog): the counts' log names the task ids each write set or unset in a county's document
// (channels/manual/open-counts.ts), and the kept copy (kept-open-counts.ts) re-reads only those
// (`findById(county, { 'e.<id>': 1 })`). Before, a county named by the log was read whole
// (~70 KB per county at 50,000 groups, up to 84 of them on one call during a province-wide send).
// Bytes are the replies' BSON sizes seen by command monitoring (as bench/province.ts counts
// them). The kept rows equal an oracle from the raw watch entries after writes by this process,
// by another process (its document write and log record only), after a writer killed between
// its entry write and its count write (the notifier's repair), and after a gap in the log.
import mongoose, { mongo } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeptOpenCounts } from '../../src/channels/manual/kept-open-counts.js';
import {
  COUNTS_LOG,
  type CountValue,
  countedChange,
  countyOf,
  flushOpenCounts,
  OpenCountModel,
} from '../../src/channels/manual/open-counts.js';
import { OpenTaskModel, repairCounts, unwatch, watchTasks } from '../../src/channels/manual/watch.js';
import {
  CollectionChangeModel,
  CollectionVersionModel,
  changeLogEnd,
  collectionChanged,
} from '../../src/db/versions.js';
import { fixedClock } from '../../src/lib/clock.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createRegionTree, TREE } from '../helpers/regions.js';

const clock = fixedClock('2026-12-03T04:00:00Z');
const PATH_A = ['000000', '440000', '440100', '440106', '440106001', '440106001001'];
const PATH_B = ['000000', '440000', '440100', '440111', '440111002', '440111002003'];
const COUNTIES: string[] = [TREE.countyA.code, TREE.countyB.code];

/** Reply bytes of the reads of the county documents and of the counts' log while `work` runs. */
async function bytesDuring(work: () => Promise<unknown>): Promise<number> {
  const client = mongoose.connection.getClient();
  const counted = new Set<number>();
  let bytes = 0;
  const started = (event: mongo.CommandStartedEvent) => {
    const target = event.command[event.commandName];
    if (event.commandName === 'find' && (target === 'opentaskcounts' || target === 'countchanges'))
      counted.add(event.requestId);
  };
  const succeeded = (event: mongo.CommandSucceededEvent) => {
    if (counted.has(event.requestId) && event.reply) bytes += mongo.BSON.calculateObjectSize(event.reply as never);
  };
  client.on('commandStarted', started);
  client.on('commandSucceeded', succeeded);
  try {
    await work();
  } finally {
    client.off('commandStarted', started);
    client.off('commandSucceeded', succeeded);
  }
  return bytes;
}

/** The oracle: every counted watch entry open now, by id (expiresAt, officer phone). */
async function oracle(): Promise<Record<string, [number, string | null]>> {
  const out: Record<string, [number, string | null]> = {};
  for (const entry of await OpenTaskModel.find({ kind: 'manual', withdrawn: { $ne: true } }).lean()) {
    if (entry.expiresAt.getTime() <= clock.now().getTime()) continue;
    if (!COUNTIES.includes(countyOf(entry.regionPath) ?? '')) continue;
    out[String(entry._id)] = [entry.expiresAt.getTime(), entry.officerPhone ?? null];
  }
  return out;
}

describe('the kept open-task counts re-read what was written, not the county', () => {
  let t: TestApp;
  let n = 0;
  const task = (path: string[], phone = '13900000001') => {
    n += 1;
    return {
      id: new mongoose.Types.ObjectId().toHexString(),
      kind: 'manual' as const,
      reference: `${'c'.repeat(24)}@2026-12-03T03:00:00.000Z/g${n}`,
      regionPath: path,
      officerName: `警官${phone.slice(-1)}`,
      officerPhone: phone,
      createdAt: clock.now(),
    };
  };
  const kept = new KeptOpenCounts();
  const scope = () => Promise.resolve({ counties: COUNTIES });
  async function held(reader = kept): Promise<Record<string, [number, string | null]>> {
    const out: Record<string, [number, string | null]> = {};
    for (const row of await reader.rows(scope(), clock.now())) out[row.id] = [row.value[0], row.value[1]];
    return out;
  }

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    await createRegionTree(t);
    // County A with many open tasks (a few hundred entries), county B with a few.
    for (let wave = 0; wave < 4; wave++) await watchTasks(Array.from({ length: 100 }, () => task(PATH_A)));
    await watchTasks([task(PATH_B), task(PATH_B)]);
    await flushOpenCounts();
  });
  afterAll(() => t.close());

  it('reads bytes in proportion to a write of a few entries, and stays equal to the raw entries', async () => {
    const whole = await bytesDuring(() => held());
    expect(await held()).toEqual(await oracle());
    expect(whole).toBeGreaterThan(40_000);
    expect(await bytesDuring(() => held())).toBe(0);

    // This process writes two tasks into county A (the log names their ids).
    await watchTasks([task(PATH_A, '13900000002'), task(PATH_A, '13900000002')]);
    const afterOwn = await bytesDuring(() => held());
    expect(afterOwn).toBeLessThan(whole / 20);
    expect(await held()).toEqual(await oracle());

    // Another process withdraws one (its document write and its log record only: this
    // process's readers are not told).
    const [victim] = Object.keys(await oracle());
    const entry = await OpenTaskModel.findById(victim).lean<{ regionPath: string[] }>();
    const county = countyOf(entry!.regionPath)!;
    await OpenTaskModel.deleteOne({ _id: victim });
    await OpenCountModel.updateOne({ _id: county }, { $unset: { [`e.${victim}`]: '' } });
    await collectionChanged(COUNTS_LOG, [county], new Map([[county, new Set([victim!])]]));
    const afterOther = await bytesDuring(() => held());
    expect(afterOther).toBeLessThan(whole / 20);
    expect(await held()).toEqual(await oracle());

    // A new value of an entry another process set (a later expiry): re-read by id, exact.
    const [changed] = Object.keys(await oracle());
    const later = (await OpenCountModel.findById(county, { [`e.${changed}`]: 1 }).lean<{
      e: Record<string, CountValue>;
    }>())!.e[changed!]!;
    const value: CountValue = [later[0] + 3600_000, later[1], later[2], later[3], later[4] ?? null];
    await OpenTaskModel.updateOne({ _id: changed }, { $set: { expiresAt: new Date(value[0]) } });
    await OpenCountModel.updateOne({ _id: county }, { $set: { [`e.${changed}`]: value } });
    await collectionChanged(COUNTS_LOG, [county], new Map([[county, new Set([changed!])]]));
    expect(await held()).toEqual(await oracle());

    // A second reader (another process's copy, read once) agrees.
    expect(await held(new KeptOpenCounts())).toEqual(await oracle());
  });

  it('is exact after a writer killed between its entry write and its count write (the repair re-reads whole)', async () => {
    await held();
    const gone = Object.keys(await oracle()).slice(0, 2);
    const entries = await OpenTaskModel.find({ _id: { $in: gone } }).lean<{ _id: string; regionPath: string[] }[]>();
    await expect(
      countedChange(
        entries.map((e) => String(e._id)),
        entries.map((e) => e.regionPath),
        async () => {
          await OpenTaskModel.deleteMany({ _id: { $in: gone } });
        },
        async () => {
          throw new Error('killed');
        },
      ),
    ).rejects.toThrow('killed');
    await repairCounts(new Date(Date.now() + 61_000));
    expect(await held()).toEqual(await oracle());
    // Unwatched through the service: logged by id again.
    const [one] = Object.keys(await oracle());
    await unwatch([one!]);
    expect(await bytesDuring(() => held())).toBeLessThan(10_000);
    expect(await held()).toEqual(await oracle());
  });

  it('reads every county whole after a gap in the log (records pruned), and is exact', async () => {
    await held();
    // Another process's write whose record is gone (pruned) by the time this process reads.
    const [victim] = Object.keys(await oracle());
    const entry = await OpenTaskModel.findById(victim).lean<{ regionPath: string[] }>();
    const county = countyOf(entry!.regionPath)!;
    await OpenTaskModel.deleteOne({ _id: victim });
    await OpenCountModel.updateOne({ _id: county }, { $unset: { [`e.${victim}`]: '' } });
    await collectionChanged(COUNTS_LOG, [county], new Map([[county, new Set([victim!])]]));
    // The token's hint names the newest record (before, mongoose dropped it: the gap unseen).
    expect((await CollectionVersionModel.collection.findOne({ _id: COUNTS_LOG as never }))?.n).toBe(
      await changeLogEnd(COUNTS_LOG),
    );
    const hint = (await CollectionVersionModel.findById(COUNTS_LOG, { n: 1 }).lean<{ n: number }>())!.n;
    const pruned = await CollectionChangeModel.deleteOne({ _id: `${COUNTS_LOG}#${hint}` });
    expect(pruned.deletedCount).toBe(1);
    const bytes = await bytesDuring(() => held());
    expect(bytes).toBeGreaterThan(40_000);
    expect(await held()).toEqual(await oracle());
  });
});

// The province admin's rankings over 30 days (tracking/rankings.ts from the blocks of
// rank-tally.ts) on a province of three counties: every officer's and township's figures, the
// median confirmation time included, equal an oracle computed from the raw tasks for several
// periods and regions; documents written before the delays were packed (rank-delays.ts) answer
// the same, before, during (a backfill killed midway) and after the one-time backfill, run
// twice; and what a call reads from the tallies grows by a few bytes per confirmed task
// (the delays packed), not by the 9–10 of a seconds → count object.
import { BSON, type CommandStartedEvent, type CommandSucceededEvent } from 'mongodb';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordTasks } from '../../src/channels/manual/history.js';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { MARK_SLACK_MS, RankMarkModel } from '../../src/channels/manual/rank-marks.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { delaysOf } from '../../src/tracking/rank-delays.js';
import { type Cell, officerKey, PACKED_BACKFILL, RankTally, RankTallyModel } from '../../src/tracking/rank-tally.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';
import { villagePath } from '../helpers/officer-tasks.js';
import { addRegions, createRegionTree, TREE } from '../helpers/regions.js';

const ROOT = '000000';
const MORE = {
  townshipA2: { code: '440106002', name: '石牌街道', parentCode: '440106' },
  villageA2: { code: '440106002001', name: '石牌村', parentCode: '440106002' },
  countyC: { code: '440113', name: '番禺区', parentCode: '440100' },
  townshipC: { code: '440113003', name: '市桥街道', parentCode: '440113' },
  villageC: { code: '440113003001', name: '东涌村', parentCode: '440113003' },
} as const;
const PATHS = [
  villagePath(TREE.countyA.code, TREE.townshipA.code, TREE.villageA.code),
  villagePath(TREE.countyA.code, MORE.townshipA2.code, MORE.villageA2.code),
  villagePath(TREE.countyB.code, TREE.townshipB.code, TREE.villageB.code),
  villagePath(MORE.countyC.code, MORE.townshipC.code, MORE.villageC.code),
];
const DAY = 86_400_000;

const dayFormat = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
});
const localDay = (at: Date) => dayFormat.format(at);

/** A deterministic pseudo-random sequence in [0, 1). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

type Figures = { due: number; confirmed: number; open: number; rate: number | null; medianMinutes: number | null };

/** Every stored task, as the oracle reads them. */
const storedTasks = () => ManualTaskModel.find({}).lean();

/**
 * The oracle: every stored task under `base` created on a local day of [from, to], by officer
 * phone and by township. `tasks`: the stored tasks, read once for a check's many questions
 * (nothing is written while a check asks them).
 */
function oracle(tasks: Awaited<ReturnType<typeof storedTasks>>, base: string, from: string, to: string) {
  const officers = new Map<string, { f: Figures; delays: number[] }>();
  const townships = new Map<string, { f: Figures; delays: number[] }>();
  for (const task of tasks) {
    const day = localDay(task.createdAt);
    if (!task.regionPath.includes(base) || day < from || day > to) continue;
    const add = (map: Map<string, { f: Figures; delays: number[] }>, key: string) => {
      const entry = map.get(key) ?? {
        f: { due: 0, confirmed: 0, open: 0, rate: null, medianMinutes: null },
        delays: [],
      };
      if (task.confirmedAt) {
        entry.f.due += 1;
        entry.f.confirmed += 1;
        entry.delays.push(Math.floor((task.confirmedAt.getTime() - task.createdAt.getTime()) / 1000));
      } else if (!task.withdrawnAt) {
        entry.f.due += 1;
        entry.f.open += 1;
      }
      map.set(key, entry);
    };
    add(officers, task.officerPhone ?? '');
    add(townships, task.regionPath[4]!);
  }
  const finish = (map: Map<string, { f: Figures; delays: number[] }>) =>
    new Map(
      [...map]
        .filter(([, { f }]) => f.due > 0 || map === officers)
        .map(([key, { f, delays }]) => {
          const d = [...delays].sort((a, b) => a - b);
          const n = d.length;
          const median = n === 0 ? null : n % 2 ? d[(n - 1) / 2]! : (d[n / 2 - 1]! + d[n / 2]!) / 2;
          return [
            key,
            {
              ...f,
              rate: f.due ? f.confirmed / f.due : null,
              medianMinutes: median === null ? null : Math.round(median / 60),
            },
          ];
        }),
    );
  return { officers: finish(officers), townships: finish(townships) };
}

function answered(body: {
  officers: (Figures & { phone: string | null })[];
  townships: (Figures & { code: string })[];
}) {
  const pick = ({ due, confirmed, open, rate, medianMinutes }: Figures) => ({
    due,
    confirmed,
    open,
    rate,
    medianMinutes,
  });
  return {
    officers: new Map(body.officers.map((o) => [o.phone ?? '', pick(o)])),
    townships: new Map(body.townships.filter((r) => r.due > 0).map((r) => [r.code, pick(r)])),
  };
}

describe('the province admin’s rankings over 30 days', () => {
  let t: TestApp;
  let n = 0;
  const now = Date.now();
  const today = localDay(new Date(now));
  const refresh = () => t.ctx.tracking.rollups.refreshAll('test');
  const settle = async () => {
    await RankMarkModel.updateMany({}, { $set: { at: new Date(Date.now() - 2 * MARK_SLACK_MS) } });
    await refresh();
  };
  const ask = async (query: string) => {
    const response = await t.request('GET', `/api/reach/rankings?${query}`, t.adminToken);
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  };
  const thirtyDays = `from=${localDay(new Date(now - 29 * DAY))}&to=${today}&regionCode=${TREE.province.code}`;

  /** `count` tasks over the last 35 days in the four villages, six officers (one in two townships), written as a make writes. */
  async function makeTasks(count: number, seed: number) {
    const next = random(seed);
    const docs = Array.from({ length: count }, () => {
      n += 1;
      const createdAt = new Date(now - Math.floor(next() * 35 * DAY));
      const officer = Math.floor(next() * 6);
      const path = PATHS[officer === 0 ? Math.floor(next() * 2) : Math.min(3, officer % 4)]!;
      const roll = next();
      const confirmedAt =
        roll < 0.65 && createdAt.getTime() + 60_000 < now
          ? new Date(Math.min(now, createdAt.getTime() + Math.floor(next() * 6 * 3_600_000)))
          : null;
      return {
        _id: new mongoose.Types.ObjectId(),
        taskKey: `province-${n}`,
        groupId: `p${n}`,
        groupName: `省群${n}`,
        regionPath: path,
        officerName: `民警${officer}`,
        officerPhone: `1390000000${officer}`,
        title: '省级任务',
        createdAt,
        confirmedAt,
        withdrawnAt: !confirmedAt && roll > 0.9 ? new Date(createdAt.getTime() + 600_000) : null,
      };
    });
    await recordTasks(
      docs.map((d) => ({
        id: String(d._id),
        createdAt: d.createdAt,
        officerPhone: d.officerPhone,
        regionPath: d.regionPath,
      })),
      new Date(),
    );
    await ManualTaskModel.insertMany(docs);
    await settle();
  }

  /** Every period and region equals the oracle. */
  async function check(label: string) {
    const day = (back: number) => localDay(new Date(now - back * DAY));
    const periods: [string, string][] = [
      [day(29), today],
      [day(34), day(5)],
      [day(3), today],
    ];
    const tasks = await storedTasks();
    for (const [from, to] of periods) {
      for (const base of [ROOT, TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code]) {
        const body = await ask(`from=${from}&to=${to}&regionCode=${base}`);
        expect(answered(body), `${label}: ${base} ${from}…${to}`).toEqual(oracle(tasks, base, from, to));
      }
    }
    const [month, previous] = [today.slice(0, 7), day(32).slice(0, 7)];
    expect(answered(await ask(`from=${previous}&to=${month}&regionCode=${TREE.province.code}`)), label).toEqual(
      oracle(tasks, TREE.province.code, `${previous}-01`, `${month}-31`),
    );
  }

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    await addRegions(t, Object.values(MORE));
    await refresh(); // the one-time build, on no tasks
  });
  afterAll(() => t?.close());

  it('when a province of three counties has 30 days of tasks, then every figure and median equals the oracle', async () => {
    await makeTasks(400, 7);
    await check('folded');
  }, 120_000);

  it('when the documents hold delays as objects (an older version), then the figures are the same before, during and after the backfill, run twice', async () => {
    // Back to the layout before the packing: every cell's key in full, its delays a seconds → count object.
    const docs = await RankTallyModel.find({ _id: /^[mab]\|/ }).lean<Record<string, unknown>[]>();
    for (const doc of docs) {
      const set: Record<string, string> = {};
      for (const [field, value] of Object.entries(doc)) {
        if (!/^[dp]_/.test(field)) continue;
        const cells = JSON.parse(String(value)) as Cell[];
        for (const cell of cells) {
          cell[1] = officerKey(cell[2], cell[3]); // the key was stored in full then
          const counts: Record<string, number> = {};
          for (const seconds of delaysOf(cell[8])) counts[seconds] = (counts[seconds] ?? 0) + 1;
          cell[8] = counts;
        }
        set[field] = JSON.stringify(cells);
      }
      await RankTallyModel.updateOne({ _id: doc._id as string }, { $set: set }, { strict: false });
    }
    await BackfillModel.deleteOne({ _id: PACKED_BACKFILL });
    const legacy = async () => {
      let count = 0;
      for (const doc of await RankTallyModel.find({ _id: /^[mab]\|/ }).lean<Record<string, unknown>[]>()) {
        for (const [field, value] of Object.entries(doc)) {
          if (/^[dp]_/.test(field))
            count += (JSON.parse(String(value)) as Cell[]).filter((c) => typeof c[8] !== 'string').length;
        }
      }
      return count;
    };
    const before = await legacy();
    expect(before).toBeGreaterThan(0);
    await check('legacy');

    // The backfill killed midway (its lease lost after the first chunk): not marked done,
    // some documents packed, the rest not, every figure the same.
    let chunks = 0;
    await expect(new RankTally('Asia/Shanghai').packDocuments(async () => chunks++ < 1)).rejects.toThrow();
    expect(await BackfillModel.exists({ _id: PACKED_BACKFILL })).toBeNull();
    const half = await legacy();
    expect(half).toBeGreaterThan(0);
    expect(half).toBeLessThan(before);
    await check('half packed');

    // A new lease holder's first fold runs it to the end and marks it.
    t.ctx.tracking.rollups.foldRankings(new RankTally('Asia/Shanghai'));
    await refresh();
    expect(await BackfillModel.exists({ _id: PACKED_BACKFILL })).not.toBeNull();
    expect(await legacy()).toBe(0);
    await check('packed');

    // Twice: marked, the next holder skips it; run by hand again, it writes nothing.
    t.ctx.tracking.rollups.foldRankings(new RankTally('Asia/Shanghai'));
    await refresh();
    const again = await commandsDuring(() => new RankTally('Asia/Shanghai').packDocuments(async () => true));
    expect(again.filter((c) => c.name !== 'find' && c.collection === 'ranktally')).toEqual([]);
    await check('backfilled twice');
  }, 180_000);

  it('when more tasks are confirmed, then the province admin’s call reads a few bytes more per confirmation, in as many commands', async () => {
    /** Bytes of the `ranktally` replies while the province admin's 30-day call runs, and the commands. */
    const read = async () => {
      const client = mongoose.connection.getClient();
      const ours = new Set<number>();
      let bytes = 0;
      const started = (event: CommandStartedEvent) => {
        if (event.command[event.commandName] === 'ranktally') ours.add(event.requestId);
      };
      const succeeded = (event: CommandSucceededEvent) => {
        if (ours.has(event.requestId)) bytes += BSON.calculateObjectSize(event.reply as BSON.Document);
      };
      client.on('commandStarted', started);
      client.on('commandSucceeded', succeeded);
      try {
        const commands = await commandsDuring(() => ask(thirtyDays));
        return { bytes, commands: commands.length };
      } finally {
        client.off('commandStarted', started);
        client.off('commandSucceeded', succeeded);
      }
    };
    const confirmedIn = async () => {
      const body = await ask(thirtyDays);
      return (body.officers as Figures[]).reduce((sum, o) => sum + o.confirmed, 0);
    };
    const before = await read();
    const confirmedBefore = await confirmedIn();
    await makeTasks(600, 11);
    const after = await read();
    const added = (await confirmedIn()) - confirmedBefore;
    expect(added).toBeGreaterThan(300);
    expect(after.commands).toBe(before.commands);
    // Packed: 2–3 bytes a delay (a seconds → count object: 9–10).
    const perConfirmation = (after.bytes - before.bytes) / added;
    expect(perConfirmation, `${after.bytes} - ${before.bytes} bytes for ${added} confirmations`).toBeLessThan(4);
    await check('more');
  }, 120_000);
});

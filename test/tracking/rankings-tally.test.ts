// 触达统计's rankings from the tallies (tracking/rank-tally.ts), never from the tasks
// collection (a scan of every task ever made on FerretDB): after tasks are made, confirmed and
// withdrawn through the writers and the roll-ups are refreshed, each officer's and township's
// figures equal a direct count from the stored tasks; a call's commands are `_id` reads whose
// number does not grow with tasks outside the period; an install whose tasks predate the
// tallies gets them from the one-time build at the first refresh, once.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordTasks } from '../../src/channels/manual/history.js';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { MARK_SLACK_MS, RankMarkModel, rankingsChanged } from '../../src/channels/manual/rank-marks.js';
import { BUILT, RankTallyModel } from '../../src/tracking/rank-tally.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { createRegionTree, TREE } from '../helpers/regions.js';

const ROOT = '000000';
const path = (county: string, township: string, village: string) => [
  ROOT,
  TREE.province.code,
  TREE.city.code,
  county,
  township,
  village,
];
const A = path(TREE.countyA.code, TREE.townshipA.code, TREE.villageA.code);
const B = path(TREE.countyB.code, TREE.townshipB.code, TREE.villageB.code);
const localDay = (at: Date) =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(at);

type Figures = { due: number; confirmed: number; open: number };

/** The direct count: every stored task under `base` created on a local day of [from, to], by officer phone and township. */
async function direct(base: string, from: string, to: string) {
  const tasks = await ManualTaskModel.find({}).lean();
  const officers = new Map<string, Figures>();
  const townships = new Map<string, Figures>();
  for (const task of tasks) {
    const day = localDay(task.createdAt);
    if (!task.regionPath.includes(base) || day < from || day > to) continue;
    const add = (map: Map<string, Figures>, key: string) => {
      const f = map.get(key) ?? { due: 0, confirmed: 0, open: 0 };
      if (task.confirmedAt) {
        f.due += 1;
        f.confirmed += 1;
      } else if (!task.withdrawnAt) {
        f.due += 1;
        f.open += 1;
      }
      map.set(key, f);
    };
    add(officers, task.officerPhone ?? '');
    add(townships, task.regionPath[4]!);
  }
  return { officers, townships };
}

function answered(body: {
  officers: (Figures & { phone: string | null })[];
  townships: (Figures & { code: string })[];
}) {
  const pick = ({ due, confirmed, open }: Figures) => ({ due, confirmed, open });
  return {
    officers: new Map(body.officers.map((o) => [o.phone ?? '', pick(o)])),
    townships: new Map(body.townships.filter((r) => r.due + r.confirmed + r.open > 0).map((r) => [r.code, pick(r)])),
  };
}

describe('rankings from the tallies', () => {
  let t: TestApp;
  let n = 0;
  const today = localDay(new Date());
  const month = today.slice(0, 7);
  const refresh = () => t.ctx.tracking.rollups.refreshAll('test');
  /** Refreshes with every marker past its slack, so the fold deletes them: later figures come from later markers only. */
  const settle = async () => {
    await RankMarkModel.updateMany({}, { $set: { at: new Date(Date.now() - 2 * MARK_SLACK_MS) } });
    await refresh();
    expect(await RankMarkModel.countDocuments({})).toBe(0);
  };
  const same = async (base: string) =>
    expect(answered(await ask(`from=${today}&to=${today}&regionCode=${base}`)), base).toEqual(
      await direct(base, today, today),
    );
  const message = {
    type: 'text' as const,
    card: {
      format: 'text' as const,
      title: '任务',
      content: '请转发',
      url: 'https://example.cn/n/1',
      pictureUrl: null,
    },
  };
  const target = (regionPath: string[], phone: string) => {
    n += 1;
    return {
      groupId: `group-${n}`,
      groupName: `平安群${n}`,
      credentials: { kind: 'manual' } as never,
      regionPath,
      officer: { name: `民警${phone.slice(-1)}`, phone },
    };
  };
  /** A wave of tasks of a campaign's run (the worker's path); their ids. */
  async function wave(campaignId: string, list: [string[], string][]): Promise<string[]> {
    const items = list.map(([regionPath, phone]) => {
      const tg = target(regionPath, phone);
      return { target: tg, message, reference: `${campaignId}@2026-06-03T02:00:00.000Z/${tg.groupId}` };
    });
    await t.ctx.manualTasks.createTasks(items);
    const docs = await Promise.all(items.map((i) => ManualTaskModel.findOne({ taskKey: i.reference }).lean()));
    return docs.map((d) => String(d!._id));
  }
  async function confirm(taskId: string) {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    await t.ctx.manualTasks.confirm(taskId, { exp, sig: t.ctx.manualTasks.signature(taskId, exp) });
  }
  const ask = async (query: string) => {
    const response = await t.request('GET', `/api/reach/rankings?${query}`, t.adminToken);
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  };

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
  });
  afterAll(() => t?.close());

  it('when tasks predate the tallies, then the first refresh builds them once from the tasks', async () => {
    // Written straight to the collection (an install older than the tallies): no markers.
    const old = (regionPath: string[], phone: string, confirmed: boolean, withdrawn: boolean) => {
      n += 1;
      const createdAt = new Date(Date.now() - 3_600_000);
      return {
        taskKey: `old-${n}`,
        groupId: `g${n}`,
        groupName: `群${n}`,
        regionPath,
        officerName: '老民警',
        officerPhone: phone,
        title: '旧任务',
        createdAt,
        confirmedAt: confirmed ? new Date(createdAt.getTime() + 600_000) : null,
        withdrawnAt: withdrawn ? new Date() : null,
      };
    };
    await ManualTaskModel.insertMany([
      old(A, '13700000001', true, false),
      old(A, '13700000001', false, false),
      old(A, '13700000001', false, true),
      old(B, '13700000002', true, true),
    ]);
    expect(await RankTallyModel.exists({ _id: BUILT })).toBeNull();
    await refresh();
    expect(await RankTallyModel.exists({ _id: BUILT })).not.toBeNull();
    const body = await ask(`from=${month}&to=${month}&regionCode=${TREE.province.code}`);
    expect(body.partial).toBe(false);
    expect(answered(body)).toEqual(await direct(TREE.province.code, `${month}-01`, `${month}-31`));
    expect(body.officers.find((o: { phone: string }) => o.phone === '13700000001')).toMatchObject({
      medianMinutes: 10,
      rate: 0.5,
    });
  });

  it('when tasks are made, confirmed and withdrawn through the writers, then every figure equals a direct count', async () => {
    const campaign = new mongoose.Types.ObjectId().toHexString();
    const ids = await wave(campaign, [
      [A, '13800000001'],
      [A, '13800000001'],
      [A, '13800000002'],
      [B, '13800000003'],
      [B, '13800000003'],
    ]);
    // Single tasks, no campaign: one confirmed, one left open.
    const single = await t.ctx.manualTasks.createTask(target(A, '13800000002'), message);
    await t.ctx.manualTasks.createTask(target(B, '13800000004'), message);
    await settle();
    await same(ROOT);
    await confirm(single.id);
    await confirm(ids[0]!);
    await confirm(ids[3]!);
    await settle();
    await same(TREE.countyA.code);
    // The campaign is stopped: its open tasks are withdrawn, the confirmed ones stay.
    expect(await t.ctx.manualTasks.withdrawCampaignTasks(campaign, 'retracted')).toBe(3);
    await refresh();
    for (const base of [ROOT, TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipB.code]) {
      const body = await ask(`from=${today}&to=${today}&regionCode=${base}`);
      expect(answered(body), base).toEqual(await direct(base, today, today));
    }
    const county = await ask(`from=${month}&to=${month}&regionCode=${TREE.countyA.code}`);
    expect(county.officers.find((o: { phone: string }) => o.phone === '13800000002')).toMatchObject({
      due: 1,
      confirmed: 1,
      open: 0,
      medianMinutes: 0,
    });
    // Folding again changes nothing (a fold sets values, never adds).
    await t.ctx.tracking.rollups.refreshAll('test');
    expect(answered(await ask(`from=${today}&to=${today}&regionCode=${ROOT}`))).toEqual(
      await direct(ROOT, today, today),
    );
  });

  it('when a make’s marker is written and its insert lands only later, then the task is counted once it exists', async () => {
    await settle();
    const id = new mongoose.Types.ObjectId();
    await rankingsChanged([String(id)], new Date(Date.now() - 2 * MARK_SLACK_MS));
    await refresh();
    // Past the slack, but its task does not exist yet: kept.
    expect(await RankMarkModel.countDocuments({})).toBe(1);
    n += 1;
    await ManualTaskModel.create({
      _id: id,
      taskKey: `late-${n}`,
      groupId: `late${n}`,
      groupName: '迟到群',
      regionPath: A,
      officerName: '迟到民警',
      officerPhone: '13500000001',
      title: '迟到任务',
      createdAt: new Date(),
    });
    await refresh();
    expect(await RankMarkModel.countDocuments({})).toBe(0);
    await same(TREE.province.code);
    const body = await ask(`from=${today}&to=${today}&regionCode=${TREE.countyA.code}`);
    expect(body.officers.find((o: { phone: string }) => o.phone === '13500000001')).toMatchObject({ due: 1, open: 1 });
  });

  it('when an update lands more than the slack after its marker and its writer dies before anything else, then the fold still counts it', async () => {
    await settle();
    const made = [
      await t.ctx.manualTasks.createTask(target(A, '13400000001'), message),
      await t.ctx.manualTasks.createTask(target(A, '13400000002'), message),
    ];
    await settle();
    await same(TREE.countyA.code);
    const [confirmed, withdrawn] = made.map((task) => task.id) as [string, string];
    // The writers' order (completeConfirmation, markWithdrawn): the marker, then the update. Each
    // writer stalls past the slack between the two (a fold reads its marker meanwhile, the task
    // still unchanged), its update lands, and it is killed at once: nothing is written after.
    const stalled = new Date(Date.now() - 2 * MARK_SLACK_MS);
    await rankingsChanged([confirmed], stalled, 'confirm');
    await rankingsChanged([withdrawn], stalled, 'withdraw');
    await refresh();
    await ManualTaskModel.updateOne(
      { _id: confirmed, confirmedAt: null },
      { $set: { confirmedAt: new Date() }, $inc: { linkGeneration: 1 }, $push: { rotations: 'confirmed' } },
    );
    await ManualTaskModel.updateOne(
      { _id: withdrawn, confirmedAt: null, withdrawnAt: null },
      { $set: { withdrawnAt: new Date(), withdrawnReason: 'retracted' }, $inc: { linkGeneration: 1 } },
    );
    await refresh();
    await same(TREE.countyA.code);
    const body = await ask(`from=${today}&to=${today}&regionCode=${TREE.countyA.code}`);
    expect(body.officers.find((o: { phone: string }) => o.phone === '13400000001')).toMatchObject({
      due: 1,
      confirmed: 1,
    });
    expect(body.officers.find((o: { phone: string }) => o.phone === '13400000002')).toMatchObject({ due: 0, open: 0 });
    // Both updates seen: their markers are gone (no slack for an update's marker).
    expect(await RankMarkModel.countDocuments({})).toBe(0);
  });

  it('when a marker’s write never comes, then the marker stays (narrowed to the tasks it may still change) until it does', async () => {
    await settle();
    const made = [
      await t.ctx.manualTasks.createTask(target(B, '13300000001'), message),
      await t.ctx.manualTasks.createTask(target(B, '13300000002'), message),
    ];
    await settle();
    const ids = made.map((task) => task.id);
    // A withdrawal killed after its marker, one of its tasks confirmed meanwhile.
    await rankingsChanged(ids, new Date(Date.now() - 3 * MARK_SLACK_MS), 'withdraw');
    await confirm(ids[0]!);
    await refresh();
    await refresh();
    const left = await RankMarkModel.find({}).lean();
    expect(left.map((m) => m.taskIds)).toEqual([[ids[1]]]);
    // The intent runs again (a campaign's effects are repeated until done): counted, marker gone.
    await ManualTaskModel.updateOne(
      { _id: ids[1] },
      { $set: { withdrawnAt: new Date(), withdrawnReason: 'cancelled' } },
    );
    await refresh();
    expect(await RankMarkModel.countDocuments({})).toBe(0);
    await same(TREE.countyB.code);
  });

  it('when tasks lie on many days of two months, then every period’s figures equal a direct count, folded or built', async () => {
    await settle();
    const monthStart = Date.parse(`${month}-01T00:00:00+08:00`);
    // 60 tasks from 40 days before this month's first day to 19 days after it, written as a
    // make writes (its record on the history's made list first), some confirmed, some withdrawn.
    const at = (i: number) => new Date(monthStart + (i - 40) * 86_400_000 + 3_600_000);
    const docs = Array.from({ length: 60 }, (_, i) => {
      n += 1;
      const createdAt = at(i);
      return {
        _id: new mongoose.Types.ObjectId(),
        taskKey: `spread-${n}`,
        groupId: `s${n}`,
        groupName: `分布群${n}`,
        regionPath: i % 3 ? A : B,
        officerName: '分布民警',
        officerPhone: `1320000000${i % 4}`,
        title: '分布任务',
        createdAt,
        confirmedAt: i % 4 === 1 ? new Date(createdAt.getTime() + (60 + i) * 1000) : null,
        withdrawnAt: i % 5 === 2 ? new Date(createdAt.getTime() + 600_000) : null,
      };
    });
    // The tallies built by a fold whose clock is 25 days behind: the days since are not closed,
    // so the blocks hold none of them and a period reads their one-day documents.
    const { RankTally } = await import('../../src/tracking/rank-tally.js');
    let shift = 25 * 86_400_000;
    const fold = () => t.ctx.tracking.rollups.foldRankings(new RankTally('Asia/Shanghai', () => Date.now() - shift));
    await RankTallyModel.deleteMany({});
    fold();
    await refresh();
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
    const day = (offset: number) => localDay(new Date(monthStart + offset * 86_400_000 + 3_600_000));
    const periods: [string, string][] = [
      [day(-40), day(-11)],
      [day(-30), day(-1)],
      [day(-15), day(14)],
      [day(-3), day(0)],
      [day(-1), day(-1)],
      [day(2), day(18)],
    ];
    const check = async () => {
      for (const [from, to] of periods) {
        for (const base of [ROOT, TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipB.code]) {
          const body = await ask(`from=${from}&to=${to}&regionCode=${base}`);
          expect(answered(body), `${base} ${from}…${to}`).toEqual(await direct(base, from, to));
        }
      }
      const prev = day(-1).slice(0, 7);
      expect(answered(await ask(`from=${prev}&to=${month}&regionCode=${TREE.province.code}`))).toEqual(
        await direct(TREE.province.code, `${prev}-01`, `${month}-31`),
      );
    };
    await check();
    // Twelve days end (one pass closes them all), then the rest; a task confirmed late between.
    shift = 13 * 86_400_000;
    await refresh();
    await check();
    await ManualTaskModel.updateOne({ _id: docs[3]!._id }, { $set: { confirmedAt: new Date() } });
    await rankingsChanged([String(docs[3]!._id)], new Date(), 'confirm');
    await refresh();
    shift = 0;
    await refresh();
    expect((await RankTallyModel.findById('_closed').lean<{ through: string }>())?.through).toBe(
      localDay(new Date(Date.now() - 86_400_000)),
    );
    await check();
    // The same from the one-time build.
    await RankTallyModel.deleteMany({});
    fold();
    await refresh();
    await check();
  }, 180_000);

  it('when a wave’s made record is written and its tasks are inserted only later, then they are counted once they exist', async () => {
    await settle();
    // Writers killed between the history's insert (the made list's record) and the tasks'
    // insert, or slow: one record claimed now, one claimed past the slack.
    const young = new mongoose.Types.ObjectId();
    const old = new mongoose.Types.ObjectId();
    const entry = (id: mongoose.Types.ObjectId, phone: string) => ({
      id: String(id),
      createdAt: new Date(),
      officerPhone: phone,
      regionPath: A,
    });
    await recordTasks([entry(young, '13500000011')], new Date());
    await recordTasks([entry(old, '13500000012')], new Date(Date.now() - 2 * MARK_SLACK_MS));
    await refresh();
    // Neither exists: the young record is held by the fold (its cursor stays before it), the
    // old one's task handed to a marker (kept until it exists).
    expect(await RankMarkModel.countDocuments({})).toBe(1);
    for (const [id, phone] of [
      [young, '13500000011'],
      [old, '13500000012'],
    ] as const) {
      n += 1;
      await ManualTaskModel.create({
        _id: id,
        taskKey: `made-late-${n}`,
        groupId: `made${n}`,
        groupName: '迟到群',
        regionPath: A,
        officerName: '迟到民警',
        officerPhone: phone,
        title: '迟到任务',
        createdAt: new Date(),
      });
    }
    await refresh();
    expect(await RankMarkModel.countDocuments({})).toBe(0);
    await same(TREE.province.code);
    const body = await ask(`from=${today}&to=${today}&regionCode=${TREE.countyA.code}`);
    for (const phone of ['13500000011', '13500000012'])
      expect(
        body.officers.find((o: { phone: string }) => o.phone === phone),
        phone,
      ).toMatchObject({ due: 1, open: 1 });
    // Folding again (a fold killed before its cursor write does the same) changes nothing.
    await refresh();
    await same(TREE.province.code);
  });

  it('when many more tasks exist outside the period, then a call reads the same few documents by _id', async () => {
    const query = `from=${month}&to=${month}&regionCode=${TREE.province.code}`;
    const county = `from=${today}&to=${today}&regionCode=${TREE.townshipA.code}`;
    const before = await commandsDuring(() => ask(query));
    const beforeCounty = await commandsDuring(() => ask(county));
    // 200 tasks of another month (an older install's history), built into the tallies.
    await ManualTaskModel.insertMany(
      Array.from({ length: 200 }, (_, i) => ({
        taskKey: `history-${i}`,
        groupId: `h${i}`,
        groupName: `历史群${i}`,
        regionPath: i % 2 ? A : B,
        officerName: '历史民警',
        officerPhone: `1360000${String(i).padStart(4, '0')}`,
        title: '历史任务',
        createdAt: new Date(Date.parse(`${month}-01T00:00:00+08:00`) - (1 + (i % 20)) * 86_400_000),
        confirmedAt: null,
      })),
    );
    await RankTallyModel.deleteOne({ _id: BUILT });
    t.ctx.tracking.rollups.foldRankings(
      new (await import('../../src/tracking/rank-tally.js')).RankTally('Asia/Shanghai'),
    );
    await refresh();
    const after = await commandsDuring(() => ask(query));
    const afterCounty = await commandsDuring(() => ask(county));
    expect(after.length).toBe(before.length);
    expect(afterCounty.length).toBe(beforeCounty.length);
    for (const seen of [...after, ...afterCounty]) {
      expect(seen.collection, JSON.stringify(seen)).not.toBe('manualtasks');
      if (seen.collection === 'ranktally') expect(byIdOnly(seen.filter), JSON.stringify(seen)).toBe(true);
    }
    // The rebuilt tallies still equal the direct count, this month's and the last.
    expect(answered(await ask(query))).toEqual(await direct(TREE.province.code, `${month}-01`, `${month}-31`));
  });
});

// The officer tasks history (GET /api/manual-tasks without open=true) pages through the task
// lists (channels/manual/history.ts) by a `before` cursor and reads its tasks by `_id` only:
// every page equals the collection's own answer (in scope, the officer's, newest first by
// creation then id) after single and wave task creation and confirmation, an install whose
// tasks predate the lists gives the same answers after the backfill, and a bad cursor is a 400
// naming `before`.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { TaskHistoryModel, buildTaskHistory } from '../../src/channels/manual/history.js';
import { byIdEquality, driverCallsDuring } from '../helpers/commands.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

const PHONES = ['13800000001', '13800000002'];

describe('officer tasks history in pages', () => {
  let t: TestApp;
  let countyEditor: string;
  let n = 0;

  const target = (i: number) => ({
    groupId: `group-${i}`,
    groupName: `平安群${i}`,
    credentials: { kind: 'manual' } as never,
    regionPath: ['000000', TREE.province.code, TREE.city.code, i % 3 ? TREE.countyA.code : TREE.countyB.code, 'x', 'y'],
    officer: { name: '民警', phone: PHONES[i % 2]! },
  });
  const message = (i: number) => ({
    type: 'text' as const,
    card: { format: 'text' as const, title: `任务${i}`, content: '请转发', url: 'https://example.cn/n/1', pictureUrl: null },
  });

  async function createOne() {
    n += 1;
    await t.ctx.manualTasks.createTask(target(n), message(n));
  }
  async function createWave(size: number) {
    const list = [];
    for (let i = 0; i < size; i += 1) {
      n += 1;
      list.push({ target: target(n), message: message(n), reference: `ref-${n}` });
    }
    await t.ctx.manualTasks.createTasks(list);
  }

  /** The collection's answer: tasks in scope (and the officer's), newest first. */
  async function direct(code: string, phone?: string, confirmedOnly = false) {
    const filter: Record<string, unknown> = { regionPath: code };
    if (phone) filter.officerPhone = phone;
    if (confirmedOnly) filter.confirmedAt = { $ne: null };
    const docs = await ManualTaskModel.find(filter, { _id: 1 }).sort({ createdAt: -1, _id: -1 }).lean();
    return docs.map((d) => String(d._id));
  }

  /** Every page of the service's history, 3 at a time. */
  async function paged(code: string, phone?: string, confirmedOnly = false) {
    const ids: string[] = [];
    let before: string | undefined;
    const { Scope } = await import('../../src/regions/scope.js');
    for (let page = 0; page < 100; page += 1) {
      const tasks = await t.ctx.manualTasks.list(new Scope(code), {
        limit: 3,
        withLinks: false,
        ...(phone ? { officerPhone: phone } : {}),
        ...(confirmedOnly ? { open: false } : {}),
        ...(before ? { before } : {}),
      });
      ids.push(...tasks.map((task) => task.id));
      if (tasks.length < 3) return ids;
      before = tasks.at(-1)!.id;
    }
    throw new Error('more than 100 pages');
  }

  async function expectSame() {
    for (const code of ['000000', TREE.city.code, TREE.countyA.code, TREE.countyB.code]) {
      expect(await paged(code), code).toEqual(await direct(code));
      for (const phone of PHONES) expect(await paged(code, phone), `${code} ${phone}`).toEqual(await direct(code, phone));
    }
    expect(await paged(TREE.countyA.code, undefined, true)).toEqual(await direct(TREE.countyA.code, undefined, true));
  }

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    countyEditor = (await t.userToken('editor', TREE.countyA.code)).token;
  });
  afterAll(() => t.close());

  it('pages equal the collection’s answer after single and wave creation and confirmation', async () => {
    for (let i = 0; i < 4; i += 1) await createOne();
    await createWave(7);
    await expectSame();
    const some = await ManualTaskModel.find({}, { _id: 1 }).limit(3).lean();
    await ManualTaskModel.updateMany({ _id: { $in: some.map((d) => d._id) } }, { $set: { confirmedAt: new Date() } });
    await createWave(5);
    await createOne();
    await expectSame();
  });

  it('an install whose tasks predate the lists: the backfill gives the same answers, once', async () => {
    // Old layout: tasks written straight to the collection, no list entry.
    const base = ['000000', TREE.province.code, TREE.city.code, TREE.countyA.code, 'x', 'y'];
    await ManualTaskModel.collection.insertMany(
      Array.from({ length: 9 }, (_, i) => ({
        _id: new mongoose.Types.ObjectId(),
        taskKey: `old-${i}`,
        groupId: `old-${i}`,
        groupName: `旧群${i}`,
        regionPath: base,
        officerName: '民警',
        officerPhone: PHONES[i % 2],
        title: '旧任务',
        createdAt: new Date(Date.now() - (i + 1) * 86400_000),
        confirmedAt: null,
      })) as never[],
    );
    await TaskHistoryModel.deleteMany({ _id: { $regex: ':b|:base$|^_built$' } });
    await buildTaskHistory();
    expect(await TaskHistoryModel.exists({ _id: '_built' })).toBeTruthy();
    await buildTaskHistory(); // idempotent: the marker
    await expectSame();
    await createWave(4);
    await expectSame();
  });

  it('reads no task but by _id', async () => {
    const seen = await driverCallsDuring(async () => {
      const response = await t.request('GET', '/api/manual-tasks?limit=5', countyEditor);
      expect(response.statusCode, response.body).toBe(200);
      const next = await t.request('GET', `/api/manual-tasks?limit=5&before=${response.json()[4].id}`, countyEditor);
      expect(next.statusCode, next.body).toBe(200);
      expect(next.json()).toHaveLength(5);
    });
    const reads = seen.filter((c) => c.collection === 'manualtasks').map((c) => c.args[0]);
    expect(reads.filter((f) => !byIdEquality(f))).toEqual([]);
  });

  it('a bad or foreign cursor is a 400 naming before', async () => {
    const bad = await t.request('GET', '/api/manual-tasks?before=xyz', countyEditor);
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('before');
    const foreign = (await ManualTaskModel.findOne({ regionPath: TREE.countyB.code }).lean())!;
    const other = await t.request('GET', `/api/manual-tasks?before=${foreign._id}`, countyEditor);
    expect(other.statusCode).toBe(400);
    expect(other.body).toContain('before');
    expect(other.body).toContain('翻页位置');
  });
});

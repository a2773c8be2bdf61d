// The workbench counts an author's open officer tasks, and lists them by officer, from one
// read of the open-task watch list (was a scan of every task on FerretDB). The figures must be
// exactly the stored tasks': open ones (unconfirmed, not withdrawn, within the links' 7 days)
// inside the caller's scope only, every officer counted (no cap), sorted by how many are open.
// The tasks are written in the old layout (directly, no watch entry) as an existing install
// holds them: the service's start lists them (prepareDatabase), once.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { OpenTaskMarkModel, OpenTaskModel } from '../../src/channels/manual/watch.js';
import { prepareDatabase } from '../../src/context.js';
import { fixedClock } from '../../src/lib/clock.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('workbench open tasks from one read', () => {
  let t: TestApp;
const INSIDE = ['000000', '440000', '440100', '440106', '440106001', '440106001001'];
const OUTSIDE = ['000000', '440000', '440100', '440111', '440111002', '440111002003'];
  const clock = fixedClock('2026-12-03T04:00:00Z');
  beforeAll(async () => {
    t = await startTestApp({ clock });
    await createRegionTree(t);
    const task = (n: number, path: string[], officer: string, confirmed: boolean) => ({
      _id: new mongoose.Types.ObjectId(),
      taskKey: `k-${n}-${path.at(-1)}`,
      groupId: `g${n}`,
      groupName: `群${n}`,
      regionPath: path,
      officerName: `${officer}警官`,
      officerPhone: `1390000${officer === '甲' ? '0001' : officer === '乙' ? '0002' : '0003'}`,
      title: '防诈骗',
      createdAt: new Date('2026-12-01T01:00:00Z'),
      confirmedAt: confirmed ? new Date('2026-12-01T02:00:00Z') : null,
    });
    const docs = [];
    let n = 0;
    // Inside the county: 甲 3 open + 2 confirmed, 乙 1 open, 丙 2 open.
    for (const [officer, open, confirmed] of [
      ['甲', 3, 2],
      ['乙', 1, 0],
      ['丙', 2, 1],
    ] as const) {
      for (let i = 0; i < open; i += 1) docs.push(task(n++, INSIDE, officer, false));
      for (let i = 0; i < confirmed; i += 1) docs.push(task(n++, INSIDE, officer, true));
    }
    // Outside the county (another county): never counted for its editor.
    for (let i = 0; i < 4; i += 1) docs.push(task(n++, OUTSIDE, '乙', false));
    // Not open: withdrawn, and one past the links' 7 days.
    docs.push({ ...task(n++, INSIDE, '甲', false), withdrawnAt: new Date('2026-12-01T03:00:00Z'), withdrawalAnnounced: true });
    docs.push({ ...task(n++, INSIDE, '甲', false), createdAt: new Date('2026-11-25T01:00:00Z') });
    await ManualTaskModel.insertMany(docs);
    // An install from before the watch list: no entries, no marker; then the service starts.
    await OpenTaskMarkModel.deleteMany({});
    await prepareDatabase(t.ctx);
    await prepareDatabase(t.ctx); // idempotent: a second start reads the marker only
  });
  afterAll(() => t.close());

  it('counts the scope’s unconfirmed tasks and every officer’s, as stored', async () => {
    const { token } = await t.userToken('editor', TREE.countyA.code);
    const response = await t.request('GET', '/api/workbench/counts', token);
    expect(response.statusCode, response.body).toBe(200);
    const counts = response.json();
    const stored = await ManualTaskModel.countDocuments({
      regionPath: TREE.countyA.code,
      confirmedAt: null,
      withdrawnAt: null,
      createdAt: { $gt: new Date(clock.now().getTime() - 7 * 24 * 3600_000) },
    });
    expect(stored).toBe(6);
    expect(await OpenTaskModel.countDocuments({})).toBe(10);
    expect(counts.awaitingTasks).toBe(stored);
    expect(counts.awaitingByOfficer).toEqual([
      { name: '甲警官', phone: '13900000001', open: 3 },
      { name: '丙警官', phone: '13900000003', open: 2 },
      { name: '乙警官', phone: '13900000002', open: 1 },
    ]);
    const root = (await t.request('GET', '/api/workbench/counts', t.adminToken)).json();
    expect(root.awaitingTasks).toBe(10);
    expect(root.awaitingByOfficer[0]).toEqual({ name: '乙警官', phone: '13900000002', open: 5 });
  });
});

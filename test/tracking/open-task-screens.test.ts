// The open-task screens read only what they show (issue 25): the tasks screen's open list
// (`/api/manual-tasks?open=true`) and the monthly table's 待民警转发 (`/api/reach/monthly`) read
// the per-county open-task documents kept in the process and the page's tasks by `_id`, never
// the open-task watch list (`opentasks`, read whole by FerretDB for any filter but `_id`: a
// scan of every open task on every call). When 20 and then 400 open tasks lie outside the
// page or the scope, then a call sends the same commands, none of them a read of `opentasks`
// by anything but `_id`; the figures equal a direct count of the open tasks after makes,
// confirmations, a withdrawal and a writer killed between its watch entry and its count.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { countedChange } from '../../src/channels/manual/open-counts.js';
import { OpenTaskModel, repairCounts } from '../../src/channels/manual/watch.js';
import { fixedClock } from '../../src/lib/clock.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { flushOpenCounts } from '../../src/channels/manual/open-counts.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  type DeliveryWorld,
  manualGroup,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { makeRunTasks, PATH_A, PATH_B, taskTarget } from '../helpers/officer-tasks.js';
import { TREE } from '../helpers/regions.js';

const clock = fixedClock('2026-06-15T02:00:00.000Z');
const RUN_AT = '2026-06-14T02:00:00.000Z';

describe('the open-task screens read only what they show', () => {
  let w: DeliveryWorld;
  let campaignId: string;
  let other: string;
  /** Open tasks of a campaign's run in a county (the worker's path: waves of 100). */
  const make = (campaign: string, path: string[], size: number) =>
    makeRunTasks(
      w.t.ctx.manualTasks,
      `${campaign}@${RUN_AT}`,
      Array.from({ length: size }, () => taskTarget(path)),
    );
  /** What the database holds: unconfirmed, not withdrawn tasks under `code` of live campaigns. */
  async function direct(code: string, campaigns: string[]): Promise<number> {
    const tasks = await ManualTaskModel.find({ regionPath: code, confirmedAt: null, withdrawnAt: null }).lean();
    return tasks.filter((task) => campaigns.some((id) => task.taskKey.startsWith(`${id}@`))).length;
  }

  const open = (token: string, limit = 50) =>
    w.t.request('GET', `/api/manual-tasks?open=true&limit=${limit}`, token).then((r) => {
      expect(r.statusCode, r.body).toBe(200);
      return r.json() as { id: string; link: string }[];
    });
  const monthly = (token: string) =>
    w.t.request('GET', '/api/reach/monthly?period=2026-06', token).then((r) => {
      expect(r.statusCode, r.body).toBe(200);
      return r.json().total.awaitingOfficers as number;
    });

  /** The commands of each screen's call (after one call that takes in the writes since). */
  async function commandsOfCalls() {
    const calls = {
      'tasks, county editor': () => open(w.editor),
      'tasks, province admin, page of 2': () => open(w.t.adminToken, 2),
      'monthly, county editor': () => monthly(w.editor),
      'monthly, province admin': () => monthly(w.t.adminToken),
    };
    const out: Record<string, string[]> = {};
    // The waves' deferred count log (open-counts.ts, a real-time timer) is not the screens': out first.
    await flushOpenCounts();
    for (const [name, call] of Object.entries(calls)) {
      await call();
      const seen = await commandsDuring(call);
      const scans = seen.filter(
        (c) => c.collection === 'opentasks' && !(c.filter && Object.keys(c.filter).length === 1 && '_id' in c.filter),
      );
      expect(scans, name).toEqual([]);
      // The monthly table reads the runs' campaigns and notices by `_id` (an `$in` is a scan on
      // FerretDB), and no click (tracking/click-tally.ts).
      if (name.startsWith('monthly')) {
        const others = seen.filter(
          (c) =>
            c.collection === 'clicks' ||
            (['campaigns', 'notices', 'clicktallies'].includes(c.collection) && !byIdOnly(c.filter)),
        );
        expect(others, name).toEqual([]);
      }
      out[name] = seen.map((c) => `${c.name} ${c.collection}`).sort();
    }
    return out;
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    const noticeId = await approvedNotice(w, { title: '防诈提醒' });
    const group = await manualGroup(w, '东村群', { officer: { name: '王警官', phone: '13900000001' } });
    campaignId = await approvedCampaign(w, {
      title: '防诈提醒',
      noticeId,
      audience: audienceOf([], [group]),
      schedule: { kind: 'now' },
    });
    other = await approvedCampaign(w, {
      title: '将取消',
      noticeId,
      audience: audienceOf([], [group]),
      schedule: { kind: 'now' },
    });
    await w.t.ctx.tracking.rollups.refreshAll('test');
  });
  afterAll(() => w.close());

  it('sends the same commands with 20 and 400 open tasks outside the page or scope', async () => {
    await make(campaignId, PATH_A, 3);
    await make(campaignId, PATH_B, 20);
    const few = await commandsOfCalls();
    expect(await monthly(w.editor)).toBe(await direct(TREE.countyA.code, [campaignId]));
    expect(await monthly(w.t.adminToken)).toBe(23);
    await make(campaignId, PATH_B, 380);
    const many = await commandsOfCalls();
    expect(many).toEqual(few);
    expect((await open(w.editor)).length).toBe(3);
    expect(await monthly(w.editor)).toBe(3);
    expect(await monthly(w.t.adminToken)).toBe(await direct(TREE.province.code, [campaignId]));
    expect(await monthly(w.t.adminToken)).toBe(403);
  });

  it('equals a direct count after makes, confirmations, a withdrawal and a writer killed between its writes', async () => {
    const check = async () => {
      const live = [campaignId, other];
      const inA = await direct(TREE.countyA.code, live);
      const openA = await ManualTaskModel.countDocuments({
        regionPath: TREE.countyA.code,
        confirmedAt: null,
        withdrawnAt: null,
      });
      expect((await open(w.editor)).length).toBe(openA);
      expect(await monthly(w.editor)).toBe(inA);
      expect(await monthly(w.t.adminToken)).toBe(await direct(TREE.province.code, live));
    };
    await make(other, PATH_A, 2);
    await make(campaignId, PATH_A, 2);
    await check();
    // Confirmations (the officer's link).
    const inA = new Set((await open(w.editor)).map((task) => task.id));
    const withLinks = (await open(w.t.adminToken, 500)).filter((task) => inA.has(task.id));
    for (const task of withLinks.slice(0, 2)) {
      const url = new URL(task.link);
      const confirmed = await w.t.request(
        'POST',
        `${url.pathname.replace('/task/', '/api/manual-tasks/')}/confirm${url.search}`,
      );
      expect(confirmed.statusCode, confirmed.body).toBe(200);
    }
    await check();
    // A withdrawal: the other campaign is cancelled (its open tasks withdrawn).
    const cancel = await w.t.request('POST', `/api/campaigns/${other}/cancel`, w.editor);
    expect(cancel.statusCode, cancel.body).toBe(200);
    const withdrawnLeft = await direct(TREE.countyA.code, [other]);
    const live = [campaignId];
    expect(await monthly(w.editor)).toBe(await direct(TREE.countyA.code, live));
    expect((await open(w.editor)).length).toBe(
      await ManualTaskModel.countDocuments({ regionPath: TREE.countyA.code, confirmedAt: null, withdrawnAt: null }),
    );
    expect(withdrawnLeft).toBeGreaterThanOrEqual(0);

    // A writer killed after its watch entry write, before its count write: a confirmation whose
    // entry is gone and whose county document still names it (the intent stays behind).
    const victim = (await open(w.editor))[0]!;
    await ManualTaskModel.updateOne({ _id: victim.id }, { $set: { confirmedAt: clock.now() } });
    const entry = await OpenTaskModel.findById(victim.id).lean();
    await countedChange(
      [victim.id],
      [entry!.regionPath],
      async () => {
        await OpenTaskModel.deleteOne({ _id: victim.id });
        throw new Error('killed');
      },
      async () => [],
    ).catch(() => undefined);
    // The list checks each task it shows: exact at once.
    expect((await open(w.editor)).map((t) => t.id)).not.toContain(victim.id);
    // The notifier's repair re-counts the county once the intent is stale: exact again.
    await repairCounts(new Date(Date.now() + 120_000));
    expect(await monthly(w.editor)).toBe(await direct(TREE.countyA.code, live));
    expect(await monthly(w.t.adminToken)).toBe(await direct(TREE.province.code, live));
    expect(mongoose.connection.readyState).toBe(1);
  });
});

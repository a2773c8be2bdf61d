// The open-task watch list (issue 25): the workbench counts, the open-task list and the
// officer notifier read the open tasks from it, never the task history. It has to stay exact:
// a task is on it while open, and leaves it when confirmed, withdrawn (a stop), or expired;
// a retried send (or a take-over) finds its entry. The notifier's idle pass reads nothing of
// the tasks, the watch list or the steps when nothing is due (counted from the driver's
// commands through mongoose's debug hook, not timed); reminders come exactly as before.
// Fixed clock, the real engine, FerretDB and HTTP, the WeCom double as station robots.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { OpenTaskModel } from '../../src/channels/manual/watch.js';
import { fixedClock } from '../../src/lib/clock.js';
import { NotificationStepModel } from '../../src/notifications/model.js';
import { driverCallsDuring } from '../helpers/commands.js';
import { type DeliveryWorld, pushedNow, startDeliveryWorld } from '../helpers/delivery.js';
import { officerGroups, officerPassword, officerWithRobot } from '../helpers/officers.js';

// 10:00 in Shanghai: outside the default quiet hours.
const clock = fixedClock('2026-06-03T02:00:00.000Z');
const MINUTE = 60_000;
const DAY = 24 * 3600_000;

describe('the open-task watch list', () => {
  let w: DeliveryWorld;
  const phone = '13800009901';
  const robot = `station-watch-${Math.random().toString(36).slice(2, 10)}`;
  let officerToken = '';

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    await officerWithRobot(w, { name: '钱警官', phone, robot, superiorUserId: null, activate: true });
    officerToken = await w.t.login(`u${phone}`, officerPassword(phone));
  });
  afterAll(() => w.close());

  const manualGroups = (prefix: string, count: number) => officerGroups(w, { name: '钱警官', phone }, prefix, count);

  const sendTo = (title: string, groups: string[]) => pushedNow(w, title, groups);

  const posts = () =>
    w.doubles.received({ platform: 'wecom', robot }).map((m) => (m.body.text as { content: string }).content);

  /** Open tasks as stored: not confirmed, not withdrawn, made within the links' 7 days. */
  const directOpen = () =>
    ManualTaskModel.countDocuments({
      confirmedAt: null,
      withdrawnAt: null,
      createdAt: { $gt: new Date(clock.now().getTime() - 7 * DAY) },
    });

  async function figures() {
    const counts = (await w.t.request('GET', '/api/workbench/counts', w.t.adminToken)).json();
    const listed = await w.t.request('GET', '/api/manual-tasks?open=true&limit=500', w.t.adminToken);
    expect(listed.statusCode, listed.body).toBe(200);
    const mine = await w.t.request('GET', '/api/manual-tasks?open=true&mine=true', officerToken);
    return {
      workbench: counts.awaitingTasks as number,
      myTasks: ((await w.t.request('GET', '/api/workbench/counts', officerToken)).json().myTasks ?? null) as number | null,
      listed: (listed.json() as { id: string }[]).map((task) => task.id).sort(),
      mine: (mine.json() as { id: string }[]).length,
      entries: (await OpenTaskModel.find({ kind: 'manual', withdrawn: { $ne: true } }).lean()).map((e) => e._id).sort(),
      direct: await directOpen(),
    };
  }

  /** The collections read or written while `run` runs (mongoose's debug hook sees every driver call). */
  const touched = async (run: () => Promise<unknown>): Promise<string[]> =>
    (await driverCallsDuring(run)).map((c) => `${c.collection}.${c.method}`);

  it('stays exact across sends, a retry, a confirmation, a cancel and expiry; the idle pass reads nothing', async () => {
    const first = await sendTo('防诈骗提醒', await manualGroups('东村', 4));
    let f = await figures();
    expect(f.direct).toBe(4);
    expect(f.workbench).toBe(4);
    expect(f.myTasks).toBe(4);
    expect(f.mine).toBe(4);
    expect(f.listed).toEqual(f.entries);
    expect(f.entries).toHaveLength(4);

    // A retried send of the same delivery finds its task and its entry: nothing doubles.
    const task = (await ManualTaskModel.findById(f.entries[0]).lean())!;
    await w.t.ctx.manualTasks.createTask(
      { groupId: task.groupId, groupName: task.groupName, regionPath: task.regionPath, officer: { name: '钱警官', phone } } as never,
      { type: 'text', card: { title: task.title, content: task.text ?? '', url: task.url ?? '' } } as never,
      task.taskKey,
    );
    expect((await figures()).entries).toEqual(f.entries);

    // The digest once the run has settled.
    clock.advance(MINUTE + 1);
    await w.t.ctx.notifier.tick();
    expect(posts()).toHaveLength(1);

    // Nothing due: the pass reads the due marker and the outbox, no task, entry or step.
    // (A pass over the list comes at least every 10 minutes: the marker is never raised further.)
    clock.advance(5 * MINUTE);
    const idle = await touched(async () => {
      await w.t.ctx.notifier.tick();
      clock.advance(4 * MINUTE);
      await w.t.ctx.notifier.tick();
    });
    expect(idle.filter((c) => /^(manualtasks|opentasks|notificationsteps|manualconfirmations)\./.test(c))).toEqual([]);
    expect(idle).toContain('opentaskmarks.findOne');

    // An officer confirms one through its link.
    const listed = (await w.t.request('GET', '/api/manual-tasks?open=true&mine=true', officerToken)).json() as {
      id: string;
      link: string;
    }[];
    const url = new URL(listed[0]!.link);
    const confirmed = await w.t.request('POST', `${url.pathname.replace(/^\/task\//, '/api/manual-tasks/')}/confirm${url.search}`);
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    f = await figures();
    expect(f.direct).toBe(3);
    expect(f.workbench).toBe(3);
    expect(f.listed).toEqual(f.entries);
    expect(f.entries).not.toContain(listed[0]!.id);

    // The reminder comes one period (120 minutes) after the digest, listing the three still open.
    clock.advance(110 * MINUTE);
    await w.t.ctx.notifier.tick();
    expect(posts()).toHaveLength(1);
    clock.advance(2 * MINUTE);
    await w.t.ctx.notifier.tick();
    expect(posts()).toHaveLength(2);
    expect(posts()[1]).toContain('【提醒】');
    expect((await NotificationStepModel.find({ campaignId: first }).lean()).map((s) => s.kind).sort()).toEqual([
      'digest',
      'reminder',
    ]);

    // A second campaign; the first is cancelled: its tasks leave the counts at once, the
    // officer is told on the next pass, and its entries are gone.
    const second = await sendTo('防溺水提醒', await manualGroups('西村', 2));
    expect((await figures()).workbench).toBe(5);
    const cancelled = await w.t.request('POST', `/api/campaigns/${first}/cancel`, w.editor);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    f = await figures();
    expect(f.direct).toBe(2);
    expect(f.workbench).toBe(2);
    expect(f.listed).toEqual(f.entries);
    await w.t.ctx.notifier.tick();
    expect(posts().at(-1)).toContain('已撤回');
    expect(await OpenTaskModel.countDocuments({ campaignId: first })).toBe(0);

    // The campaigns' notifications as the campaign page reads them (steps listed by campaign).
    const steps = await w.t.request('GET', `/api/campaigns/${first}/notifications`, w.editor);
    expect(steps.statusCode, steps.body).toBe(200);
    expect((steps.json() as { kind: string }[]).map((s) => s.kind)).toEqual(['digest', 'reminder', 'withdrawn']);

    // Seven days on, the second campaign's tasks have expired: off the list and the counts.
    clock.advance(7 * DAY);
    await w.t.ctx.notifier.tick();
    f = await figures();
    expect(f.direct).toBe(0);
    expect(f.workbench).toBe(0);
    expect(f.listed).toEqual([]);
    expect(await OpenTaskModel.countDocuments({})).toBe(0);
    expect(second).toBeTruthy();
  });
});

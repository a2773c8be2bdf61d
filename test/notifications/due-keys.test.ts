// The officer notifier driven by due keys (issue 25, ninth session): a pass reads the slots of
// the minutes that fell due and the officer runs filed there, by `_id`, never the open-task
// watch list (some 36,000 entries at 50,000 groups). Counted from mongoose's debug hook (every
// driver call), not timed: a pass with nothing due and a pass with one officer's reminder due
// send the same commands with 20 and with 420 other open entries on the list. Exactness: a
// pass killed after sending a reminder and before writing its next looks and cursor (the
// state restored as such a process leaves it) sends nothing twice, and the escalation still
// comes once; a pass asked to stop (shutdown) stops after the run it is handling, and the
// next pass tells exactly the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenTaskDueModel } from '../../src/channels/manual/due-slots.js';
import { flushOpenCounts } from '../../src/channels/manual/open-counts.js';
import { lowerDue, OpenTaskModel, watchTasks } from '../../src/channels/manual/watch.js';
import { fixedClock } from '../../src/lib/clock.js';
import { NotificationStepModel } from '../../src/notifications/model.js';
import { driverCallsDuring } from '../helpers/commands.js';
import { type DeliveryWorld, pushedNow, startDeliveryWorld } from '../helpers/delivery.js';
import { officerGroups, officerWithRobot } from '../helpers/officers.js';
import { TREE } from '../helpers/regions.js';

// 10:00 in Shanghai: outside the default quiet hours.
const clock = fixedClock('2026-07-06T02:00:00.000Z');
const MINUTE = 60_000;
const PERIOD = 120 * MINUTE; // TASK_REMINDER_MINUTES (normal)

describe('the officer notifier by due keys', () => {
  let w: DeliveryWorld;
  let seq = 0;

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
  });
  afterAll(() => w.close());

  async function officer(name: string) {
    seq += 1;
    const phone = `1370000${String(seq).padStart(4, '0')}`;
    const robot = `duekeys-${seq}-${Math.random().toString(36).slice(2, 10)}`;
    await officerWithRobot(w, { name, phone, robot, username: `k${phone}`, superiorUserId: null });
    return { name, phone, robot };
  }

  const groupsOf = (o: { name: string; phone: string }, count: number) =>
    officerGroups(w, o, `${o.name}${seq}-`, count, 80);

  const sendTo = (title: string, groups: string[]) => pushedNow(w, title, groups);

  const posts = (robot: string) =>
    w.doubles.received({ platform: 'wecom', robot }).map((m) => (m.body.text as { content: string }).content);

  /** Other officers' open entries (WeCom customer groups, no account), due hours from now: the list's bulk. */
  let others = 0;
  async function addOthers(count: number) {
    const now = clock.now();
    await watchTasks(
      Array.from({ length: count }, (_, i) => {
        others += 1;
        return {
          id: `wecom:other-${others}`,
          kind: 'wecom' as const,
          reference: `000000000000000000000${String(i % 50).padStart(3, '0')}@${now.toISOString()}/g${others}`,
          regionPath: [TREE.countyA.code, TREE.villageA.code],
          officerName: `其他${others % 37}`,
          officerPhone: `1590000${String(others % 37).padStart(4, '0')}`,
          createdAt: now,
          dueAt: new Date(now.getTime() + 5 * 3600_000),
        };
      }),
    );
  }

  /** The driver calls of one notifier pass whose marker is due, and whether any read of `opentasks` was not by `_id`. */
  async function pass(): Promise<{ commands: number; listReads: string[] }> {
    // The sends' deferred open-count flush (a real-time timer) is not the pass's: done before.
    await flushOpenCounts();
    await lowerDue(clock.now());
    const seen = await driverCallsDuring(() => w.t.ctx.notifier.tick());
    const listReads = seen
      .filter((c) => c.collection === 'opentasks' && /^find|count|aggregate|distinct/.test(c.method))
      .filter((c) => typeof (c.args[0] as { _id?: unknown } | null)?._id !== 'string')
      .map((c) => `${c.method} ${JSON.stringify(c.args[0])}`);
    return { commands: seen.length, listReads };
  }

  it('a pass costs what is due, not the size of the open-task list', async () => {
    const li = await officer('李警官');
    const groups = await groupsOf(li, 4);
    await addOthers(20);
    // Two runs of Li's, the second 20 minutes after the first: two reminders at different times.
    await sendTo('防诈骗提醒一', groups.slice(0, 2));
    clock.advance(MINUTE + 1);
    await w.t.ctx.notifier.tick();
    clock.advance(20 * MINUTE);
    await sendTo('防诈骗提醒二', groups.slice(2));
    clock.advance(MINUTE + 1);
    await w.t.ctx.notifier.tick();
    expect(posts(li.robot)).toHaveLength(2); // the two digests

    // Nothing due, the marker due (as every 10 minutes when idle), 20 other entries listed.
    clock.advance(5 * MINUTE);
    await w.t.ctx.notifier.tick();
    const idleSmall = await pass();
    // The first run's reminder, 20 other entries listed.
    clock.set(new Date(clock.now().getTime() + PERIOD - 27 * MINUTE));
    await w.t.ctx.notifier.tick();
    clock.advance(2 * MINUTE);
    const dueSmall = await pass();
    expect(posts(li.robot)).toHaveLength(3);

    await addOthers(400);
    clock.advance(5 * MINUTE);
    await w.t.ctx.notifier.tick();
    const idleLarge = await pass();
    // The second run's reminder (20 minutes after the first), 420 other entries listed.
    clock.advance(10 * MINUTE);
    await w.t.ctx.notifier.tick();
    clock.advance(5 * MINUTE);
    const dueLarge = await pass();
    expect(posts(li.robot)).toHaveLength(4);
    expect(posts(li.robot)[3]).toContain('提醒');

    // No read of the list but by `_id`; the same commands with 20 and 420 other entries.
    process.stdout.write(`due-keys commands: ${JSON.stringify({ idleSmall, dueSmall, idleLarge, dueLarge })}\n`);
    for (const p of [idleSmall, dueSmall, idleLarge, dueLarge]) expect(p.listReads).toEqual([]);
    expect(Math.abs(idleLarge.commands - idleSmall.commands)).toBeLessThanOrEqual(3);
    // Not more with 420 (the second reminder's campaign and notice may be kept from its digest's
    // pass, notifications/kept-facts.ts, where the first one's were read again after a campaign write).
    expect(dueLarge.commands - dueSmall.commands).toBeLessThanOrEqual(3);
    expect(idleSmall.commands).toBeLessThan(40);
    expect(dueSmall.commands).toBeLessThan(80);
  });

  it('a pass killed after a reminder and before its next looks and cursor sends nothing twice; the escalation comes once', async () => {
    const zhou = await officer('周警官');
    const groups = await groupsOf(zhou, 2);
    await sendTo('防溺水提醒', groups);
    clock.advance(MINUTE + 1);
    await w.t.ctx.notifier.tick();
    expect(posts(zhou.robot)).toHaveLength(1);
    const ids = (await OpenTaskModel.find({ officerPhone: zhou.phone }).lean()).map((e) => e._id);
    expect(ids).toHaveLength(2);

    clock.advance(PERIOD);
    // What a process killed right after posting the reminder leaves: its entries' old due
    // times and the cursor before the pass (the next looks' filings may or may not be there).
    const entriesBefore = await OpenTaskModel.find({ _id: { $in: ids } }, { dueAt: 1 }).lean();
    const cursorBefore = await OpenTaskDueModel.findById('cursor').lean();
    await w.t.ctx.notifier.tick();
    expect(posts(zhou.robot)).toHaveLength(2);
    for (const e of entriesBefore) await OpenTaskModel.updateOne({ _id: e._id }, { $set: { dueAt: e.dueAt } });
    if (cursorBefore) await OpenTaskDueModel.replaceOne({ _id: 'cursor' }, cursorBefore);
    await w.t.ctx.notifier.tick();
    await w.t.ctx.notifier.tick();
    expect(posts(zhou.robot)).toHaveLength(2); // the reminder once

    clock.advance(PERIOD);
    await w.t.ctx.notifier.tick();
    clock.advance(MINUTE);
    await w.t.ctx.notifier.tick();
    const steps = await NotificationStepModel.find({ officerKey: zhou.phone }).lean();
    expect(steps.map((s) => s.kind).sort()).toEqual(['digest', 'escalation', 'reminder']);
    expect(steps.find((s) => s.kind === 'escalation')?.status).toBe('no_superior');
    expect(posts(zhou.robot)).toHaveLength(2);
  });

  it('a pass asked to stop stops after the run it is handling; the next pass tells exactly the others', async () => {
    const wu = await officer('吴警官');
    const groups = await groupsOf(wu, 3);
    for (const [i, group] of groups.entries()) await sendTo(`停止测试${i + 1}`, [group]);
    clock.advance(MINUTE + 1);
    const notifier = w.t.ctx.notifier;
    const inside = notifier as unknown as { ports: { campaign: (id: string) => Promise<unknown> }; stopping: boolean };
    const campaign = inside.ports.campaign;
    // Shutdown asked while the pass handles its first officer run.
    inside.ports.campaign = async (id) => {
      notifier.stop();
      return campaign(id);
    };
    try {
      await notifier.tick();
    } finally {
      inside.ports.campaign = campaign;
    }
    expect(posts(wu.robot)).toHaveLength(1);
    inside.stopping = false; // a new process
    await notifier.tick();
    await notifier.tick();
    expect(posts(wu.robot)).toHaveLength(3);
    expect(new Set(posts(wu.robot).map((text) => text.match(/停止测试\d/)?.[0])).size).toBe(3);
  });

  it('a wave’s item names all its officer runs; a pass stopped after the first tells the others next, each once', async () => {
    // One campaign to three officers' groups: one wave, one slot item naming three runs.
    const three = [await officer('郑警官'), await officer('王警官'), await officer('冯警官')];
    const groups = (await Promise.all(three.map((o) => groupsOf(o, 1)))).flat();
    await sendTo('一项三人', groups);
    clock.advance(MINUTE + 1);
    const notifier = w.t.ctx.notifier;
    const inside = notifier as unknown as { ports: { campaign: (id: string) => Promise<unknown> }; stopping: boolean };
    const campaign = inside.ports.campaign;
    inside.ports.campaign = async (id) => {
      notifier.stop();
      return campaign(id);
    };
    try {
      await notifier.tick();
    } finally {
      inside.ports.campaign = campaign;
    }
    const told = () => three.map((o) => posts(o.robot).length);
    expect(told().reduce((a, b) => a + b, 0)).toBe(1);
    inside.stopping = false; // a new process
    await notifier.tick();
    await notifier.tick();
    // The cursor stayed before the item: the other two runs are told, nobody twice.
    expect(told()).toEqual([1, 1, 1]);
  });
});

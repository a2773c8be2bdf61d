// What the officer notifier reads per step (issue 25, eleventh session): on the 50,000-group
// world its backlog read the whole campaign document (38 ms: `findForEngine`) and the
// campaigns and notices by `$in` (scans on FerretDB 1.24) for about every step, the steps of a
// pass belonging to different campaigns. Now the campaign's and notice's fields are read by
// `_id`, projected, and kept across passes while the collections' version tokens stay
// (notifications/kept-facts.ts). Counted with the driver's command monitor, not timed: a pass
// recording three reminders of three campaigns reads no campaign or notice at all (the
// digests' pass read each once, by `_id`, projected), and a stop written after that is seen
// by the next pass (its withdrawal told at once, nothing reminded after it). A normal run
// whose reminder falls due in quiet hours is looked at again when they end, not every five
// minutes all night (the bench world's month walked by the finishing step looked at every
// waiting run 108 times a night).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushOpenCounts } from '../../src/channels/manual/open-counts.js';
import { OpenTaskModel, lowerDue } from '../../src/channels/manual/watch.js';
import { fixedClock } from '../../src/lib/clock.js';
import { type SeenCommand, commandsDuring } from '../helpers/commands.js';
import { type DeliveryWorld, pushedNow, startDeliveryWorld } from '../helpers/delivery.js';
import { officerGroups, officerWithRobot } from '../helpers/officers.js';

// 10:00 in Shanghai: outside the default quiet hours.
const clock = fixedClock('2026-07-08T02:00:00.000Z');
const MINUTE = 60_000;
const PERIOD = 120 * MINUTE; // TASK_REMINDER_MINUTES (normal)

describe("the officer notifier's reads per step", () => {
  let w: DeliveryWorld;

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
  });
  afterAll(() => w.close());

  const posts = (robot: string) =>
    w.doubles.received({ platform: 'wecom', robot }).map((m) => (m.body.text as { content: string }).content);

  /** The commands of one notifier pass (its marker lowered to now, the sends' deferred count flush done before). */
  async function pass(): Promise<{ seen: SeenCommand[]; steps: number }> {
    await flushOpenCounts();
    await lowerDue(clock.now());
    let steps = 0;
    const seen = await commandsDuring(async () => {
      steps = await w.t.ctx.notifier.tick();
    });
    return { seen, steps };
  }

  const readsOf = (seen: SeenCommand[], collection: string) =>
    seen.filter((c) => c.collection === collection && (c.name === 'find' || c.name === 'aggregate'));
  /** A read of whole documents (no projection), or not by one `_id`. */
  const wholeOrScan = (c: SeenCommand) =>
    c.projection === null || (typeof (c.filter as { _id?: unknown } | null)?._id !== 'string' && !isObjectId(c.filter));
  const isObjectId = (filter: Record<string, unknown> | null) =>
    Boolean(
      filter &&
        Object.keys(filter).length === 1 &&
        (filter._id as { _bsontype?: string } | undefined)?._bsontype === 'ObjectId',
    );

  it('reads no whole campaign, and no campaign or notice again while none changed', async () => {
    const phone = '13600000001';
    const robot = `reads-${Math.random().toString(36).slice(2, 10)}`;
    await officerWithRobot(w, { name: '吴警官', phone, robot, username: `r${phone}`, superiorUserId: null });
    const groups = await officerGroups(w, { name: '吴警官', phone }, '吴村', 6, 80);
    const campaignIds: string[] = [];
    for (const [i, title] of ['防诈骗提醒', '防溺水提醒', '森林防火提醒'].entries()) {
      campaignIds.push(await pushedNow(w, title, groups.slice(2 * i, 2 * i + 2)));
    }

    clock.advance(MINUTE + 1);
    const digests = await pass();
    expect(digests.steps).toBe(3);
    expect(posts(robot)).toHaveLength(3);
    const digestReads = [...readsOf(digests.seen, 'campaigns'), ...readsOf(digests.seen, 'notices')];

    clock.advance(PERIOD);
    const reminders = await pass();
    expect(reminders.steps).toBe(3);
    expect(posts(robot)).toHaveLength(6);
    for (const text of posts(robot).slice(3)) expect(text).toContain('提醒');
    const reminderReads = [...readsOf(reminders.seen, 'campaigns'), ...readsOf(reminders.seen, 'notices')];
    process.stdout.write(
      `notifier reads: ${JSON.stringify({
        digests: {
          commands: digests.seen.length,
          reads: digestReads.map((c) => `${c.collection} ${JSON.stringify(c.filter)} ${JSON.stringify(c.projection)}`),
        },
        reminders: {
          commands: reminders.seen.length,
          reads: reminderReads.length,
          by: Object.entries(
            reminders.seen.reduce((m: Record<string, number>, c) => {
              const k = `${c.name} ${c.collection} ${Object.keys(c.filter ?? {}).join(',')}`;
              m[k] = (m[k] ?? 0) + 1;
              return m;
            }, {}),
          ),
        },
      })}\n`,
    );
    // Each campaign and notice read once, by `_id`, projected (never the whole document).
    expect(digestReads.filter(wholeOrScan)).toEqual([]);
    expect(readsOf(digests.seen, 'campaigns')).toHaveLength(3);
    // Nothing changed since: kept under the version tokens.
    expect(reminderReads).toEqual([]);
    expect(reminders.seen.length / reminders.steps).toBeLessThanOrEqual(60);

    // A stop written now is seen by the next pass: the officer told once, never escalated.
    const cancel = await w.t.request('POST', `/api/campaigns/${campaignIds[1]}/cancel`, w.editor);
    expect(cancel.statusCode, cancel.body).toBe(200);
    await pass();
    expect(posts(robot)).toHaveLength(7);
    expect(posts(robot)[6]).toContain('防溺水提醒');
    expect(posts(robot)[6]).toContain('撤回');
    clock.advance(PERIOD);
    const escalations = await pass();
    // Two escalations (no superior: recorded, not posted); the cancelled run's never.
    expect(escalations.steps).toBe(2);
    expect(posts(robot)).toHaveLength(7);
  });

  it('looks at a run whose reminder waits for the end of quiet hours at that end, not before', async () => {
    const phone = '13600000002';
    const robot = `quiet-${Math.random().toString(36).slice(2, 10)}`;
    await officerWithRobot(w, { name: '郑警官', phone, robot, username: `r${phone}`, superiorUserId: null });
    const groups = await officerGroups(w, { name: '郑警官', phone }, '郑村', 2, 80);
    // 21:00 in Shanghai: the digest at 21:01, the reminder due at 23:01, inside quiet hours (22:00-07:00).
    clock.set('2026-07-10T13:00:00.000Z');
    await pushedNow(w, '防电诈提醒', groups);
    clock.advance(MINUTE + 1);
    await pass();
    expect(posts(robot)).toHaveLength(1);
    clock.set('2026-07-10T15:02:00.000Z');
    const held = await pass();
    expect(held.steps).toBe(0);
    const entries = await OpenTaskModel.find({ officerPhone: phone }, { dueAt: 1 }).lean();
    expect(entries).toHaveLength(2);
    // 07:00 in Shanghai the next morning.
    for (const entry of entries) expect(entry.dueAt.toISOString()).toBe('2026-07-10T23:00:00.000Z');
    clock.set('2026-07-10T23:00:30.000Z');
    const morning = await pass();
    expect(morning.steps).toBe(1);
    expect(posts(robot)).toHaveLength(2);
    expect(posts(robot)[1]).toContain('提醒');
  });
});

// The campaign page's 民警通知 (issue 25): `GET /api/campaigns/:id/notifications` reads one page
// of a campaign's notification steps by `_id` (the slots of notifications/step-list.ts from the
// cursor on), and `…/notifications/summary` the campaign's per-kind counts from one small
// document (notifications/step-counts.ts), so neither grows with the campaign's steps: at 50,000
// groups the province campaign's list took 2,872 commands. Checked with the driver's command
// monitor (30 vs 300 steps: the same commands, every read by `_id`), the pages together equal
// the whole list, and the counts equal counts made from the raw steps — after steps written
// through the writer's path, after a writer killed between its step and its count write, after
// a step listed twice, and on an install whose steps were written before the counts (backfill).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackfillModel } from '../../src/db/backfills.js';
import { NotificationStepModel, StepSlotModel } from '../../src/notifications/model.js';
import { advanceCounts, buildStepCounts, StepCountModel } from '../../src/notifications/step-counts.js';
import { listStep } from '../../src/notifications/step-list.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  type DeliveryWorld,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';

const KINDS = ['digest', 'reminder', 'escalation', 'withdrawn'] as const;
const STEP_COLLECTIONS = ['notificationsteps', 'notificationstepslots', 'notificationstepcounts'];

interface Row {
  id: string;
  kind: string;
  officerName: string | null;
  at: string;
}
interface Summary {
  total: number;
  kinds: Record<(typeof KINDS)[number], number>;
}

describe('a campaign’s notification steps paged by _id, with per-kind counts', { timeout: 300_000 }, () => {
  let w: DeliveryWorld;
  let small: string;
  let large: string;
  let groupId: string;
  let t0 = Date.parse('2026-06-01T02:00:00.000Z');
  /** Each step a second after the one before. */
  const tick = () => {
    t0 += 1000;
    return new Date(t0);
  };

  /** A campaign the admin may read (scheduled a month ahead: it never runs here). */
  async function campaign(title: string): Promise<string> {
    const noticeId = await approvedNotice(w, { title });
    return approvedCampaign(w, {
      title,
      noticeId,
      audience: audienceOf([], [groupId]),
      schedule: { kind: 'once', at: new Date(Date.now() + 30 * 86_400_000).toISOString() },
    });
  }

  /** A step as the notifier writes one: listed, inserted with its slot; `counted` false = killed before the count write. */
  async function write(campaignId: string, i: number, counted = true): Promise<string> {
    const kind = KINDS[i % 7 === 0 ? 2 : i % 5 === 0 ? 1 : i % 11 === 0 ? 3 : 0];
    const id = `${kind}|${campaignId}@run|officer-${i}`;
    const slot: number = await listStep(campaignId, id);
    await NotificationStepModel.create({
      _id: id,
      kind,
      campaignId,
      occurrenceId: `${campaignId}@run`,
      officerKey: `officer-${i}`,
      officerName: `民警${i}`,
      groupNames: [`平安群${i}`],
      status: 'sent',
      at: tick(),
      slot,
    });
    if (counted) await advanceCounts(campaignId);
    return id;
  }

  const get = async <T>(url: string): Promise<T> => {
    const response = await w.t.request('GET', url, w.t.adminToken);
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as T;
  };
  const page = (campaignId: string, query: string) => get<Row[]>(`/api/campaigns/${campaignId}/notifications?${query}`);
  const summary = (campaignId: string) => get<Summary>(`/api/campaigns/${campaignId}/notifications/summary`);

  /** Counts made from the raw steps of the campaign. */
  async function rawCounts(campaignId: string): Promise<Summary> {
    const steps = await NotificationStepModel.find({ campaignId }, { kind: 1 }).lean();
    const kinds = Object.fromEntries(
      KINDS.map((k) => [k, steps.filter((s) => s.kind === k).length]),
    ) as Summary['kinds'];
    return { total: steps.length, kinds };
  }

  /** Every page, `size` rows at a time, in the order given. */
  async function allPages(campaignId: string, size: number, sort: 'oldest' | 'newest'): Promise<Row[]> {
    const rows: Row[] = [];
    let cursor: string | undefined;
    for (;;) {
      const key = sort === 'oldest' ? 'after' : 'before';
      const got = await page(campaignId, `sort=${sort}&limit=${size + 1}${cursor ? `&${key}=${cursor}` : ''}`);
      rows.push(...got.slice(0, size));
      if (got.length <= size) return rows;
      cursor = got[size - 1]!.id;
    }
  }

  /** The commands one call sends on the step collections (and whether each reads by `_id`). */
  async function stepCommands(work: () => Promise<unknown>) {
    const seen = await commandsDuring(work);
    return seen.filter((c) => STEP_COLLECTIONS.includes(c.collection));
  }

  beforeAll(async () => {
    w = await startDeliveryWorld();
    groupId = (await wecomGroups(w, 1))[0]!.id;
    small = await campaign('三十步');
    large = await campaign('三百步');
    for (let i = 0; i < 30; i++) await write(small, i);
    for (let i = 0; i < 300; i++) await write(large, i);
  });
  afterAll(() => w.close());

  it('sends the same commands, all by _id, for a page and the counts of 30 and of 300 steps', async () => {
    const calls = [
      (c: string) => page(c, 'limit=11'),
      (c: string) => page(c, 'sort=newest&limit=11'),
      (c: string) => summary(c),
    ];
    for (const call of calls) {
      const few = await stepCommands(() => call(small));
      const many = await stepCommands(() => call(large));
      expect(many.length).toBe(few.length);
      // A page of 11: a slot and a step each (and the end of the list, newest first); the counts: 2.
      expect(many.length).toBeLessThanOrEqual(2 * 11 + 2);
      expect(many.filter((c) => !byIdOnly(c.filter))).toEqual([]);
    }
    // A page after a cursor deep into the list costs what the first one does.
    const deep = await stepCommands(() => page(large, 'limit=11&after=250'));
    const first = await stepCommands(() => page(large, 'limit=11'));
    expect(deep.length).toBe(first.length);
  });

  it('gives pages that together are the whole list, oldest or newest first, and counts equal to the steps', async () => {
    const whole = await NotificationStepModel.find({ campaignId: large }).sort({ at: 1 }).lean();
    const oldest = await allPages(large, 20, 'oldest');
    expect(oldest.map((r) => r.officerName)).toEqual(whole.map((s) => s.officerName));
    const newest = await allPages(large, 50, 'newest');
    expect(newest.map((r) => r.officerName)).toEqual(whole.map((s) => s.officerName).reverse());
    expect(await summary(large)).toEqual(await rawCounts(large));
    expect(await summary(small)).toEqual(await rawCounts(small));
    // Without a limit a call gives a bounded page (50), the oldest steps first.
    expect((await page(large, '')).length).toBe(50);
  });

  it('repairs the counts after a writer killed between its step and its count write', async () => {
    const killed = await campaign('写到一半');
    for (let i = 0; i < 12; i++) await write(killed, i);
    // Killed after the insert of each of these steps, before its count write.
    for (let i = 12; i < 15; i++) await write(killed, i, false);
    // Killed after listing, before the insert (a slot naming no step): kept open in the counts
    // while a writer may still insert it, passed over once its listing is older than the lease;
    // the step inserted on a retry, at a later slot, counts once.
    await listStep(killed, 'digest|never-written');
    const retried = `digest|${killed}@run|officer-retried`;
    await listStep(killed, retried);
    await write(killed, 15);
    expect(await summary(killed)).toEqual(await rawCounts(killed));
    expect((await StepCountModel.findById(killed).lean())?.open).toEqual([15, 16]);
    const step = await NotificationStepModel.findById(`reminder|${killed}@run|officer-5`).lean();
    expect(step?.slot).toBe(5);
    // The two slots of dead writers, older than the lease.
    await StepSlotModel.updateMany(
      { _id: { $regex: `^${killed}\\|[0-9]+$` } },
      { $set: { at: new Date(Date.now() - 3_600_000) } },
    );
    const slot: number = await listStep(killed, retried);
    await NotificationStepModel.create({
      _id: retried,
      kind: 'digest',
      campaignId: killed,
      occurrenceId: `${killed}@run`,
      officerKey: 'retried',
      officerName: '重试',
      status: 'sent',
      at: tick(),
      slot,
    });
    expect(await summary(killed)).toEqual(await rawCounts(killed));
    expect((await summary(killed)).total).toBe(17);
    expect((await StepCountModel.findById(killed).lean())?.open).toEqual([]);
    const rows = await allPages(killed, 7, 'oldest');
    expect(rows.length).toBe(17);
    expect(new Set(rows.map((r) => r.officerName)).size).toBe(17);
  });

  it('counts an older install’s steps once at start, a step listed twice once', async () => {
    const old = await campaign('旧数据');
    // Steps written before the counts: no slot on the step (nor `at` on its slot), one of them
    // listed twice; and one listed again by a writer of today that lost its insert to it.
    for (let i = 0; i < 9; i++) {
      const id = `digest|${old}@old|officer-${i}`;
      await listStep(old, id, false);
      if (i === 4) await listStep(old, id, false);
      if (i === 6) await listStep(old, id);
      await NotificationStepModel.collection.insertOne({
        _id: id as never,
        kind: 'digest',
        campaignId: old,
        occurrenceId: `${old}@old`,
        officerKey: `officer-${i}`,
        officerName: `旧民警${i}`,
        groupNames: [],
        status: 'sent',
        at: tick(),
      });
    }
    await StepCountModel.deleteOne({ _id: old });
    await BackfillModel.deleteOne({ _id: 'notification-step-counts' });
    await buildStepCounts();
    await buildStepCounts();
    expect(await summary(old)).toEqual(await rawCounts(old));
    expect(await summary(large)).toEqual(await rawCounts(large));
    const rows = await allPages(old, 4, 'oldest');
    expect(rows.map((r) => r.officerName)).toEqual(Array.from({ length: 9 }, (_, i) => `旧民警${i}`));
  });
});

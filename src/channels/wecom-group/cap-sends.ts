// The sends counted against a WeCom customer group's receive cap in one period (ref §7), read
// by `_id` (issue 25): every group queued (`enqueue`), the results of a task and the totals
// before approval counted them with `wecomgroupitems {groupId: $in, period, state: $in}`,
// which on FerretDB 1.24 reads every customer-group delivery ever made (about 2 s of
// FerretDB's CPU per group queued at 20,000 items).
//
// Collection `wecomgroupcapsends`, `_id` = `<groupId>|<period>`, `refs` = the delivery ids
// (items) queued for the group in that period, added with `$addToSet` and never removed.
// What counts is an item still queued, tasked or sent: `used` is exact once a group's refs
// reach the limit (each ref's item then read by `_id`); below it, `used` is the number of refs,
// an upper bound (sends that failed or were cancelled stay named) that the callers only
// compare with the limit, where it decides as the exact count does.
//
// Contract (the order of writes):
// - a delivery is added to its group's refs before its item is inserted (service.ts
//   `enqueue`); a kill in between leaves a ref with no item, not counted by the exact count
//   (and below the limit, where it is counted, it decides nothing), and the engine's retry of
//   the send adds it again (`$addToSet`: once);
// - an item's later states (tasked, sent, failed, cancelled, queued again after a pause) are
//   read from the item itself: nothing here is written again;
// - two writers adding to one group at the same instant (two campaigns' runs on different
//   processes): FerretDB does not make two updates of one document atomic, so one add may be
//   lost; the group then gets one send more than our count allows, which WeCom refuses by its
//   own cap (status 3, reported as capped by `recordResults`);
// - an install written before this list: the items of the last 32 days are added once at start
//   (`buildWecomCapSends`, backfill `wecom-group-cap-sends`, one read of the items).
//
// Pruned (`pruneCapSends`, retention's daily sweep): the only reader is `capSendsUsed`, and
// every caller asks it for the period the present instant falls in (service.ts `capPeriod`:
// `capUsage`, `enqueue`, `overCap`), so a period that is over is never read again; nor is it
// written again (an add names the period of its own instant). A period counts as over a day
// after its last calendar day ends in UTC, which is past its end in any time zone (offsets
// are under 14 h) and leaves a day for clocks that disagree. The sweep reads the `_id`s (one
// scan of this collection, bounded by the groups' current periods once swept) and deletes
// the over ones by `_id`, 20 a command: a kill in between leaves lists of over periods that
// nobody reads, deleted by the next sweep.
import mongoose from 'mongoose';
import { backfillOnce } from '../../db/backfills.js';
import { MAX_UPDATES_PER_COMMAND } from '../../db/bulk.js';
import { mapLimit } from '../../lib/concurrency.js';
import { WecomItemModel } from './model.js';

const capSchema = new mongoose.Schema(
  { _id: { type: String, required: true }, refs: { type: [String], required: true } },
  { versionKey: false },
);
export const WecomCapSendsModel = mongoose.model('WecomGroupCapSends', capSchema, 'wecomgroupcapsends');

/** Item states that count against the cap. */
const COUNTED: ReadonlySet<string> = new Set(['queued', 'tasked', 'sent']);
/** How far back the backfill looks: the longest period (a month) and a day. */
const BACKFILL_DAYS = 32;

const capId = (groupId: string, period: string) => `${groupId}|${period}`;
const DAY_MS = 24 * 3600_000;

/**
 * The UTC instant after which no clock in any time zone is still in `period` (`YYYY-MM`,
 * `W<monday>`, `YYYY-MM-DD`, service.ts `capPeriod`): the start of the UTC day after its last
 * day, plus a day. Null for a period this module does not know (kept).
 */
export function capPeriodOver(period: string): Date | null {
  const month = /^(\d{4})-(\d{2})$/.exec(period);
  if (month) return new Date(Date.UTC(Number(month[1]), Number(month[2]), 1) + DAY_MS);
  const day = /^(W?)(\d{4})-(\d{2})-(\d{2})$/.exec(period);
  if (!day) return null;
  const first = Date.UTC(Number(day[2]), Number(day[3]) - 1, Number(day[4]));
  return new Date(first + (day[1] ? 7 : 1) * DAY_MS + DAY_MS);
}

/** Deletes the lists of periods that are over (module header). Returns how many. */
export async function pruneCapSends(now: Date): Promise<number> {
  const docs = await WecomCapSendsModel.find({}, { _id: 1 }).lean<{ _id: string }[]>();
  const over = docs
    .map((doc) => doc._id)
    .filter((id) => {
      const ends = capPeriodOver(id.slice(id.lastIndexOf('|') + 1));
      return ends !== null && ends.getTime() <= now.getTime();
    });
  let deleted = 0;
  for (let i = 0; i < over.length; i += MAX_UPDATES_PER_COMMAND) {
    const result = await WecomCapSendsModel.bulkWrite(
      over.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({ deleteOne: { filter: { _id: id } } })),
      { ordered: false },
    );
    deleted += result.deletedCount;
  }
  return deleted;
}

/** Adds deliveries to their groups' sends of a period (before their items are inserted). */
export async function addCapSends(sends: { groupId: string; period: string; reference: string }[]): Promise<void> {
  const byCap = new Map<string, string[]>();
  for (const s of sends)
    byCap.set(capId(s.groupId, s.period), [...(byCap.get(capId(s.groupId, s.period)) ?? []), s.reference]);
  const caps = [...byCap];
  for (let i = 0; i < caps.length; i += MAX_UPDATES_PER_COMMAND) {
    await WecomCapSendsModel.bulkWrite(
      caps.slice(i, i + MAX_UPDATES_PER_COMMAND).map(([id, refs]) => ({
        updateOne: { filter: { _id: id }, update: { $addToSet: { refs: { $each: refs } } }, upsert: true },
      })),
      { ordered: false },
    );
  }
}

/**
 * Sends counted against each group's cap in the period, compared with `limit` by the callers:
 * exact at or above the limit, an upper bound below it (module header). One `_id` read per
 * group (8 at a time), and one per ref of a group whose refs reach the limit.
 */
export async function capSendsUsed(groupIds: string[], period: string, limit: number): Promise<Map<string, number>> {
  const used = new Map<string, number>();
  const docs = await mapLimit(groupIds, 8, (id) =>
    WecomCapSendsModel.findById(capId(id, period)).lean<{ refs: string[] }>(),
  );
  for (const [i, groupId] of groupIds.entries()) {
    const refs = docs[i]?.refs ?? [];
    if (refs.length === 0) continue;
    if (refs.length < limit) {
      used.set(groupId, refs.length);
      continue;
    }
    const items = await mapLimit(refs, 8, (id) => WecomItemModel.findById(id, { state: 1 }).lean<{ state: string }>());
    used.set(groupId, items.filter((item) => item !== null && COUNTED.has(item.state)).length);
  }
  return used;
}

/** For an install written before the list (once, at start): the items of the last 32 days added. */
export async function buildWecomCapSends(now: Date): Promise<void> {
  await backfillOnce('wecom-group-cap-sends', async () => {
    const items = await WecomItemModel.find(
      { createdAt: { $gte: new Date(now.getTime() - BACKFILL_DAYS * 24 * 3600_000) } },
      { _id: 1, groupId: 1, period: 1 },
    ).lean<{ _id: string; groupId: string; period: string }[]>();
    await addCapSends(items.map((i) => ({ groupId: i.groupId, period: i.period, reference: i._id })));
  });
}

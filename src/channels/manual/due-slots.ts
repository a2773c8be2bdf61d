// Due keys of the open-task watch list (issue 25): the officer notifier reads what is due by
// `_id`, never the whole list (about 36,000 entries at 50,000 groups; on FerretDB 1.24 any
// filter but a single `_id` equality reads the whole collection).
//
// Collection `opentaskdue`, every document read and written by `_id`; a list is appended by
// unique numbers (`<list>|<n>`, like notifications/step-list.ts), never by a read-modify-write
// of a shared document (FerretDB does not make two updates of one document atomic):
//   s:<minute>|<n>    a slot item: officer runs (`runs`, each with its earliest time in `ats`;
//                     before the tenth session one run, `run` and `at`) with an entry due inside
//                     that UTC minute (`YYYY-MM-DDTHH:MM`); a wave's runs share one item
//   r:<run>|<n>       a run list item: entry ids (`ids`) of that officer run
//   c:<campaign>|<n>  a campaign list item: entries of that campaign, `rows` (JSON of
//                     [id, run, county or null for a WeCom group] each; tenth session, scans):
//                     a stop or a resume reaches its campaign's entries by `_id` from here,
//                     without reading them first (an entry's run and county never change).
//                     Numbered and hinted like a run list, written in the wave's one command
//   <list>|next       a list's hint: its items 0..next-1 are taken (`$max`, written after the
//                     items, in the same ordered command). A reader reads the hint, then the items
//                     below it and beyond it until the first missing one, so a hole below the
//                     hint is harmless. Slots get one; run lists from their second item.
//   t:<ten minutes>, h:<hour>, d:<day>  something was filed in that UTC ten minutes / hour /
//                     day (written before the slot's hint, once per process): a walk over time
//                     with nothing filed reads one marker per empty day, hour or ten minutes
//   cursor            where the notifier stands: every item of a slot before `slot`, and of
//                     `slot` before `index`, has been looked at
//
// Writing (`append`): one queue per process, one write at a time carrying every item queued
// meanwhile: one ordered `update` command of upserts (`$setOnInsert` at the item's number, then
// the markers, then the hint; at most MAX_UPDATES_PER_COMMAND statements a command), so a wave
// of tasks costs one command whatever its officer runs. The process carries each list's next
// number (no hint read per wave: a slot's hint is read once per process, and again when the
// slot ends within NEAR_MS, since the notifier drops slots that ended; a run's list starts at
// 0). Item n is written only once item n-1 exists (the queue, the ordered command, and a taken
// number retried above the item found there and the list's hint), so the lists have no holes
// above their hints and a reader that stops at a missing item misses nothing.
//
// Contract (the order of writes, so that a kill -9 anywhere loses no due look):
// - whoever sets an entry's `dueAt` to T (the watch list's writers, the notifier) first files
//   the entry's run in slot(T) (`fileRuns`; a wave's new entries `listAndFile`), then writes
//   the entry, then lowers the notifier's due marker (watch.ts `lowerDue`). A writer killed
//   after the filing leaves an item whose runs are not due then: the notifier reads their
//   entries, finds none due and passes on (harmless).
// - an entry is listed on its run and its campaign (`listRunEntries`, `listAndFile`) before
//   it is inserted (a row naming no entry is harmless: a stop's update matches nothing); a
//   kill inside the one command leaves some items of it (a run list item, the slot's item
//   without its hint: read beyond the hint) and no entry yet, so nothing is due that is not
//   filed; the retried wave lists and files again (repeats are harmless).
// - the notifier moves its cursor past an item only after it has handled every run the item
//   names (their steps claimed and their entries' next looks filed and written): killed before,
//   the item is read again and its runs looked at again; each step is a unique insert, so nothing is sent
//   twice (notifier.ts).
// - a slot the cursor passed is deleted. A writer whose filing lands in a slot behind the
//   cursor (its clock behind, or delayed) has lowered the marker to its time, and a pass starts
//   from the marker's slot when it lies behind the cursor.
// - existing installs: the list is filed once at start (`buildDueSlots`), and its entries put
//   on their campaign lists once (`buildCampaignLists`, backfill `opentask-campaign-lists`).
// - retention (engine/retention.ts) deletes a settled run's run lists, and a campaign's list, once
//   none of their entries is on the watch list and their run (any run of the campaign) was not
//   open after the list was read (`dropRunList`, `dropCampaignList`: the hint first, only if it
//   still holds what was read, then the items read from the highest down, each only if it still
//   holds what was read), and the walk markers of a day the cursor and the due marker have both
//   passed (`dropDayMarkers`: the day's last). A listing always happens while its run is open
//   (engine/open-runs.ts), and before its entry is inserted.
import mongoose from 'mongoose';
import { backfillOnce } from '../../db/backfills.js';
import { MAX_UPDATES_PER_COMMAND } from '../../db/bulk.js';
import { mapLimit } from '../../lib/concurrency.js';

const dueSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    run: { type: String, default: undefined },
    at: { type: Date, default: undefined },
    runs: { type: [String], default: undefined },
    ats: { type: [Date], default: undefined },
    ids: { type: [String], default: undefined },
    rows: { type: String, default: undefined },
    next: { type: Number, default: undefined },
    slot: { type: String, default: undefined },
    index: { type: Number, default: undefined },
  },
  { versionKey: false },
);
export const OpenTaskDueModel = mongoose.model('OpenTaskDue', dueSchema, 'opentaskdue');

const CURSOR = 'cursor';
const MINUTE_MS = 60_000;

/** The slot (UTC minute) of a time. */
export function slotOf(at: Date | number): string {
  return new Date(typeof at === 'number' ? at : at.getTime()).toISOString().slice(0, 16);
}
/** When a slot begins. */
export function slotStart(slot: string): number {
  return Date.parse(`${slot}:00.000Z`);
}
export function nextSlot(slot: string): string {
  return slotOf(slotStart(slot) + MINUTE_MS);
}

const slotList = (slot: string) => `s:${slot}`;
const runList = (run: string) => `r:${run}`;
const campaignList = (campaignId: string) => `c:${campaignId}`;
const itemId = (list: string, n: number) => `${list}|${n}`;
const hintId = (list: string) => `${list}|next`;
const hourId = (slot: string) => `h:${slot.slice(0, 13)}`;
const dayId = (slot: string) => `d:${slot.slice(0, 10)}`;
/** Ten minutes (`YYYY-MM-DDTHH:M`). */
const blockId = (slot: string) => `t:${slot.slice(0, 15)}`;
const exists = async (id: string) => (await OpenTaskDueModel.exists({ _id: id })) !== null;

/**
 * The first slot in [from, to] with anything filed, or null: a day, hour or ten minutes with
 * nothing filed costs one `_id` read; a filed ten minutes' minutes are read (their hints) in parallel.
 */
export async function firstFiledSlot(from: string, to: string): Promise<string | null> {
  let slot = from;
  while (slot <= to) {
    if (!(await exists(dayId(slot)))) {
      slot = slotOf(Date.parse(`${slot.slice(0, 10)}T00:00:00.000Z`) + 24 * 3600_000);
      continue;
    }
    if (!(await exists(hourId(slot)))) {
      slot = slotOf(Date.parse(`${slot.slice(0, 13)}:00:00.000Z`) + 3600_000);
      continue;
    }
    if (!(await exists(blockId(slot)))) {
      slot = slotOf(Date.parse(`${slot.slice(0, 15)}0:00.000Z`) + 600_000);
      continue;
    }
    const minutes: string[] = [];
    for (let s = slot; s <= to && s.slice(0, 15) === slot.slice(0, 15); s = nextSlot(s)) minutes.push(s);
    const filed = await mapLimit(minutes, 8, (s) => exists(hintId(slotList(s))));
    const first = filed.indexOf(true);
    if (first >= 0) return minutes[first]!;
    slot = nextSlot(minutes.at(-1)!);
  }
  return null;
}

type ItemDoc = { _id: string; run?: string; at?: Date; runs?: string[]; ats?: Date[]; ids?: string[]; rows?: string };
type Item = { list: string; doc: Omit<ItemDoc, '_id'> };

// The process's writer. Every filing and listing of this process goes through one queue: one
// write at a time, carrying every item queued meanwhile (a worker's concurrent waves share
// it), so this process never writes item n+1 of a list before item n exists. `next` carries
// each list's next free number as this process knows it (n-1 exists), so a wave reads no
// hint: a slot's hint is read once per process (and again for a slot that ends within
// NEAR_MS, which a notifier may be dropping); a run's list starts at 0. A number another
// process took meanwhile (the upsert finds its item) is taken again above it and its hint.
const next = new Map<string, number>();
const marked = new Set<string>();
let queue: { items: Item[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
let draining = false;
/** A slot ending sooner than this is filed after a fresh read of its hint (see the header). */
const NEAR_MS = 30_000;
const CACHE_MAX = 50_000;

const cacheKey = (id: string) => `${OpenTaskDueModel.db.name}/${id}`;
const isSlotList = (list: string) => list.startsWith('s:');

async function readHint(list: string): Promise<number> {
  return (await OpenTaskDueModel.findById(hintId(list), { next: 1 }).lean<{ next?: number }>())?.next ?? 0;
}

/** Writes these items (each list's in order) through the process's queue. */
function append(items: Item[]): Promise<void> {
  if (items.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    queue.push({ items, resolve, reject });
    if (!draining) void drain();
  });
}

async function drain(): Promise<void> {
  draining = true;
  while (queue.length > 0) {
    const jobs = queue;
    queue = [];
    try {
      await write(jobs.flatMap((job) => job.items));
      for (const job of jobs) job.resolve();
    } catch (error) {
      for (const job of jobs) job.reject(error);
    }
  }
  draining = false;
}

/**
 * Ordered upserts in commands of at most MAX_UPDATES_PER_COMMAND statements (one command for a
 * wave's): `stopped` is the index of the first statement not applied (a concurrent upsert of
 * the same `_id`; the length when all were), `written` the statements that inserted (the
 * statements' `_id`s are distinct).
 */
async function orderedUpserts(
  ops: { updateOne: { filter: { _id: string } } }[],
): Promise<{ stopped: number; written: Set<number> }> {
  const written = new Set<number>();
  for (let start = 0; start < ops.length; start += MAX_UPDATES_PER_COMMAND) {
    const chunk = ops.slice(start, start + MAX_UPDATES_PER_COMMAND);
    let upserted: Record<number, unknown>;
    let stopped = -1;
    try {
      upserted = (await OpenTaskDueModel.collection.bulkWrite(chunk as never[], { ordered: true })).upsertedIds;
    } catch (error) {
      const raw = (error as { writeErrors?: unknown }).writeErrors;
      const first = (Array.isArray(raw) ? raw[0] : raw) as { index?: number; code?: number } | undefined;
      if (first?.code !== 11000 || first.index === undefined) throw error;
      stopped = first.index;
      upserted = (error as { result?: { upsertedIds?: Record<number, unknown> } }).result?.upsertedIds ?? {};
    }
    // By `_id`, not by index: FerretDB 1.24 numbers the upserts among themselves, not by
    // statement (seen: statements 1 and 2 upserted, reported as 0 and 1).
    const ids = new Set(Object.values(upserted).map(String));
    for (const [i, op] of chunk.entries()) if (ids.has(op.updateOne.filter._id)) written.add(start + i);
    if (stopped >= 0) return { stopped: start + stopped, written };
  }
  return { stopped: ops.length, written };
}

/**
 * One write (an ordered `update` of upserts, so one command): the items with `$setOnInsert`
 * at their numbers, run lists first; then, for slots, the ten-minute, hour and day markers
 * (once per process) and the slot's hint (`$max`). An item whose number was taken (its
 * upsert matched, or met a concurrent one) is written again above it; an error past that
 * forgets the lists' numbers (read again next time).
 */
async function write(items: Item[]): Promise<void> {
  const lists = [...new Set(items.map((item) => item.list))];
  if (next.size > CACHE_MAX) next.clear();
  if (marked.size > CACHE_MAX) marked.clear();
  const now = Date.now();
  const unknown = lists.filter(
    (list) => isSlotList(list) && (!next.has(cacheKey(list)) || slotStart(list.slice(2)) + MINUTE_MS - now < NEAR_MS),
  );
  const hints = await mapLimit(unknown, 8, readHint);
  for (const [i, list] of unknown.entries()) next.set(cacheKey(list), hints[i]!);
  const tops = new Map<string, number>();
  let pending = [...items].sort((a, b) => Number(isSlotList(a.list)) - Number(isSlotList(b.list)));
  try {
    for (let round = 0; ; round++) {
      if (round >= 64) throw new Error('opentaskdue: no free item number after 64 rounds');
      const placed = pending.map((item) => {
        const key = cacheKey(item.list);
        const n = next.get(key) ?? 0;
        next.set(key, n + 1);
        // Slots always get their hint; a run's list only past its first item (a reader finds
        // item 0 without one; a later one stays found should the items below it go).
        if (isSlotList(item.list) || n > 0 || tops.has(item.list))
          tops.set(item.list, Math.max(tops.get(item.list) ?? 0, n + 1));
        return { ...item, n };
      });
      const marks = [...tops.keys()].filter(isSlotList).flatMap((list) => {
        const slot = list.slice(2);
        return [dayId(slot), hourId(slot), blockId(slot)].filter((id) => !marked.has(cacheKey(id)));
      });
      const ops = [
        ...placed.map((p) => ({
          updateOne: { filter: { _id: itemId(p.list, p.n) }, update: { $setOnInsert: p.doc }, upsert: true },
        })),
        ...[...new Set(marks)].map((id) => ({
          updateOne: { filter: { _id: id }, update: { $max: { next: 1 } }, upsert: true },
        })),
        ...[...tops].map(([list, top]) => ({
          updateOne: { filter: { _id: hintId(list) }, update: { $max: { next: top } }, upsert: true },
        })),
      ];
      const { stopped, written } = await orderedUpserts(ops);
      // Per list: the highest number known to exist (ours written, or taken by another) and
      // whether another writer took one of ours.
      const known = new Map<string, number>();
      const taken = new Set<string>();
      const again: Item[] = [];
      placed.forEach((p, i) => {
        if (i < stopped && written.has(i)) {
          known.set(p.list, Math.max(known.get(p.list) ?? -1, p.n));
          return;
        }
        again.push({ list: p.list, doc: p.doc });
        if (i <= stopped) {
          known.set(p.list, Math.max(known.get(p.list) ?? -1, p.n));
          taken.add(p.list);
        }
      });
      for (let i = placed.length; i < Math.min(stopped, ops.length); i++) {
        const id = ops[i]!.updateOne.filter._id;
        if (!id.endsWith('|next')) marked.add(cacheKey(id));
      }
      if (again.length === 0 && stopped === ops.length) return;
      // Items not tried (after the stop) keep their lists' lowest untried number; a list
      // another writer wrote into goes on above that writer's item and the list's hint.
      const untried = new Map<string, number>();
      placed.forEach((p, i) => {
        if (i > stopped && !untried.has(p.list)) untried.set(p.list, p.n);
      });
      const retaken = [...taken];
      const fresh = await mapLimit(retaken, 8, readHint);
      for (const list of new Set(again.map((item) => item.list))) {
        const key = cacheKey(list);
        const i = retaken.indexOf(list);
        if (i >= 0) next.set(key, Math.max((known.get(list) ?? -1) + 1, fresh[i]!));
        else next.set(key, untried.get(list) ?? next.get(key)!);
      }
      pending = again;
    }
  } catch (error) {
    for (const list of lists) next.delete(cacheKey(list));
    throw error;
  }
}

/** A list's items from number `from` on: the hint, the items below it, then on until one is missing. */
async function readList(list: string, from = 0): Promise<{ n: number; doc: ItemDoc }[]> {
  return (await readListAndHint(list, from)).items;
}

/** `readList`, and whether the list has a hint. */
async function readListAndHint(
  list: string,
  from = 0,
): Promise<{ hinted: boolean; items: { n: number; doc: ItemDoc }[] }> {
  const hinted = await OpenTaskDueModel.findById(hintId(list), { next: 1 }).lean<{ next?: number }>();
  const hint = hinted?.next ?? 0;
  const out: { n: number; doc: ItemDoc }[] = [];
  const below = Array.from({ length: Math.max(0, hint - from) }, (_, i) => from + i);
  const found = await mapLimit(below, 8, (n) => OpenTaskDueModel.findById(itemId(list, n)).lean<ItemDoc>());
  found.forEach((doc, i) => {
    if (doc) out.push({ n: below[i]!, doc });
  });
  for (let n = Math.max(hint, from); ; n++) {
    const doc = await OpenTaskDueModel.findById(itemId(list, n)).lean<ItemDoc>();
    if (!doc) break;
    out.push({ n, doc });
  }
  return { hinted: hinted !== null, items: out };
}

/** One slot item per slot: its runs, each with its earliest time. */
function slotItemsOf(runs: { run: string; at: Date }[]): Item[] {
  const bySlot = new Map<string, Map<string, number>>();
  for (const { run, at } of runs) {
    const slot = slotOf(at);
    const inSlot = bySlot.get(slot) ?? new Map<string, number>();
    inSlot.set(run, Math.min(inSlot.get(run) ?? Number.POSITIVE_INFINITY, at.getTime()));
    bySlot.set(slot, inSlot);
  }
  return [...bySlot].map(([slot, inSlot]) => ({
    list: slotList(slot),
    doc: { runs: [...inSlot.keys()], ats: [...inSlot.values()].map((at) => new Date(at)) },
  }));
}

/** One run list item per run: its entry ids. */
function runItemsOf(entries: { run: string; id: string }[]): Item[] {
  const byRun = new Map<string, string[]>();
  for (const { run, id } of entries) {
    const ids = byRun.get(run) ?? [];
    ids.push(id);
    byRun.set(run, ids);
  }
  return [...byRun].map(([run, ids]) => ({ list: runList(run), doc: { ids } }));
}

/** An entry as its campaign's list holds it: its id, its officer run, its county (null: a WeCom group, not counted). */
export interface CampaignRow {
  id: string;
  run: string;
  county: string | null;
}

/** One campaign list item per campaign: its entries' rows. */
function campaignItemsOf(entries: (CampaignRow & { campaign?: string | null })[]): Item[] {
  const byCampaign = new Map<string, CampaignRow[]>();
  for (const { id, run, county, campaign } of entries) {
    if (campaign) byCampaign.set(campaign, [...(byCampaign.get(campaign) ?? []), { id, run, county }]);
  }
  return [...byCampaign].map(([campaign, rows]) => ({
    list: campaignList(campaign),
    doc: { rows: JSON.stringify(rows.map((row) => [row.id, row.run, row.county])) },
  }));
}

/**
 * Files officer runs as due at `at` (one item per slot, naming each run once with its
 * earliest time). Call before writing the entries' `dueAt`.
 */
export async function fileRuns(runs: { run: string; at: Date }[]): Promise<void> {
  await append(slotItemsOf(runs));
}

/** Lists entries on their officer runs (one item per run). Call before inserting the entries. */
export async function listRunEntries(entries: { run: string; id: string }[]): Promise<void> {
  await append(runItemsOf(entries));
}

/**
 * New entries (a wave's tasks): listed on their runs and their campaigns, and their runs filed
 * at the entries' first looks, in one write (`listRunEntries` and `fileRuns` at once). Call
 * before inserting them.
 */
export async function listAndFile(
  entries: { run: string; id: string; at: Date; campaign?: string | null; county?: string | null }[],
): Promise<void> {
  await append([
    ...runItemsOf(entries),
    ...campaignItemsOf(entries.map((e) => ({ ...e, county: e.county ?? null }))),
    ...slotItemsOf(entries),
  ]);
}

/** Every entry ever listed on a campaign (entries since removed included): its items by `_id`. */
export async function campaignRows(campaignId: string): Promise<CampaignRow[]> {
  const items = await readList(campaignList(campaignId));
  const rows = new Map<string, CampaignRow>();
  for (const item of items) {
    for (const [id, run, county] of JSON.parse(item.doc.rows ?? '[]') as [string, string, string | null][])
      rows.set(id, { id, run, county });
  }
  return [...rows.values()];
}

/**
 * For a watch list written before the campaign lists (once, at start): every entry put on its
 * campaign's list. Idempotent (a repeat lists an entry twice, which readers read once).
 */
export async function buildCampaignLists(
  entries: () => Promise<(CampaignRow & { campaign: string | null })[]>,
): Promise<void> {
  await backfillOnce('opentask-campaign-lists', async () => {
    const all = await entries();
    for (let i = 0; i < all.length; i += 500) await append(campaignItemsOf(all.slice(i, i + 500)));
  });
}

/** Every entry id ever listed on an officer run (entries since removed included). */
export async function runEntryIds(run: string): Promise<string[]> {
  const items = await readList(runList(run));
  return [...new Set(items.flatMap((item) => item.doc.ids ?? []))];
}

/**
 * A slot's items from number `from` on: the runs due, and when (at the earliest); an item
 * names one run (written before the tenth session) or several (`runs`, `ats`).
 */
export async function slotItems(slot: string, from = 0): Promise<{ n: number; run: string; at: Date }[]> {
  const items = await readList(slotList(slot), from);
  return items.flatMap((item) => {
    if (item.doc.runs && item.doc.ats)
      return item.doc.runs.map((run, i) => ({ n: item.n, run, at: new Date(item.doc.ats![i]!) }));
    return item.doc.run && item.doc.at ? [{ n: item.n, run: item.doc.run, at: item.doc.at }] : [];
  });
}

/** Deletes a slot the cursor has passed: its items `0..count-1` and its hint. */
export async function dropSlot(slot: string, count: number): Promise<void> {
  next.delete(cacheKey(slotList(slot)));
  const ids = [...Array.from({ length: count }, (_, n) => itemId(slotList(slot), n)), hintId(slotList(slot))];
  for (let i = 0; i < ids.length; i += MAX_UPDATES_PER_COMMAND) {
    await OpenTaskDueModel.bulkWrite(
      ids.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({ deleteOne: { filter: { _id: id } } })),
      { ordered: false },
    );
  }
}

export interface DueCursor {
  slot: string;
  index: number;
}

export async function readCursor(): Promise<DueCursor | null> {
  const doc = await OpenTaskDueModel.findById(CURSOR, { slot: 1, index: 1 }).lean<{ slot?: string; index?: number }>();
  return doc?.slot ? { slot: doc.slot, index: doc.index ?? 0 } : null;
}

export async function writeCursor(cursor: DueCursor): Promise<void> {
  await OpenTaskDueModel.updateOne({ _id: CURSOR }, { $set: cursor }, { upsert: true });
}

/**
 * For a watch list written before the due keys (once, at start): every entry listed on its
 * run and its run filed at the entry's `dueAt`; the cursor starts at the earliest. Idempotent
 * (a repeat files items again, which the notifier reads as runs not due).
 */
export async function buildDueSlots(
  entries: () => Promise<{ _id: string; run: string; dueAt: Date }[]>,
  now: Date,
): Promise<void> {
  await backfillOnce('opentask-due-slots', async () => {
    const all = await entries();
    for (let i = 0; i < all.length; i += 500) {
      const part = all.slice(i, i + 500);
      await listRunEntries(part.map((e) => ({ run: e.run, id: e._id })));
      await fileRuns(part.map((e) => ({ run: e.run, at: e.dueAt })));
    }
    const first = all.reduce((min, e) => Math.min(min, e.dueAt.getTime()), now.getTime());
    const cursor = await readCursor();
    if (!cursor || slotStart(cursor.slot) > first) await writeCursor({ slot: slotOf(first), index: 0 });
  });
}

/** A list as retention read it: its items (number and content) and its hint's value (null: none). */
export interface ListRead {
  items: { n: number; doc: ItemDoc }[];
  hint: number | null;
}

/**
 * Retention (engine/retention.ts): an officer run's list as it stands, its items' numbers (the
 * hint's items and on until one is missing) and every entry id on them, and its hint.
 */
export async function runListOf(run: string): Promise<{ numbers: number[]; ids: string[]; read: ListRead }> {
  const read = await readListAndHintValue(runList(run));
  return {
    numbers: read.items.map((item) => item.n),
    ids: [...new Set(read.items.flatMap((item) => item.doc.ids ?? []))],
    read,
  };
}

/** Retention: a campaign's list as it stands, and the entry ids on it (newest item first). */
export async function campaignListOf(campaignId: string): Promise<{ ids: string[]; read: ListRead }> {
  const read = await readListAndHintValue(campaignList(campaignId));
  const ids = [...read.items]
    .reverse()
    .flatMap((item) => (JSON.parse(item.doc.rows ?? '[]') as [string][]).map(([id]) => id));
  return { ids: [...new Set(ids)], read };
}

async function readListAndHintValue(list: string): Promise<ListRead> {
  const hinted = await OpenTaskDueModel.findById(hintId(list), { next: 1 }).lean<{ next?: number }>();
  const hint = hinted?.next ?? 0;
  const items: { n: number; doc: ItemDoc }[] = [];
  const below = Array.from({ length: hint }, (_, i) => i);
  const found = await mapLimit(below, 8, (n) => OpenTaskDueModel.findById(itemId(list, n)).lean<ItemDoc>());
  found.forEach((doc, i) => {
    if (doc) items.push({ n: below[i]!, doc });
  });
  for (let n = hint; ; n++) {
    const doc = await OpenTaskDueModel.findById(itemId(list, n)).lean<ItemDoc>();
    if (!doc) break;
    items.push({ n, doc });
  }
  return { items, hint: hinted ? hint : null };
}

/**
 * Retention: deletes a list (an officer run's, `dropRunList`, or a campaign's, `dropCampaignList`)
 * read as `read`, once none of its entries is on the watch list and its run (every run of its
 * campaign) was not open after the read (the caller checks both, in that order). Order of writes:
 * 1. the hint, only if it still holds the value read (`{_id, next}`): a listing since the read
 *    (item n with the hint n+1, n > 0) moved it, and the list is kept whole (false returned);
 *    a writer whose hint comes after this delete writes it again ($max upsert);
 * 2. the items read, from the highest number down (ordered), each only if it still holds what
 *    was read (`{_id, ids}` / `{_id, rows}`): an item a writer put into a number freed here (a
 *    process carrying an older next number) is not one of them and stays.
 * A kill after 1 leaves the list's lowest items without a hint, contiguous from 0 (writers leave
 * no holes: due-slots' header), which a reader and the next pass read whole from item 0. A
 * writer after 1 (the run re-opened) lands above the items read, or in a number freed by 2,
 * always with its hint when n > 0 (item 0 needs none): readers find it. Deleting the hint last
 * (the tenth session's order) lost such an item: its hint was deleted after it, item 0 gone.
 * Returns whether the list was deleted.
 */
async function dropList(list: string, read: ListRead, field: 'ids' | 'rows'): Promise<boolean> {
  if (read.hint !== null) {
    const gone = await OpenTaskDueModel.deleteOne({ _id: hintId(list), next: read.hint });
    if (gone.deletedCount === 0) return false;
  }
  const items = [...read.items].sort((a, b) => b.n - a.n);
  for (let i = 0; i < items.length; i += MAX_UPDATES_PER_COMMAND) {
    await OpenTaskDueModel.bulkWrite(
      items.slice(i, i + MAX_UPDATES_PER_COMMAND).map((item) => ({
        deleteOne: { filter: { _id: itemId(list, item.n), [field]: item.doc[field] } },
      })),
      { ordered: true },
    );
  }
  return true;
}

/** Retention: an officer run's list, read as `read` (see `dropList`). */
export function dropRunList(run: string, read: ListRead): Promise<boolean> {
  return dropList(runList(run), read, 'ids');
}

/**
 * Retention: a campaign's list, read as `read`, once every entry it names is gone and no run of
 * the campaign is open (see `dropList`). A stop or resume afterwards reads an empty list and
 * reaches nothing, which is exact: none of the campaign's entries is on the watch list (a stop's
 * withdrawal of the tasks themselves goes by the campaign's task history, history.ts). A later
 * run of the campaign lists its entries again from item 0 (or above, from a process carrying the
 * list's number, with the hint).
 */
export function dropCampaignList(campaignId: string, read: ListRead): Promise<boolean> {
  return dropList(campaignList(campaignId), read, 'rows');
}

/**
 * Retention: the walk markers of a UTC day that no walk can start in again (the caller checks
 * that the cursor and the notifier's due marker both lie after it): its ten minutes and hours,
 * then the day's own marker last, so that a pass killed in between finds the day marker and
 * deletes the rest again. A writer filing behind the cursor lowers the due marker and writes
 * the markers again after its item. Returns the markers deleted (none when nothing was filed).
 */
export async function dropDayMarkers(day: string): Promise<number> {
  if (!(await exists(dayId(`${day}T00:00`)))) return 0;
  const hours = Array.from({ length: 24 }, (_, h) => `${day}T${String(h).padStart(2, '0')}`);
  const ids = [
    ...hours.flatMap((hour) => Array.from({ length: 6 }, (_, m) => `t:${hour}:${m}`)),
    ...hours.map((hour) => `h:${hour}`),
  ];
  let deleted = 0;
  for (const chunk of [
    ...Array.from({ length: Math.ceil(ids.length / MAX_UPDATES_PER_COMMAND) }, (_, i) =>
      ids.slice(i * MAX_UPDATES_PER_COMMAND, (i + 1) * MAX_UPDATES_PER_COMMAND),
    ),
    [dayId(`${day}T00:00`)],
  ]) {
    const result = await OpenTaskDueModel.bulkWrite(
      chunk.map((id) => ({ deleteOne: { filter: { _id: id } } })),
      { ordered: false },
    );
    deleted += result.deletedCount;
  }
  return deleted;
}

// Due keys of the open-task watch list (issue 25): the officer notifier reads what is due by
// `_id`, never the whole list (about 36,000 entries at 50,000 groups; on FerretDB 1.24 any
// filter but a single `_id` equality reads the whole collection).
//
// Collection `opentaskdue`, every document read and written by `_id`; a list is appended by
// unique inserts (`<list>|<n>`, like notifications/step-list.ts), never by a read-modify-write
// of a shared document (FerretDB does not make two updates of one document atomic):
//   s:<minute>|<n>    a slot item: the officer run `run` has an entry due at `at`, inside that
//                     UTC minute (`YYYY-MM-DDTHH:MM`)
//   r:<run>|<n>       a run list item: entry ids (`ids`) of that officer run
//   <list>|next       a list's hint: its items 0..next-1 are taken (`$max`, written after the
//                     insert). A reader reads the hint, then the items below it and beyond it
//                     until the first missing one, so a hole below the hint is harmless.
//   t:<ten minutes>, h:<hour>, d:<day>  something was filed in that UTC ten minutes / hour /
//                     day (written with the slot's hint): a walk over time with nothing filed
//                     reads one marker per empty day, hour or ten minutes
//   cursor            where the notifier stands: every item of a slot before `slot`, and of
//                     `slot` before `index`, has been looked at
//
// Contract (the order of writes, so that a kill -9 anywhere loses no due look):
// - whoever sets an entry's `dueAt` to T (the watch list's writers, the notifier) first files
//   the entry's run in slot(T) (`fileRuns`), then writes the entry, then lowers the notifier's
//   due marker (watch.ts `lowerDue`). A writer killed after the filing leaves an item whose run
//   is not due then: the notifier reads its entries, finds none due and passes on (harmless).
// - an entry is listed on its run (`listRunEntries`) before it is inserted.
// - the notifier moves its cursor past an item only after it has handled the item's run (its
//   steps claimed and its entries' next looks filed and written): killed before, the item is
//   read again and the run looked at again; each step is a unique insert, so nothing is sent
//   twice (notifier.ts).
// - a slot the cursor passed is deleted. A writer whose filing lands in a slot behind the
//   cursor (its clock behind, or delayed) has lowered the marker to its time, and a pass starts
//   from the marker's slot when it lies behind the cursor.
// - existing installs: the list is filed once at start (`buildDueSlots`).
// - retention (engine/retention.ts) deletes a settled run's run lists once none of their entries
//   is on the watch list (`dropRunList`: items first, the hint last), and the walk markers of a
//   day the cursor and the due marker have both passed (`dropDayMarkers`: the day's last).
import mongoose from 'mongoose';
import { backfillOnce } from '../../db/backfills.js';
import { MAX_UPDATES_PER_COMMAND } from '../../db/bulk.js';
import { mapLimit } from '../../lib/concurrency.js';
import { isDuplicateKey } from '../../lib/errors.js';

const dueSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    run: { type: String, default: undefined },
    at: { type: Date, default: undefined },
    ids: { type: [String], default: undefined },
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

type ItemDoc = { _id: string; run?: string; at?: Date; ids?: string[] };

/**
 * Appends documents to lists (each list's items in one insert after one hint read); an item
 * whose number another writer took meanwhile is appended again one by one. Then the hints.
 */
async function append(items: { list: string; doc: Omit<ItemDoc, '_id'> }[]): Promise<void> {
  if (items.length === 0) return;
  const byList = new Map<string, Omit<ItemDoc, '_id'>[]>();
  for (const item of items) {
    const list = byList.get(item.list) ?? [];
    list.push(item.doc);
    byList.set(item.list, list);
  }
  const lists = [...byList.keys()];
  const hints = await mapLimit(lists, 8, (list) =>
    OpenTaskDueModel.findById(hintId(list), { next: 1 }).lean<{ next?: number }>(),
  );
  const docs: ItemDoc[] = [];
  const top = new Map<string, number>();
  lists.forEach((list, i) => {
    let n = hints[i]?.next ?? 0;
    for (const doc of byList.get(list)!) docs.push({ _id: itemId(list, n++), ...doc });
    top.set(list, n);
  });
  const lost: { list: string; doc: ItemDoc }[] = [];
  await OpenTaskDueModel.insertMany(docs, { ordered: false }).catch((error: unknown) => {
    const writeErrors = (
      error as { writeErrors?: { index?: number; err?: { index?: number; code?: number }; code?: number }[] }
    ).writeErrors;
    if (!Array.isArray(writeErrors) || writeErrors.some((e) => (e.code ?? e.err?.code) !== 11000)) {
      if (!isDuplicateKey(error)) throw error;
    }
    for (const e of writeErrors ?? [{ index: 0 }]) {
      const doc = docs[e.index ?? e.err?.index ?? 0]!;
      lost.push({ list: doc._id.slice(0, doc._id.lastIndexOf('|')), doc });
    }
  });
  for (const { list, doc } of lost) {
    // Taken by another writer: the next free number (its hint may lag: probe upwards).
    let n = top.get(list)!;
    for (;;) {
      try {
        await OpenTaskDueModel.create({ ...doc, _id: itemId(list, n) });
        break;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        n++;
      }
    }
    top.set(list, n + 1);
  }
  // The hints, and for slots the hour and day markers (`$max` of a constant: no lost update matters).
  const writes = lists.flatMap((list) => {
    const hint = {
      updateOne: { filter: { _id: hintId(list) }, update: { $max: { next: top.get(list)! } }, upsert: true },
    };
    if (!list.startsWith('s:')) return [hint];
    const slot = list.slice(2);
    const mark = (id: string) => ({ updateOne: { filter: { _id: id }, update: { $max: { next: 1 } }, upsert: true } });
    return [hint, mark(blockId(slot)), mark(hourId(slot)), mark(dayId(slot))];
  });
  const unique = [...new Map(writes.map((w) => [w.updateOne.filter._id, w])).values()];
  for (let i = 0; i < unique.length; i += MAX_UPDATES_PER_COMMAND) {
    await OpenTaskDueModel.bulkWrite(unique.slice(i, i + MAX_UPDATES_PER_COMMAND), { ordered: false }).catch(
      (error: unknown) => {
        // Two writers upserting one marker at once: the other's insert stands.
        if (!isDuplicateKey(error) && !(error as { writeErrors?: unknown[] }).writeErrors) throw error;
      },
    );
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

/**
 * Files officer runs as due at `at` (each in the slot of its time; one item per run and slot,
 * with the earliest time). Call before writing the entries' `dueAt`.
 */
export async function fileRuns(runs: { run: string; at: Date }[]): Promise<void> {
  const earliest = new Map<string, { run: string; slot: string; at: number }>();
  for (const { run, at } of runs) {
    const slot = slotOf(at);
    const key = `${slot}\u0000${run}`;
    const seen = earliest.get(key);
    if (!seen || at.getTime() < seen.at) earliest.set(key, { run, slot, at: at.getTime() });
  }
  await append(
    [...earliest.values()].map((e) => ({ list: slotList(e.slot), doc: { run: e.run, at: new Date(e.at) } })),
  );
}

/** Lists entries on their officer runs (one item per run). Call before inserting the entries. */
export async function listRunEntries(entries: { run: string; id: string }[]): Promise<void> {
  const byRun = new Map<string, string[]>();
  for (const { run, id } of entries) {
    const ids = byRun.get(run) ?? [];
    ids.push(id);
    byRun.set(run, ids);
  }
  await append([...byRun].map(([run, ids]) => ({ list: runList(run), doc: { ids } })));
}

/** Every entry id ever listed on an officer run (entries since removed included). */
export async function runEntryIds(run: string): Promise<string[]> {
  const items = await readList(runList(run));
  return [...new Set(items.flatMap((item) => item.doc.ids ?? []))];
}

/** A slot's items from number `from` on: the run due, and when (at the earliest). */
export async function slotItems(slot: string, from = 0): Promise<{ n: number; run: string; at: Date }[]> {
  const items = await readList(slotList(slot), from);
  return items.flatMap((item) =>
    item.doc.run && item.doc.at ? [{ n: item.n, run: item.doc.run, at: item.doc.at }] : [],
  );
}

/** Deletes a slot the cursor has passed: its items `0..count-1` and its hint. */
export async function dropSlot(slot: string, count: number): Promise<void> {
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

/**
 * Retention (engine/retention.ts): an officer run's list as it stands, its items' numbers (the
 * hint's items and on until one is missing) and every entry id on them, and whether it has a hint.
 */
export async function runListOf(run: string): Promise<{ numbers: number[]; ids: string[]; hint: boolean }> {
  const { hinted, items } = await readListAndHint(runList(run));
  return {
    numbers: items.map((item) => item.n),
    ids: [...new Set(items.flatMap((item) => item.doc.ids ?? []))],
    hint: hinted,
  };
}

/**
 * Retention: deletes an officer run's list once none of its entries is on the watch list: its
 * items first, its hint last, so that a pass killed in between finds the hint and reads the
 * items that are left (below it by number, beyond it until one is missing) and deletes them.
 * A reader meanwhile finds fewer items naming entries that are gone anyway. Returns the
 * documents deleted.
 */
export async function dropRunList(run: string, numbers: number[]): Promise<number> {
  const list = runList(run);
  let deleted = 0;
  for (const ids of [numbers.map((n) => itemId(list, n)), [hintId(list)]]) {
    for (let i = 0; i < ids.length; i += MAX_UPDATES_PER_COMMAND) {
      const result = await OpenTaskDueModel.bulkWrite(
        ids.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({ deleteOne: { filter: { _id: id } } })),
        { ordered: false },
      );
      deleted += result.deletedCount;
    }
  }
  return deleted;
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

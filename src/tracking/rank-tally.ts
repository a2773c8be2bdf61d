// The rankings' tallies (issue 25): what `RankingService` reads by `_id` instead of every
// officer task of a period (a scan of the whole tasks collection on FerretDB, >30 s a month in
// at 50,000 groups). Collection `ranktally`, read by `_id` only:
// - `c|<day>|<county>`: every task created that local day in that county, one row per task
//   (`rows`, JSON of taskId → Row) with what a ranking needs; the ancestors (`up`: root,
//   province, city) the county's parts are filed under;
// - `m|<month>|<county>`: the county's cells of each day of the month (field `d_<day index>`,
//   per township × officer: tasks, due, confirmed, open and the confirmation delays in whole
//   seconds, packed by rank-delays.ts: 2–3 bytes a confirmation), recomputed from the county-day's rows: a county's or a township's
//   ranking over a period reads one document per month;
// - blocks above, for the root, province and city: the cells of 2^k days (k = 0…5) aligned on
//   the month's first day, one field `p_<county>` per county (`a|<day>|<code>` for one day,
//   `b|<month>|<k>|<first day index>|<code>` for more; k = 5 is the whole month), so any
//   period is covered exactly by a few blocks (`blocksOf`: a month 1, 30 days at most 8). A
//   block of more than one day holds only the days up to `_closed.through` (yesterday as of the
//   last fold): today's tasks, the busy ones, rewrite only the one-day blocks above them, not
//   the month's (a province's month block is ~250 KB at 3,000 groups); a reader reads the
//   blocks up to `through` and the one-day blocks after it up to `_closed.last`, the latest day
//   with tasks;
// - `_counties`: every county with tasks and its ancestors (which month documents a day's
//   close reads); `_built_2`: the one-time build of this layout was made (an older build,
//   `_built`, lacks the month and block documents and is made again).
//
// Contract. Only the holder of the roll-up lease writes here (`fold`, run by the roll-up
// refresher with each refresh, every 2 s), so no update races another (FerretDB's updates are
// not atomic). Writers only insert: a make's record on the task history's made list
// (channels/manual/history.ts `m:<n>`, before the tasks' insert) and a marker
// (channels/manual/rank-marks.ts) before each confirmation and withdrawal, naming the write. A
// fold first closes the days ended since the last one (each day's blocks, then
// `_closed.through`: a reader that read the old `through` uses no block holding that day).
// Then it reads the made list from its cursor (`_made`: records 1..n done) and every pending
// marker, reads their tasks by `_id` as they are now, sets their rows (a value from the task,
// never an increment: folding again is harmless), moves `_closed.last` on (`$max`), writes
// each touched county-day document, then its county-month's day cells, then the blocks above
// holding a touched day (each recomputed from the county-month's days: a value again). Only
// then a made record is done (every task it names found, or, past MARK_SLACK_MS, its missing
// ones handed to a `make` marker, inserted first) and the cursor passes done records, in order;
// and only then the markers are deleted whose write can no longer change what it read: a
// make's once its tasks exist (and older than MARK_SLACK_MS; one whose tasks never came after
// MISSING_TASK_MS), a confirmation's once its tasks are confirmed, a withdrawal's once they
// are confirmed or withdrawn (one partly so is replaced by a marker of the rest). So an insert
// or update landing any time after its record or marker, its writer killed right after, is
// folded; no 60-s limit decides it (only a make's ids still missing after MISSING_TASK_MS, an
// hour, are given up: a failed insert). A kill -9 of the fold at any point leaves the markers,
// the cursor (and `through`) unmoved, and the next fold sets the same values again. The one-time
// build (`build`, under the same lease, before the first fold) replaces every document from
// one scan of the tasks and then writes `_built_2`; killed, it runs again from scratch. Tasks
// written during the build have made records after the cursor (or markers), folded right
// after it.
//
// Delays written before rank-delays.ts are seconds → count objects; readers take both forms.
// The one-time backfill (`packDocuments`, src/db/backfills.ts `ranktally-packed-delays`) runs
// in the first fold of a lease holder, under the lease, before anything else is folded: each
// month, day and block document's fields holding an object rewritten packed (one `$set` a
// document, the same cells), then the backfill's mark. Killed midway, documents of both forms
// answer the same and the next holder runs it again; run again, it writes nothing.
import mongoose from 'mongoose';
import { madeRecord } from '../channels/manual/history.js';
import { ManualTaskModel } from '../channels/manual/model.js';
import {
  MARK_SLACK_MS,
  type MarkKind,
  MISSING_TASK_MS,
  RankMarkModel,
  rankingsChanged,
  settled,
} from '../channels/manual/rank-marks.js';
import { backfillOnce } from '../db/backfills.js';
import { mapLimit } from '../lib/concurrency.js';
import { normalisePhone } from '../lib/phone.js';
import { type Delays, mergeDelays, packDelays } from './rank-delays.js';

const tallySchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    rows: { type: String, default: '{}' },
    up: { type: [String], default: undefined },
  },
  { versionKey: false, strict: false },
);
export const RankTallyModel = mongoose.model('RankTally', tallySchema, 'ranktally');

/** The one-time build was made (with the month and block documents: older builds lack them). */
export const BUILT = '_built_2';
/** The backfill that packs the delays of documents written before rank-delays.ts (src/db/backfills.ts). */
export const PACKED_BACKFILL = 'ranktally-packed-delays';
/** The lease was lost during a step that must not be marked done. */
class LeaseLost extends Error {}
/** The made list's cursor (`n`: records 1..n folded; channels/manual/history.ts). */
const MADE_CURSOR = '_made';
/** Made-list records held (read and not yet passed by the cursor) per fold pass. */
const RECORDS_PER_PASS = 2_000;
/** Markers folded per chunk of a pass (a pass after a province dispatch takes several). */
const MARKS_PER_PASS = 2_000;

/** The last local day the blocks of more than one day hold, and the latest day with tasks. */
interface Closed {
  through: string;
  last: string;
}
const CLOSED = '_closed';
const COUNTIES = '_counties';

interface Mark {
  _id: string;
  taskIds: string[];
  at: Date;
  kind?: MarkKind;
}

/** [path from the county down, officer key, name, phone, createdAt ms, confirmedAt ms or 0, withdrawn before confirmation 0/1]. */
export type Row = [string[], string, string | null, string | null, number, number, number];
/** [township, officer key (empty once packed: `keyOf`), name, phone, tasks, due, confirmed, open, confirmation delays (rank-delays.ts: packed; a legacy seconds → count object until the backfill)]. */
export type Cell = [string, string, string | null, string | null, number, number, number, number, Delays];

interface TaskFields {
  _id: unknown;
  regionPath?: string[];
  officerName?: string | null;
  officerPhone?: string | null;
  createdAt: Date;
  confirmedAt?: Date | null;
  withdrawnAt?: Date | null;
}
const FIELDS = { _id: 1, regionPath: 1, officerName: 1, officerPhone: 1, createdAt: 1, confirmedAt: 1, withdrawnAt: 1 };

/** The officer a task counts for: by normalised phone, else by the sheet's name. */
export function officerKey(name: string | null | undefined, phone: string | null | undefined): string {
  const normal = phone ? normalisePhone(phone) : '';
  return normal ? `phone:${normal}` : `name:${name ?? ''}`;
}

/** A cell's officer key: stored empty since the delays were packed (it follows from the name and phone), in full before. */
export function keyOf(cell: Cell): string {
  return cell[1] || officerKey(cell[2], cell[3]);
}

/** A county's cells from its rows (those `keep` keeps); the key left empty (`keyOf`). */
export function cellsOf(rows: Iterable<Row>, keep: (row: Row) => boolean = () => true): Cell[] {
  const cells = new Map<string, { cell: Cell; delays: number[] }>();
  for (const row of rows) {
    if (!keep(row)) continue;
    const [path, key, name, phone, created, confirmed, withdrawn] = row;
    const township = path[1] ?? '';
    const id = `${township}|${key}`;
    let entry = cells.get(id);
    if (!entry) {
      entry = { cell: [township, '', name, phone, 0, 0, 0, 0, ''], delays: [] };
      cells.set(id, entry);
    }
    const cell = entry.cell;
    cell[4] += 1;
    if (confirmed) {
      cell[5] += 1;
      cell[6] += 1;
      entry.delays.push(Math.max(0, Math.floor((confirmed - created) / 1000)));
    } else if (!withdrawn) {
      cell[5] += 1;
      cell[7] += 1;
    }
  }
  return [...cells.values()].map(({ cell, delays }) => {
    cell[8] = packDelays(delays.sort((a, b) => a - b));
    return cell;
  });
}

export class RankTally {
  private built = false;
  /** `_closed` as this lease holder last wrote or read it. */
  private closed: Closed | null = null;
  /** `_counties` as far as this process knows (counties are only ever added): county → the regions above it. */
  private counties: Map<string, string[]> | null = null;
  /** The made list's cursor as this process knows it, and the records read past it. */
  private made: { cursor: number; held: Map<number, { at: number; ids: string[]; done: boolean }> } | null = null;
  private readonly dayOf: Intl.DateTimeFormat;

  /** `now`: the clock that says which days have ended (tests move it). */
  constructor(
    timeZone: string,
    private readonly now: () => number = Date.now,
  ) {
    this.dayOf = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  }

  private rowOf(task: TaskFields): { day: string; county: string; up: string[]; row: Row } | null {
    const path = task.regionPath ?? [];
    if (path.length < 4) return null;
    const created = new Date(task.createdAt).getTime();
    const confirmed = task.confirmedAt ? new Date(task.confirmedAt).getTime() : 0;
    const row: Row = [
      path.slice(3),
      officerKey(task.officerName, task.officerPhone),
      task.officerName ?? null,
      task.officerPhone ?? null,
      created,
      confirmed,
      !confirmed && task.withdrawnAt ? 1 : 0,
    ];
    return { day: this.dayOf.format(new Date(created)), county: path[3]!, up: path.slice(0, 3), row };
  }

  /**
   * One pass (the lease holder only): the one-time build if not made, the days closed since
   * the last pass, the made list's records after its cursor, then every pending marker. `keep`
   * says whether the lease is still held.
   * Returns the tasks folded.
   */
  async fold(keep: () => Promise<boolean>): Promise<number> {
    if (!this.built) {
      if (!(await RankTallyModel.exists({ _id: BUILT }))) {
        if (!(await this.build(keep))) return 0;
      }
      // Documents an older version wrote with delay objects, packed (rank-delays.ts): once,
      // here under the lease, so no fold's write of a document races its conversion.
      try {
        await backfillOnce(PACKED_BACKFILL, () => this.packDocuments(keep));
      } catch (error) {
        if (error instanceof LeaseLost) return 0;
        throw error;
      }
      this.built = true;
    }
    this.closed ??= (await RankTallyModel.findById(CLOSED).lean<Closed>()) ?? { through: '', last: '' };
    if (!(await this.closeDays(keep))) return 0;
    // The made list (the send path's writes) from its cursor, then the markers.
    const made = await this.foldMade(keep);
    if (made === null) return 0;
    let total = made;
    // Every pending marker, a chunk at a time: markers kept for a write not yet done must not
    // hide newer ones behind a limit.
    const marks = await RankMarkModel.find({}, { taskIds: 1, at: 1, kind: 1 }).lean<Mark[]>();
    for (let i = 0; i < marks.length; i += MARKS_PER_PASS) {
      const chunk = marks.slice(i, i + MARKS_PER_PASS);
      const ids = [...new Set(chunk.flatMap((m) => m.taskIds))].filter((id) => mongoose.isValidObjectId(id));
      const read = await mapLimit(ids, 8, (id) => ManualTaskModel.findById(id, FIELDS).lean<TaskFields>());
      const tasks = read.filter((task): task is TaskFields => task !== null);
      if (!(await this.write(tasks, false, keep))) return total;
      total += tasks.length;
      const state = new Map(tasks.map((task) => [String(task._id), task]));
      const now = Date.now();
      const done: string[] = [];
      const narrowed: Mark[] = [];
      for (const m of chunk) {
        const kind = m.kind ?? 'make';
        const at = new Date(m.at).getTime();
        const open = m.taskIds.filter((id) => !settled(kind, state.get(id) ?? null));
        if (kind === 'make') {
          // A make's marker precedes the insert: past the slack and every task found.
          if (at < now - MISSING_TASK_MS || (at < now - MARK_SLACK_MS && open.length === 0)) done.push(m._id);
        } else if (open.length === 0) {
          done.push(m._id);
        } else if (open.length < m.taskIds.length) {
          // Only the tasks its write may still change are read again (a new marker first).
          narrowed.push({ ...m, taskIds: open });
          done.push(m._id);
        }
      }
      for (const m of narrowed) await rankingsChanged(m.taskIds, new Date(m.at), m.kind);
      if (done.length) await RankMarkModel.deleteMany({ _id: { $in: done } });
    }
    return total;
  }

  /**
   * The one-time backfill (src/db/backfills.ts `ranktally-packed-delays`): every county-month,
   * day and block document whose cells hold delays as a seconds → count object gets those
   * fields rewritten packed (`$set` of the fields, the same cells otherwise: a value, so a rerun
   * or a document converted twice changes nothing). Readers take either form, so a backfill
   * killed midway leaves documents of both, every figure the same; the next start runs it again.
   * Throws LeaseLost (the backfill then stays unmarked) when the lease is lost.
   */
  async packDocuments(keep: () => Promise<boolean>): Promise<void> {
    const ids: string[] = [];
    for await (const doc of RankTallyModel.find({}, { _id: 1 }).lean<{ _id: string }>().cursor({ batchSize: 1_000 })) {
      const id = String((doc as { _id: string })._id);
      if (/^[mab]\|/.test(id)) ids.push(id);
    }
    for (let i = 0; i < ids.length; i += 16) {
      if (!(await keep())) throw new LeaseLost();
      await mapLimit(ids.slice(i, i + 16), 4, async (id) => {
        const doc = await RankTallyModel.findById(id).lean<Record<string, unknown>>();
        const set: Record<string, string> = {};
        for (const [field, value] of Object.entries(doc ?? {})) {
          if (!/^[dp]_/.test(field)) continue;
          const cells = JSON.parse(String(value)) as Cell[];
          if (cells.every((cell) => typeof cell[8] === 'string')) continue;
          for (const cell of cells) {
            cell[1] = '';
            cell[8] = mergeDelays([cell[8]]);
          }
          set[field] = JSON.stringify(cells);
        }
        if (Object.keys(set).length) await RankTallyModel.updateOne({ _id: id }, { $set: set }, { strict: false });
      });
    }
  }

  /** Yesterday, local: the last day the blocks of more than one day hold. */
  private yesterday(): string {
    return this.dayOf.format(new Date(this.now() - 86_400_000));
  }

  /**
   * Adds each day ended since the last pass to the blocks of more than one day holding it (for
   * every county with tasks that day: its month document says), then moves `_closed.through`
   * on: a reader never uses a block that holds a day past it. Once a day; a pass killed midway
   * does the day again.
   */
  private async closeDays(keep: () => Promise<boolean>): Promise<boolean> {
    const closed = this.closed!;
    const until = this.yesterday();
    if (!closed.through || closed.through >= until) return true;
    // Read again: another holder may have listed counties since this one last held the lease.
    this.counties = null;
    const counties = await this.countyList();
    for (let day = nextDay(closed.through); day <= until; day = nextDay(day)) {
      if (!(await keep())) return false;
      const month = day.slice(0, 7);
      const index = Number(day.slice(8, 10)) - 1;
      const above = new Map<string, Record<string, string>>();
      await mapLimit([...counties], 4, async ([county, up]) => {
        const doc = await RankTallyModel.findById(`m|${month}|${county}`).lean<Record<string, unknown>>();
        if (!doc?.[`d_${index}`]) return;
        this.blocksAbove(above, month, county, up, [index], daysOf(doc), index, 1);
      });
      if (!(await this.setAbove(above, keep))) return false;
      await RankTallyModel.updateOne({ _id: CLOSED }, { $set: { through: day } }, { upsert: true });
      closed.through = day;
    }
    return true;
  }

  /** Every county with tasks, and the regions above it (`_counties`, kept by the fold). */
  private async countyList(): Promise<Map<string, string[]>> {
    if (!this.counties) {
      const doc = await RankTallyModel.findById(COUNTIES).lean<Record<string, unknown>>();
      this.counties = new Map(
        Object.entries(doc ?? {}).flatMap(([field, value]) =>
          field.startsWith('c_') ? [[field.slice(2), JSON.parse(String(value)) as string[]]] : [],
        ),
      );
    }
    return this.counties;
  }

  /**
   * The made list's records after the cursor (channels/manual/history.ts `m:<n>`, dense from 1,
   * each written before its tasks are inserted): their tasks folded; a record is done once every
   * task it names was found, or, past MARK_SLACK_MS, once its missing ones are handed to a
   * `make` marker (rank-marks.ts: kept until they exist; ids that never come go after
   * MISSING_TASK_MS), inserted before the cursor can pass the record. The cursor passes done
   * records only, in order, after their rows are written. Records held in memory past the
   * cursor are not folded again once done. Null when the lease was lost.
   */
  private async foldMade(keep: () => Promise<boolean>): Promise<number | null> {
    if (!this.made) {
      const doc = await RankTallyModel.findById(MADE_CURSOR, { n: 1 }).lean<{ n?: number }>();
      this.made = { cursor: doc?.n ?? 0, held: new Map() };
    }
    const made = this.made;
    let total = 0;
    for (;;) {
      // New records after those held: one read, then 8 at once, until one is missing.
      let n = made.cursor + made.held.size + 1;
      let width = 1;
      let capped = true;
      while (made.held.size < RECORDS_PER_PASS) {
        const found = await mapLimit(
          Array.from({ length: width }, (_, i) => n + i),
          8,
          madeRecord,
        );
        const missing = found.indexOf(null);
        for (const record of missing < 0 ? found : found.slice(0, missing)) {
          made.held.set(n, { at: record!.at, ids: record!.ids, done: false });
          n += 1;
        }
        if (missing >= 0) {
          capped = false;
          break;
        }
        width = 8;
      }
      const pending = [...made.held.values()].filter((record) => !record.done);
      if (pending.length === 0) return total;
      const ids = [...new Set(pending.flatMap((record) => record.ids))].filter((id) => mongoose.isValidObjectId(id));
      const tasks = (await mapLimit(ids, 8, (id) => ManualTaskModel.findById(id, FIELDS).lean<TaskFields>())).filter(
        (task): task is TaskFields => task !== null,
      );
      if (!(await this.write(tasks, false, keep))) return null;
      total += tasks.length;
      const found = new Set(tasks.map((task) => String(task._id)));
      const now = Date.now();
      for (const record of pending) {
        const missing = record.ids.filter((id) => !found.has(id) && mongoose.isValidObjectId(id));
        if (missing.length > 0 && record.at >= now - MARK_SLACK_MS) continue;
        // Not inserted (yet) past the slack: a marker keeps them (a late insert is still counted).
        if (missing.length > 0) await rankingsChanged(missing, new Date(record.at));
        record.done = true;
      }
      let cursor = made.cursor;
      const moved = made.held.get(cursor + 1)?.done === true;
      while (made.held.get(cursor + 1)?.done) {
        made.held.delete(cursor + 1);
        cursor += 1;
      }
      if (cursor > made.cursor) {
        await RankTallyModel.updateOne({ _id: MADE_CURSOR }, { $max: { n: cursor } }, { upsert: true, strict: false });
        made.cursor = cursor;
      }
      // More records than a pass holds, and the cursor moved: read on.
      if (!capped || !moved) return total;
    }
  }

  /** The one-time build for an install whose tasks predate the tallies: one scan, every document replaced. */
  private async build(keep: () => Promise<boolean>): Promise<boolean> {
    const tasks: TaskFields[] = [];
    const cursor = ManualTaskModel.find({}, FIELDS).lean<TaskFields>().cursor({ batchSize: 5_000 });
    for await (const task of cursor) tasks.push(task as TaskFields);
    this.counties = new Map();
    this.closed = { through: this.yesterday(), last: '' };
    await RankTallyModel.replaceOne({ _id: COUNTIES }, {}, { upsert: true });
    await RankTallyModel.replaceOne({ _id: CLOSED }, this.closed, { upsert: true });
    if (!(await this.write(tasks, true, keep))) return false;
    await RankTallyModel.updateOne({ _id: BUILT }, { $set: { rows: '{}' } }, { upsert: true });
    return true;
  }

  /**
   * Sets these tasks' rows (whole documents when `replace`), then each touched county-month's
   * day parts, then the blocks above holding a touched day (see the header): the day's own,
   * and for a day up to `_closed.through` the longer ones too.
   */
  private async write(tasks: TaskFields[], replace: boolean, keep: () => Promise<boolean>): Promise<boolean> {
    const byDoc = new Map<string, { day: string; county: string; up: string[]; rows: Map<string, Row> }>();
    for (const task of tasks) {
      const placed = this.rowOf(task);
      if (!placed) continue;
      const id = `c|${placed.day}|${placed.county}`;
      let doc = byDoc.get(id);
      if (!doc) {
        doc = { day: placed.day, county: placed.county, up: placed.up, rows: new Map() };
        byDoc.set(id, doc);
      }
      doc.rows.set(String(task._id), placed.row);
    }
    if (byDoc.size === 0) return true;
    // 0. The counties and the latest day first: a reader or a day's close that reads them
    // finds at worst a document not written yet (nothing), never misses one written.
    const counties = await this.countyList();
    const fresh: Record<string, string> = {};
    for (const doc of byDoc.values()) {
      if (!counties.has(doc.county)) fresh[`c_${doc.county}`] = JSON.stringify(doc.up);
    }
    if (Object.keys(fresh).length) {
      await RankTallyModel.updateOne({ _id: COUNTIES }, { $set: fresh }, { upsert: true, strict: false });
      for (const [field, up] of Object.entries(fresh)) counties.set(field.slice(2), JSON.parse(up) as string[]);
    }
    const closed = this.closed!;
    let latest = closed.last;
    for (const doc of byDoc.values()) if (doc.day > latest) latest = doc.day;
    if (latest > closed.last) {
      // `$max`: a holder that took the lease back with an older copy never moves it back.
      await RankTallyModel.updateOne({ _id: CLOSED }, { $max: { last: latest } }, { upsert: true });
      closed.last = latest;
    }
    // 1. The county-day documents; their cells kept by county-month.
    const months = new Map<string, { month: string; county: string; up: string[]; days: Map<number, Cell[]> }>();
    const docs = [...byDoc.entries()];
    for (let i = 0; i < docs.length; i += 64) {
      if (!(await keep())) return false;
      await mapLimit(docs.slice(i, i + 64), 4, async ([id, doc]) => {
        let rows = doc.rows;
        if (!replace) {
          const stored = await RankTallyModel.findById(id, { rows: 1 }).lean<{ rows: string }>();
          rows = new Map([
            ...Object.entries(stored ? (JSON.parse(stored.rows) as Record<string, Row>) : {}),
            ...doc.rows,
          ]);
        }
        await RankTallyModel.replaceOne(
          { _id: id },
          { rows: JSON.stringify(Object.fromEntries(rows)), up: doc.up },
          { upsert: true },
        );
        const monthId = `m|${doc.day.slice(0, 7)}|${doc.county}`;
        const month = months.get(monthId) ?? {
          month: doc.day.slice(0, 7),
          county: doc.county,
          up: doc.up,
          days: new Map(),
        };
        month.days.set(Number(doc.day.slice(8, 10)) - 1, cellsOf(rows.values()));
        months.set(monthId, month);
      });
    }
    // 2. Each county-month's day parts (the stored ones of untouched days kept), then the
    // blocks above holding a touched day.
    const list = [...months.entries()];
    for (let i = 0; i < list.length; i += 64) {
      if (!(await keep())) return false;
      const above = new Map<string, Record<string, string>>();
      await mapLimit(list.slice(i, i + 64), 4, async ([id, month]) => {
        const all = replace ? new Map<number, Cell[]>() : daysOf(await RankTallyModel.findById(id).lean());
        for (const [index, cells] of month.days) all.set(index, cells);
        await RankTallyModel.replaceOne(
          { _id: id },
          {
            up: month.up,
            ...Object.fromEntries([...all].map(([index, cells]) => [`d_${index}`, JSON.stringify(cells)])),
          },
          { upsert: true, strict: false },
        );
        const through =
          closed.through < `${month.month}-01`
            ? -1
            : closed.through.startsWith(month.month)
              ? Number(closed.through.slice(8, 10)) - 1
              : 31;
        this.blocksAbove(above, month.month, month.county, month.up, [...month.days.keys()], all, through, 0);
      });
      if (!(await this.setAbove(above, keep))) return false;
    }
    return true;
  }

  /**
   * Into `above`: the county's part of each block of `month` from size 2^from up holding one of
   * the day indexes `touched`, from its days `all` up to index `through` (a day past it is in
   * its one-day block only).
   */
  private blocksAbove(
    above: Map<string, Record<string, string>>,
    month: string,
    county: string,
    up: string[],
    touched: number[],
    all: Map<number, Cell[]>,
    through: number,
    from: number,
  ): void {
    const blocks = new Set<string>();
    for (const index of touched) {
      for (let k = from; k <= TOP; k++) {
        if (k > 0 && index > through) break;
        blocks.add(`${k}|${index - (index % 2 ** k)}`);
      }
    }
    for (const block of blocks) {
      const [k, start] = block.split('|').map(Number) as [number, number];
      const days = Array.from({ length: 2 ** k }, (_, j) => start + j).filter((index) => k === 0 || index <= through);
      const part = JSON.stringify(mergeCells(days.flatMap((index) => all.get(index) ?? [])));
      for (const code of up) {
        const key = blockId(month, k, start, code);
        const set = above.get(key) ?? {};
        set[`p_${county}`] = part;
        above.set(key, set);
      }
    }
  }

  /** One update per document above (two updates of one document at once could lose one on FerretDB). */
  private async setAbove(above: Map<string, Record<string, string>>, keep: () => Promise<boolean>): Promise<boolean> {
    const updates = [...above.entries()];
    for (let j = 0; j < updates.length; j += 64) {
      if (!(await keep())) return false;
      await mapLimit(updates.slice(j, j + 64), 4, ([key, set]) =>
        RankTallyModel.updateOne({ _id: key }, { $set: set }, { upsert: true, strict: false }),
      );
    }
    return true;
  }
}

/** A county-month document's day cells by day index. */
function daysOf(doc: Record<string, unknown> | null): Map<number, Cell[]> {
  const days = new Map<number, Cell[]>();
  for (const [field, value] of Object.entries(doc ?? {})) {
    if (field.startsWith('d_')) days.set(Number(field.slice(2)), JSON.parse(String(value)) as Cell[]);
  }
  return days;
}

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** Blocks of 2^k days, k = 0…TOP, aligned on a month's first day; k = TOP (32 days) is the whole month. */
const TOP = 5;

/** The document of a block: a month, its size 2^k, its first day's index (0-based) and the region above. */
function blockId(month: string, k: number, start: number, code: string): string {
  // A one-day block is the day document of before the blocks (same `_id`, same fields).
  return k === 0 ? `a|${month}-${String(start + 1).padStart(2, '0')}|${code}` : `b|${month}|${k}|${start}|${code}`;
}

/** Cells of several days merged per township × officer (counts and delays added). */
export function mergeCells(cells: Iterable<Cell>): Cell[] {
  const merged = new Map<string, { cell: Cell; delays: Delays[] }>();
  for (const cell of cells) {
    const id = `${cell[0]}|${keyOf(cell)}`;
    const into = merged.get(id);
    if (!into) {
      merged.set(id, {
        cell: [cell[0], '', cell[2], cell[3], cell[4], cell[5], cell[6], cell[7], ''],
        delays: [cell[8]],
      });
      continue;
    }
    for (const i of [4, 5, 6, 7] as const) into.cell[i] += cell[i];
    into.delays.push(cell[8]);
  }
  return [...merged.values()].map(({ cell, delays }) => {
    cell[8] = mergeDelays(delays);
    return cell;
  });
}

/**
 * The fewest blocks that cover the local days `first`…`last` (YYYY-MM-DD) exactly: per month,
 * the largest aligned block that starts at the next uncovered day and ends inside the range
 * (days past a month's end hold nothing, so a range to its last day may end at index 31).
 * A whole month is one block; any range of up to 31 days at most 8.
 */
export function blocksOf(first: string, last: string): { month: string; k: number; start: number }[] {
  const out: { month: string; k: number; start: number }[] = [];
  for (let month = first.slice(0, 7); month <= last.slice(0, 7); month = nextMonth(month)) {
    const [year, m] = month.split('-').map(Number) as [number, number];
    const length = new Date(Date.UTC(year, m, 0)).getUTCDate();
    const from = month === first.slice(0, 7) ? Number(first.slice(8, 10)) - 1 : 0;
    const to = month === last.slice(0, 7) ? Number(last.slice(8, 10)) - 1 : length - 1;
    const end = to >= length - 1 ? 2 ** TOP - 1 : to;
    for (let start = from; start <= end; ) {
      let k = TOP;
      while (k > 0 && (start % 2 ** k !== 0 || start + 2 ** k - 1 > end)) k--;
      out.push({ month, k, start });
      start += 2 ** k;
    }
  }
  return out;
}

function nextMonth(month: string): string {
  const [year, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${year + 1}-01` : `${year}-${String(m + 1).padStart(2, '0')}`;
}

/**
 * The cells of `base` (root, province or city: depth ≤ 2) over the days `first`…`last`, every
 * county's: `_closed`, then the blocks that cover the days up to `_closed.through` and the
 * one-day blocks of the days after it up to the latest with tasks (today's, as a rule).
 */
export async function cellsAbove(first: string, last: string, base: string): Promise<Cell[]> {
  // None yet (an install upgraded, its build not run): every day's one-day block, as before.
  const closed = (await RankTallyModel.findById(CLOSED).lean<Closed>()) ?? { through: '', last: '9999-12-31' };
  const blocks = first <= closed.through ? blocksOf(first, last < closed.through ? last : closed.through) : [];
  const end = last < closed.last ? last : closed.last;
  for (
    let day = !closed.through || first > closed.through ? first : nextDay(closed.through);
    day <= end;
    day = nextDay(day)
  ) {
    blocks.push({ month: day.slice(0, 7), k: 0, start: Number(day.slice(8, 10)) - 1 });
  }
  const docs = await mapLimit(blocks, 8, ({ month, k, start }) =>
    RankTallyModel.findById(blockId(month, k, start, base)).lean<Record<string, unknown>>(),
  );
  return docs.flatMap((doc) =>
    Object.entries(doc ?? {}).flatMap(([field, value]) =>
      field.startsWith('p_') ? (JSON.parse(String(value)) as Cell[]) : [],
    ),
  );
}

/** The cells of a county (depth 3) or one of its townships (depth 4) over the days `first`…`last`: one read per month. */
export async function cellsOfCounty(
  first: string,
  last: string,
  county: string,
  township: string | null,
): Promise<Cell[]> {
  const months: string[] = [];
  for (let month = first.slice(0, 7); month <= last.slice(0, 7); month = nextMonth(month)) months.push(month);
  const docs = await mapLimit(months, 8, (month) =>
    RankTallyModel.findById(`m|${month}|${county}`).lean<Record<string, unknown>>(),
  );
  return docs.flatMap((doc, i) =>
    Object.entries(doc ?? {}).flatMap(([field, value]) => {
      if (!field.startsWith('d_')) return [];
      const day = `${months[i]}-${String(Number(field.slice(2)) + 1).padStart(2, '0')}`;
      if (day < first || day > last) return [];
      const cells = JSON.parse(String(value)) as Cell[];
      return township === null ? cells : cells.filter((cell) => cell[0] === township);
    }),
  );
}

/** The cells of a county-day's tasks under `base` (a region below a township, at `depth` ≥ 5 of the task paths). */
export async function cellsWithin(day: string, county: string, base: string, depth: number): Promise<Cell[]> {
  const doc = await RankTallyModel.findById(`c|${day}|${county}`, { rows: 1 }).lean<{ rows: string }>();
  if (!doc) return [];
  return cellsOf(Object.values(JSON.parse(doc.rows) as Record<string, Row>), (row) => row[0][depth - 3] === base);
}

// The rankings' tallies (issue 25): what `RankingService` reads by `_id` instead of every
// officer task of a period (a scan of the whole tasks collection on FerretDB, >30 s a month in
// at 50,000 groups). Collection `ranktally`, read by `_id` only:
// - `c|<day>|<county>`: every task created that local day in that county, one row per task
//   (`rows`, JSON of taskId → Row) with what a ranking needs; the ancestors (`up`: root,
//   province, city) the county's parts are filed under;
// - `a|<day>|<code>` for the root, province and city above: one field `p_<county>` per county,
//   the county's cells for the day (per township × officer: tasks, due, confirmed, open and the
//   confirmation delays in whole seconds → count), so a province's month is 31 reads;
// - `_built`: the one-time build from the tasks was made.
//
// Contract. Only the holder of the roll-up lease writes here (`fold`, run by the roll-up
// refresher with each refresh, every 2 s), so no update races another (FerretDB's updates are
// not atomic). Writers only insert: a make's record on the task history's made list
// (channels/manual/history.ts `m:<n>`, before the tasks' insert) and markers around each
// confirmation and withdrawal (channels/manual/rank-marks.ts). A fold reads the made list from
// its cursor (`_made`: records 1..n done) and the pending markers, reads their tasks by `_id`
// as they are now, sets their rows (a value from the task, never an increment: folding again is harmless),
// writes each touched county-day document, then its parts above it (recomputed from its rows),
// and only then deletes the markers it read that are older than MARK_SLACK_MS and whose tasks
// all exist (rank-marks.ts). A made record is done once all its tasks were found and written, or,
// past MARK_SLACK_MS, once its missing tasks are in a marker (inserted before the cursor moves);
// the cursor passes done records only, in order, after their rows were written. A kill -9 at
// any point leaves the markers and the cursor behind, and the next fold sets the same values
// again. The one-time
// build (`build`, under the same lease, before the first fold) replaces every document from
// one scan of the tasks and then writes `_built`; killed, it runs again from scratch. Tasks
// written during the build have made records (or markers), folded right after it.
import mongoose from 'mongoose';
import { madeRecord } from '../channels/manual/history.js';
import { ManualTaskModel } from '../channels/manual/model.js';
import { MARK_SLACK_MS, MISSING_TASK_MS, RankMarkModel, rankingsChanged } from '../channels/manual/rank-marks.js';
import { mapLimit } from '../lib/concurrency.js';
import { normalisePhone } from '../lib/phone.js';

const tallySchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    rows: { type: String, default: '{}' },
    up: { type: [String], default: undefined },
  },
  { versionKey: false, strict: false },
);
export const RankTallyModel = mongoose.model('RankTally', tallySchema, 'ranktally');

const BUILT = '_built';
/** The made list's cursor (`n`: records 1..n folded; channels/manual/history.ts). */
const MADE_CURSOR = '_made';
/** Made-list records held (read and not yet passed by the cursor) per fold pass. */
const RECORDS_PER_PASS = 2_000;
/** Markers read per fold pass (a pass after a province dispatch takes several). */
const MARKS_PER_PASS = 2_000;

/** [path from the county down, officer key, name, phone, createdAt ms, confirmedAt ms or 0, withdrawn before confirmation 0/1]. */
export type Row = [string[], string, string | null, string | null, number, number, number];
/** [township, officer key, name, phone, tasks, due, confirmed, open, delay seconds → count]. */
export type Cell = [
  string,
  string,
  string | null,
  string | null,
  number,
  number,
  number,
  number,
  Record<string, number>,
];

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

/** A county's cells from its rows (those `keep` keeps). */
export function cellsOf(rows: Iterable<Row>, keep: (row: Row) => boolean = () => true): Cell[] {
  const cells = new Map<string, Cell>();
  for (const row of rows) {
    if (!keep(row)) continue;
    const [path, key, name, phone, created, confirmed, withdrawn] = row;
    const township = path[1] ?? '';
    const id = `${township}|${key}`;
    let cell = cells.get(id);
    if (!cell) {
      cell = [township, key, name, phone, 0, 0, 0, 0, {}];
      cells.set(id, cell);
    }
    cell[4] += 1;
    if (confirmed) {
      cell[5] += 1;
      cell[6] += 1;
      const seconds = String(Math.max(0, Math.floor((confirmed - created) / 1000)));
      cell[8][seconds] = (cell[8][seconds] ?? 0) + 1;
    } else if (!withdrawn) {
      cell[5] += 1;
      cell[7] += 1;
    }
  }
  return [...cells.values()];
}

export class RankTally {
  private built = false;
  /** The made list's cursor as this process knows it, and the records read past it. */
  private made: { cursor: number; held: Map<number, { at: number; ids: string[]; done: boolean }> } | null = null;
  private readonly dayOf: Intl.DateTimeFormat;

  constructor(timeZone: string) {
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
   * One pass (the lease holder only): the one-time build if not made, then the pending
   * markers. `keep` says whether the lease is still held. Returns the tasks folded.
   */
  async fold(keep: () => Promise<boolean>): Promise<number> {
    if (!this.built) {
      if (!(await RankTallyModel.exists({ _id: BUILT }))) {
        if (!(await this.build(keep))) return 0;
      }
      this.built = true;
    }
    const made = await this.foldMade(keep);
    if (made === null) return 0;
    let total = made;
    for (;;) {
      const marks = await RankMarkModel.find({}, { taskIds: 1, at: 1 })
        .limit(MARKS_PER_PASS)
        .lean<{ _id: string; taskIds: string[]; at: Date }[]>();
      if (marks.length === 0) return total;
      const ids = [...new Set(marks.flatMap((m) => m.taskIds))].filter((id) => mongoose.isValidObjectId(id));
      const tasks = (await mapLimit(ids, 8, (id) => ManualTaskModel.findById(id, FIELDS).lean<TaskFields>())).filter(
        (task): task is TaskFields => task !== null,
      );
      if (!(await this.write(tasks, false, keep))) return total;
      total += tasks.length;
      // Past the slack, and every task it names found (a make's marker precedes the insert).
      const found = new Set(tasks.map((task) => String(task._id)));
      const now = Date.now();
      const done = marks
        .filter((m) => {
          const at = new Date(m.at).getTime();
          return at < now - MISSING_TASK_MS || (at < now - MARK_SLACK_MS && m.taskIds.every((id) => found.has(id)));
        })
        .map((m) => m._id);
      if (done.length) await RankMarkModel.deleteMany({ _id: { $in: done } });
      // Young markers stay (folded again next pass): this pass is over.
      if (done.length < marks.length || marks.length < MARKS_PER_PASS) return total;
    }
  }

  /**
   * The made list's records after the cursor (channels/manual/history.ts `m:<n>`, dense from 1,
   * each written before its tasks are inserted): their tasks folded; a record is done once every
   * task it names was found, or, past MARK_SLACK_MS, once its missing ones are handed to a
   * marker (rank-marks.ts: kept until they exist, or MISSING_TASK_MS). The cursor passes done
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
    if (!(await this.write(tasks, true, keep))) return false;
    await RankTallyModel.updateOne({ _id: BUILT }, { $set: { rows: '{}' } }, { upsert: true });
    return true;
  }

  /** Sets these tasks' rows (whole documents when `replace`), then the parts above each touched county-day. */
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
    const docs = [...byDoc.entries()];
    for (let i = 0; i < docs.length; i += 64) {
      if (!(await keep())) return false;
      // Each county-day document, then its parts above: one update per document above (two
      // updates of one document at once could lose one on FerretDB).
      const above = new Map<string, Record<string, string>>();
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
        const part = JSON.stringify(cellsOf(rows.values()));
        for (const code of doc.up) {
          const set = above.get(`a|${doc.day}|${code}`) ?? {};
          set[`p_${doc.county}`] = part;
          above.set(`a|${doc.day}|${code}`, set);
        }
      });
      await mapLimit([...above.entries()], 4, ([id, set]) =>
        RankTallyModel.updateOne({ _id: id }, { $set: set }, { upsert: true, strict: false }),
      );
    }
    return true;
  }
}

/** The cells of `base` (root, province or city: `depth` ≤ 2) on a day, every county's. */
export async function cellsAbove(day: string, base: string): Promise<Cell[]> {
  const doc = await RankTallyModel.findById(`a|${day}|${base}`).lean<Record<string, unknown>>();
  if (!doc) return [];
  return Object.entries(doc).flatMap(([field, value]) =>
    field.startsWith('p_') ? (JSON.parse(String(value)) as Cell[]) : [],
  );
}

/** The cells of a county-day's tasks under `base` (the county or a region in it, at `depth` ≥ 3 of the task paths). */
export async function cellsWithin(day: string, county: string, base: string, depth: number): Promise<Cell[]> {
  const doc = await RankTallyModel.findById(`c|${day}|${county}`, { rows: 1 }).lean<{ rows: string }>();
  if (!doc) return [];
  return cellsOf(Object.values(JSON.parse(doc.rows) as Record<string, Row>), (row) => row[0][depth - 3] === base);
}

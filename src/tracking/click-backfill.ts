// The one-time click-tally backfill (issue 25): the clicks an install counted before the
// tallies existed (no `intent`, click-tally.ts) summed per month and township into the tally
// documents' `b` cells, in the background after start, a slice per roll-up refresh by the
// roll-up lease's holder (rollups.ts), so a start never waits for it and one process does it.
//
// Contract:
// - Reading. One `find` of the old clicks (projection month/township/first) in natural order,
//   streamed in cursor batches of CURSOR_BATCH: FerretDB 1.24 pushes neither a range on `_id`
//   nor a sort down to SQLite (docs/ferretdb.md; `{_id: {$gt}}` sorted by `_id` with a limit
//   would read and sort every click per chunk), but it streams an unsorted cursor row by row,
//   so FerretDB and this process hold one batch at a time. The holder keeps the cursor open
//   from slice to slice; each slice reads for at most SLICE_MS.
// - Progress. Every SAVE_EVERY clicks (and at a slice's end) the progress document
//   (`backfills`, `_id` PROGRESS_ID) is replaced, under the lease, with the partial sums of
//   every click read so far, the number read (`done`) and the last click's `_id` (`after`).
//   Sums and position are one write: a kill anywhere leaves a mark whose sums count exactly
//   the clicks up to its position. A process resuming (a new holder, or this one after the
//   document changed under it) reopens the cursor skipping `done - 1` clicks and checks that
//   the next is `after`; if not (order changed), it reads from the start until `after`, and
//   if `after` is gone it starts over with empty sums. New clicks carry an intent and are not
//   read (their writers tally them into `t`): none is counted twice.
// - Finishing, in this order: (1) each document's `b` set (not added) to the complete sums
//   under the month's claim; (2) the backfill marked built (`clickTalliesBuilt` turns true:
//   the monthly table reads the tallies from then on); (3) the progress document deleted. A
//   kill before (2) resumes from the last mark and sets the same `b` again.
// - Memory: one cursor batch and the sums (one cell per month and township with clicks, in
//   the progress document too: ~40 bytes each, a province's 1,500 townships over 5 years
//   ~3.6 MB).
import type { FindCursor } from 'mongodb';
import mongoose from 'mongoose';
import { BackfillModel } from '../db/backfills.js';
import { regionDirectory } from '../regions/directory.js';
import {
  BACKFILL,
  ClickTallyModel,
  clickTalliesBuilt,
  forgetClickTalliesBuilt,
  type TallyCell,
  tallyId,
  tallyRegionsIn,
  underClaim,
} from './click-tally.js';

export const PROGRESS_ID = `${BACKFILL}:progress`;
/** Clicks read between two progress marks. */
export const SAVE_EVERY = 20_000;
/** Clicks per cursor batch. */
const CURSOR_BATCH = 2_000;
/** A slice reads this long at most (the refresh's other work waits meanwhile). */
const SLICE_MS = 20_000;

const OLD_CLICKS = { intent: { $exists: false }, townshipCode: { $ne: '' } };

interface OldClick {
  _id: string;
  month: string;
  townshipCode: string;
  first?: boolean;
}

interface Progress {
  _id: string;
  after: string | null;
  done: number;
  /** `<month>|<township>` → [clicks, first clicks] (FerretDB 1.24 stores no nested arrays). */
  sums: Record<string, TallyCell>;
}

const clicks = () => mongoose.connection.collection<OldClick>('clicks');
const progressDocs = () => mongoose.connection.collection<Progress>('backfills');

type Cursor = FindCursor<OldClick>;

export type BackfillLog = (line: string) => void;

const defaultLog: BackfillLog = (line) => process.stdout.write(`[click tallies] ${line}\n`);

export class ClickTallyBackfill {
  private cursor: Cursor | null = null;
  private after: string | null = null;
  private done = 0;
  /** `<month>|<township>` → cell. */
  private sums = new Map<string, TallyCell>();
  private startedAt = 0;

  constructor(
    private readonly log: BackfillLog = defaultLog,
    /** Clicks read between two progress marks (tests: fewer). */
    private readonly saveEvery = SAVE_EVERY,
  ) {}

  /**
   * One slice under the lease (`keep` renews it; false: lost). True once the tallies are
   * built (then one cached check per call), false while clicks are left or the lease was lost.
   * `limit` (tests): stop the slice after this many clicks.
   */
  async step(keep: () => Promise<boolean>, sliceMs = SLICE_MS, limit = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (await clickTalliesBuilt()) {
      await this.drop();
      return true;
    }
    const until = performance.now() + sliceMs;
    try {
      await this.open();
      let read = 0;
      let sinceSave = 0;
      for (;;) {
        if (read >= limit || performance.now() > until) {
          if (sinceSave > 0 && !(await this.save(keep))) return false;
          return false;
        }
        const click = await this.cursor!.next();
        if (!click) break;
        this.add(click);
        read += 1;
        sinceSave += 1;
        if (sinceSave >= this.saveEvery) {
          if (!(await this.save(keep))) return false;
          sinceSave = 0;
        }
      }
      if (!(await keep())) return this.lost();
      await this.finish();
      return true;
    } catch (error) {
      await this.drop();
      throw error;
    }
  }

  /** Forgets the open cursor and sums (a test's stand-in for a killed process). */
  async drop(): Promise<void> {
    const cursor = this.cursor;
    this.cursor = null;
    this.sums = new Map();
    this.done = 0;
    this.after = null;
    await cursor?.close().catch(() => undefined);
  }

  private add(click: OldClick): void {
    const key = `${click.month}|${click.townshipCode}`;
    const cell = this.sums.get(key) ?? [0, 0];
    cell[0] += 1;
    if (click.first === true) cell[1] += 1;
    this.sums.set(key, cell);
    this.done += 1;
    this.after = click._id;
  }

  private async lost(): Promise<false> {
    await this.drop();
    return false;
  }

  /** The cursor at the saved mark (kept from the last slice while the mark is this process's). */
  private async open(): Promise<void> {
    const saved = await progressDocs().findOne({ _id: PROGRESS_ID });
    if (this.cursor && (saved?.done ?? 0) === this.done && (saved?.after ?? null) === this.after) return;
    await this.drop();
    this.startedAt = performance.now();
    const find = (skip: number) =>
      clicks()
        .find(OLD_CLICKS, { projection: { month: 1, townshipCode: 1, first: 1 }, batchSize: CURSOR_BATCH })
        .skip(skip) as unknown as Cursor;
    if (!saved || saved.done === 0 || saved.after === null) {
      this.cursor = find(0);
      this.log('backfill of the old clicks started');
      return;
    }
    // Resume: the click at the mark is expected right after `done - 1` others.
    let cursor = find(saved.done - 1);
    let at = await cursor.next();
    if (at?._id !== saved.after) {
      await cursor.close();
      cursor = find(0);
      do at = await cursor.next();
      while (at && at._id !== saved.after);
    }
    if (!at) {
      await cursor.close();
      this.cursor = find(0);
      this.log(`backfill: the click at the mark (${saved.done}) is gone; starting over`);
      return;
    }
    this.cursor = cursor;
    this.done = saved.done;
    this.after = saved.after;
    this.sums = new Map(Object.entries(saved.sums).map(([key, [n, f]]) => [key, [n, f]]));
    this.log(`backfill resumed after ${saved.done} old clicks`);
  }

  /** The progress mark: sums and position in one replace, under the lease. */
  private async save(keep: () => Promise<boolean>): Promise<boolean> {
    if (!(await keep())) return this.lost();
    const sums = Object.fromEntries(this.sums);
    await progressDocs().replaceOne(
      { _id: PROGRESS_ID },
      { after: this.after, done: this.done, sums },
      { upsert: true },
    );
    const s = Math.round((performance.now() - this.startedAt) / 1000);
    this.log(`backfill: ${this.done} old clicks read (${s} s in this process)`);
    return true;
  }

  /** Steps (1)–(3) of the header. */
  private async finish(): Promise<void> {
    const months = new Map<string, Map<string, Record<string, TallyCell>>>();
    const directory = await regionDirectory();
    for (const [key, cell] of this.sums) {
      const bar = key.indexOf('|');
      const month = key.slice(0, bar);
      const township = key.slice(bar + 1);
      const docs = months.get(month) ?? new Map<string, Record<string, TallyCell>>();
      months.set(month, docs);
      for (const region of tallyRegionsIn(directory, township)) {
        const id = tallyId(month, region);
        const cells = docs.get(id) ?? {};
        docs.set(id, cells);
        cells[township] = cell;
      }
    }
    for (const [month, docs] of months) {
      await underClaim(month, async () => {
        for (const [id, cells] of docs) {
          await ClickTallyModel.collection.updateOne({ _id: id as never }, { $set: { b: cells } }, { upsert: true });
        }
      });
    }
    await BackfillModel.updateOne({ _id: BACKFILL }, { $set: { at: new Date() } }, { upsert: true });
    await progressDocs().deleteOne({ _id: PROGRESS_ID });
    const s = Math.round((performance.now() - this.startedAt) / 1000);
    this.log(`backfill finished: ${this.done} old clicks in ${this.sums.size} month-township cells (${s} s)`);
    await this.drop();
  }
}

/**
 * At start: an install with no click at all (a new one) has nothing to backfill and is marked
 * built at once (one `find` with a limit and no filter: FerretDB pushes that down). Any other
 * is left to the lease holder's refreshes. A click written after the check carries an intent.
 */
export async function markBuiltIfNoClicks(): Promise<void> {
  if (await clickTalliesBuilt()) return;
  if (await clicks().findOne({}, { projection: { _id: 1 } })) return;
  await BackfillModel.updateOne({ _id: BACKFILL }, { $set: { at: new Date() } }, { upsert: true });
}

/**
 * The whole backfill in this process, without the roll-up lease (tests, benchmarks, a tool):
 * slices until built. Resumes from a saved mark like the background one.
 */
export async function buildClickTallies(log: BackfillLog = () => {}): Promise<void> {
  forgetClickTalliesBuilt();
  const backfill = new ClickTallyBackfill(log);
  while (!(await backfill.step(async () => true))) {}
}

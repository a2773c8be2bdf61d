// Keeps the reach roll-ups fresh and exact. Contract with the engine (docs/tracking.md):
//
//   after every write of batches, call `rollups.batchesWritten(batchIds)`.
//
// The marker is written after the batch, so a refresh that reads a marker then reads the
// batch sees that write or a later one; markers are deleted only once the roll-ups are
// written, so a refresher dying half-way leaves them for the next one. A writer dying
// between its batch write and its marker is caught by the sweep, which marks every batch
// whose updatedAt is newer than the last sweep (less a margin for clock skew), reading only
// the batches of runs that may have been written since (issue 25): the runs still open
// (engine/open-runs.ts: every batch write happens while its run is on that list) and the
// runs closed since the last sweep (`closedRun`, written by the closer before the run leaves
// the list), each batch's `updatedAt` by `_id`. When nothing is in flight both lists are
// empty and a sweep reads no batch.
//
// Roll-ups are recomputed from each batch's items (set, not $inc; fold.ts): FerretDB 1.24
// can lose concurrent increments, and a recomputed value is the same however many times it
// is redone. One refresher at a time holds a lease (rollup-lease.ts), so a slow one cannot
// overwrite a newer value with an older one.
import { randomBytes } from 'node:crypto';
import { BackfillModel, backfillOnce } from '../db/backfills.js';
import type { Clock } from '../lib/clock.js';
import { LeaseLost, readChangedBatches } from './changed-batches.js';
import type { ClickTallyBackfill } from './click-backfill.js';
import { rebuildIndexLengths } from './county-index.js';
import { Fold } from './fold.js';
import { DeliveryBatchModel } from './model.js';
import type { RankTally } from './rank-tally.js';
import { buildDays, DAYS_LAYOUT } from './reach-days.js';
import { buildMonths, MONTHS_BACKFILL } from './reach-months.js';
import { type HeldLease, RollupLease, STATE_ID } from './rollup-lease.js';
import { RollupClosedRunModel, RollupMarkerModel, RollupStateModel } from './rollup-model.js';
import { batchIdsOfRun, mapLimited } from './run-batches.js';

/** Batches written this long before the last sweep are looked at again (clock skew between instances). */
const SWEEP_MARGIN_MS = 10 * 60_000;
/**
 * Batches folded by one refresh at most. A backlog is read in one pass over the batches
 * (changed-batches.ts), so the more a refresh takes the fewer passes a backlog costs; a part
 * is ~150 bytes in memory.
 */
const REFRESH_MAX_BATCHES = 50_000;
/**
 * Layout of the roll-up documents (rollup-model.ts). A sweep under an older one marks every
 * batch. 3: parts and cells carry the messages per channel (packed.ts).
 */
const LAYOUT = 3;

/** `updatedAt` lookups in flight at once during a sweep. */
const SWEEP_LOOKUPS_AT_ONCE = 8;
const SWEEP_BY_RUNS = 'runs';

/**
 * The engine's stranded-batch sweep closes a run (nothing left due): call BEFORE it leaves the
 * open-run list, so the next roll-up sweep still reads its batches once (a writer may have
 * died between the run's last batch write and its marker). One `_id` upsert.
 */
export async function closedRun(occurrenceId: string, at: Date): Promise<void> {
  await RollupClosedRunModel.updateOne({ _id: occurrenceId }, { $set: { closedAt: at } }, { upsert: true });
}

export class ReachRollups {
  private readonly lease: RollupLease;
  /** The runs that may still be written (engine/open-runs.ts); unset: the sweep scans by `updatedAt`. */
  private openRuns: (() => Promise<string[]>) | null = null;
  /** Seen built once: the day documents never go back to unbuilt. */
  private daysBuilt = false;
  /** Seen built once: the month summaries (reach-months.ts) never go back to unbuilt. */
  private monthsBuilt = false;
  private rankTally: RankTally | null = null;
  private clickRepair: ((now: Date) => Promise<unknown>) | null = null;
  private clickBackfill: ClickTallyBackfill | null = null;

  constructor(private readonly clock: Clock) {
    this.lease = new RollupLease(clock);
  }

  /** The rankings' tallies (rank-tally.ts): folded with each refresh, under the same lease. */
  foldRankings(tally: RankTally): void {
    this.rankTally = tally;
  }

  /** The click tallies' repair (click-tally.ts): run with each refresh (it paces itself), under the same lease. */
  repairClicks(repair: (now: Date) => Promise<unknown>): void {
    this.clickRepair = repair;
  }

  /** The one-time click-tally backfill (click-backfill.ts): a slice with each refresh until built, under the same lease. */
  backfillClicks(backfill: ClickTallyBackfill): void {
    this.clickBackfill = backfill;
  }

  /** Where the sweep finds the runs still open (the composition root wires the engine's list). */
  readOpenRuns(openRuns: () => Promise<string[]>): void {
    this.openRuns = openRuns;
  }

  /** Engine: call right AFTER writing these batches (same ids may repeat; one cheap insert). */
  async batchesWritten(batchIds: readonly string[]): Promise<void> {
    if (batchIds.length === 0) return;
    await RollupMarkerModel.create({
      _id: randomBytes(9).toString('base64url'),
      batchIds: [...batchIds],
      at: this.clock.now(),
    });
  }

  /**
   * Folds the batches of the oldest markers (up to `limit` batches) into the roll-ups.
   * Returns how many batches were folded, or null when another process holds the lease.
   * The caller keeps the lease until it runs out or `release(owner)`.
   */
  async refresh(owner: string, limit = REFRESH_MAX_BATCHES): Promise<number | null> {
    const lease = await this.lease.take(owner);
    if (!lease) return null;
    if (!(await this.buildDaysOnce(lease))) return null;
    if (!(await this.buildMonthsOnce(lease))) return null;
    if (this.rankTally) await this.rankTally.fold(lease.keep);
    if (this.clickRepair) await this.clickRepair(this.clock.now());
    if (this.clickBackfill) await this.clickBackfill.step(lease.keep);
    const markers = await this.oldestMarkers(limit);
    if (markers.batchIds.length === 0) return 0;
    try {
      const fold = new Fold();
      const gone = await readChangedBatches(markers.batchIds, (c) => fold.add(c), lease.keep);
      for (const id of gone) fold.drop(id);
      if (!(await fold.write(lease.keep))) return null;
    } catch (error) {
      if (error instanceof LeaseLost) return null;
      throw error;
    }
    // One statement for all: FerretDB answers a delete by filter with one pass.
    await RollupMarkerModel.deleteMany({ _id: { $in: markers.ids } });
    return markers.batchIds.length;
  }

  /**
   * At start: builds the day documents and index lengths of an install folded by older code
   * (reach-days.ts), when no other process holds the lease (the holder builds them at its
   * next refresh). One `_id` read once they are built.
   */
  async prepareDays(owner: string): Promise<void> {
    if ((await this.daysAreBuilt()) && (await this.monthsAreBuilt())) return;
    const lease = await this.lease.take(owner);
    if (!lease) return;
    try {
      if (await this.buildDaysOnce(lease)) await this.buildMonthsOnce(lease);
    } finally {
      await this.release(owner);
    }
  }

  private async daysAreBuilt(): Promise<boolean> {
    if (!this.daysBuilt) {
      const state = await RollupStateModel.findById(STATE_ID, { days: 1 }).lean();
      this.daysBuilt = state?.days === DAYS_LAYOUT;
    }
    return this.daysBuilt;
  }

  /** Under the lease: the backfill of the day documents unless built; false when the lease was lost. */
  private async buildDaysOnce(lease: HeldLease): Promise<boolean> {
    if (await this.daysAreBuilt()) return true;
    await rebuildIndexLengths();
    if (!(await buildDays(lease.keep))) return false;
    if (!(await lease.keep())) return false;
    await RollupStateModel.updateOne({ _id: STATE_ID }, { $set: { days: DAYS_LAYOUT } }, { upsert: true });
    this.daysBuilt = true;
    return true;
  }

  private async monthsAreBuilt(): Promise<boolean> {
    this.monthsBuilt ||= Boolean(await BackfillModel.exists({ _id: MONTHS_BACKFILL }));
    return this.monthsBuilt;
  }

  /**
   * Under the lease: the one-time backfill of the month summaries from the county-years
   * (reach-months.ts); no fold runs meanwhile. False when the lease was lost (not marked built).
   */
  private async buildMonthsOnce(lease: HeldLease): Promise<boolean> {
    if (this.monthsBuilt) return true;
    try {
      await backfillOnce(MONTHS_BACKFILL, async () => {
        if (!(await buildMonths(lease.keep))) throw new LeaseLost();
      });
    } catch (error) {
      if (error instanceof LeaseLost) return false;
      throw error;
    }
    this.monthsBuilt = true;
    return true;
  }

  /** Marks batches written since the last sweep (less a margin); the first sweep marks all. */
  async sweep(owner: string): Promise<number | null> {
    const lease = await this.lease.take(owner);
    if (!lease) return null;
    return this.markSince(lease);
  }

  /** Refreshes until no marker is left, then releases the lease (tests, benchmarks). */
  async refreshAll(owner: string, onProgress?: (done: number) => void): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const done = await this.refresh(owner);
        if (done === null) throw new Error('another process holds the roll-up lease');
        if (done === 0) return total;
        total += done;
        onProgress?.(total);
      }
    } finally {
      await this.release(owner);
    }
  }

  /** Hands the lease back (a refresher stopping). */
  release(owner: string): Promise<void> {
    return this.lease.release(owner);
  }

  /**
   * Marks the batches written since the last sweep (less the margin). The first sweep, and the
   * first under a new layout, marks every batch (a rebuild, one scan); the first after an
   * install swept by older code scans by `updatedAt` once; every later one reads only the
   * batches of open and recently closed runs, by `_id`.
   */
  private async markSince(lease: HeldLease): Promise<number | null> {
    const now = this.clock.now();
    const state = await RollupStateModel.findById(STATE_ID).lean();
    const since =
      state?.sweptUntil && state.layout === LAYOUT ? new Date(state.sweptUntil.getTime() - SWEEP_MARGIN_MS) : null;
    const byRuns = since !== null && state?.sweepBy === SWEEP_BY_RUNS && this.openRuns !== null;
    let ids: string[];
    let closed: string[] = [];
    if (byRuns) {
      // Open runs first, then the closed ones: a closer lists its run as closed before it
      // leaves the open list, so a run closing meanwhile is on one of the two reads.
      const open = await this.openRuns!();
      closed = (await RollupClosedRunModel.find({}, { _id: 1 }).lean<{ _id: string }[]>()).map((r) => r._id);
      ids = await this.writtenSince([...new Set([...open, ...closed])], since);
    } else {
      const batches = await DeliveryBatchModel.find(since ? { updatedAt: { $gte: since } } : {}, { _id: 1 }).lean();
      ids = batches.map((b) => String(b._id));
    }
    for (let i = 0; i < ids.length; i += 1000) await this.batchesWritten(ids.slice(i, i + 1000));
    if (!(await lease.keep())) return null;
    await RollupStateModel.updateOne(
      { _id: STATE_ID },
      { $set: { sweptUntil: now, layout: LAYOUT, sweepBy: this.openRuns ? SWEEP_BY_RUNS : null } },
    );
    // Looked at under a `since` before their close: no later sweep needs them.
    if (closed.length) await RollupClosedRunModel.deleteMany({ _id: { $in: closed } });
    return ids.length;
  }

  /** The batches of these runs whose `updatedAt` is at or after `since` (each read by `_id`). */
  private async writtenSince(runIds: string[], since: Date): Promise<string[]> {
    const written: string[] = [];
    for (const runId of runIds) {
      const batchIds = await batchIdsOfRun(runId);
      const found = await mapLimited(batchIds, SWEEP_LOOKUPS_AT_ONCE, (id) =>
        DeliveryBatchModel.findById(id, { updatedAt: 1 }).lean<{ _id: string; updatedAt?: Date | null }>(),
      );
      for (const batch of found) {
        if (batch && (!batch.updatedAt || batch.updatedAt.getTime() >= since.getTime())) written.push(batch._id);
      }
    }
    return written;
  }

  /** The oldest markers (insertion order) holding up to about `limit` batch ids. */
  private async oldestMarkers(limit: number): Promise<{ ids: string[]; batchIds: string[] }> {
    const ids: string[] = [];
    const batchIds = new Set<string>();
    const cursor = RollupMarkerModel.find({}, { _id: 1, batchIds: 1 }).lean().cursor();
    for await (const marker of cursor) {
      ids.push(marker._id);
      for (const id of marker.batchIds ?? []) batchIds.add(id);
      if (batchIds.size >= limit) break;
    }
    await cursor.close();
    return { ids, batchIds: [...batchIds] };
  }
}

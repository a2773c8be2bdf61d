// Keeps the reach buckets fresh and exact. Contract with the engine (docs/tracking.md):
//
//   after every write of batches, call `rollups.batchesWritten(batchIds)`.
//
// The marker is written after the batch, so a refresh that reads a marker then reads the
// batch sees that write or a later one; markers are deleted only once the buckets are
// written, so a refresher dying half-way leaves them for the next one. A writer dying
// between its batch write and its marker is caught by the sweep, which marks every batch
// whose updatedAt is newer than the last sweep (less a margin for clock skew).
//
// Buckets are recomputed as sums over contributions (set, not $inc): FerretDB 1.24 can
// lose concurrent increments, and a sum is the same however many times it is redone. One
// refresher at a time holds a lease, so a slow one cannot overwrite a newer sum with an
// older one.
import { randomBytes } from 'node:crypto';
import { acquireLease, leaseTakenOver } from '../db/claims.js';
import type { Clock } from '../lib/clock.js';
import { type Contribution, contributionOf, monthBucketId } from './contribution.js';
import { type BatchDoc, DeliveryBatchModel } from './model.js';
import {
  COUNT_KEYS,
  type Counts,
  ReachLedgerModel,
  ReachMonthModel,
  RollupMarkerModel,
  RollupStateModel,
  zeroCounts,
} from './rollup-model.js';

const STATE_ID = 'rollups';
const LEASE_MS = 60_000;
/** Batches written this long before the last sweep are looked at again (clock skew between instances). */
const SWEEP_MARGIN_MS = 10 * 60_000;
const FETCH_CONCURRENCY = 8;
/** Above this many changed batches a refresh reads them in one pass instead of one by one. */
const LOOKUP_MAX = 100;

async function inChunks<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}

export interface Part extends Counts {
  batchId: string;
  day: string;
  campaignId: string;
  groups: string[];
  villages: string[];
}

function partOf(c: Contribution): Part {
  const part = { batchId: c._id, day: c.day, campaignId: c.campaignId, groups: c.groups, villages: c.villages } as Part;
  for (const key of COUNT_KEYS) part[key] = c[key];
  return part;
}

/** A bucket's totals: sums of its parts, unions of their reached groups and villages. */
function totalsOf(parts: Part[]) {
  const counts = zeroCounts();
  const groups = new Set<string>();
  const villages = new Set<string>();
  for (const part of parts) {
    for (const key of COUNT_KEYS) counts[key] += part[key];
    for (const g of part.groups) groups.add(g);
    for (const v of part.villages) villages.add(v);
  }
  return { ...counts, groups: [...groups].sort(), villages: [...villages].sort() };
}

export class ReachRollups {
  constructor(private readonly clock: Clock) {}

  /** Engine: call right AFTER writing these batches (same ids may repeat; cheap inserts). */
  async batchesWritten(batchIds: readonly string[]): Promise<void> {
    if (batchIds.length === 0) return;
    const at = this.clock.now();
    await RollupMarkerModel.insertMany(
      batchIds.map((batchId) => ({ _id: `${batchId}#${randomBytes(6).toString('base64url')}`, batchId, at })),
      { ordered: false },
    );
  }

  /**
   * Folds up to `limit` changed batches into the buckets. Returns how many batches were
   * refreshed, or null when another process holds the refresher lease.
   */
  async refresh(owner: string, limit = 10_000): Promise<number | null> {
    return this.withLease(owner, async (epoch) => {
      const markers = await RollupMarkerModel.find({}, { _id: 1, batchId: 1 }).limit(limit).lean();
      if (markers.length === 0) return 0;
      const batchIds = [...new Set(markers.map((m) => m.batchId))];
      const contributions: Contribution[] = [];
      const gone: string[] = [];
      if (batchIds.length <= LOOKUP_MAX) {
        // One _id lookup per batch: the only query FerretDB answers without a scan.
        await inChunks(batchIds, FETCH_CONCURRENCY, async (id) => {
          const batch = await DeliveryBatchModel.findById(id).lean<BatchDoc & { _id: string }>();
          if (batch) contributions.push(contributionOf(batch));
          else gone.push(id);
        });
      } else {
        // Many at once (a backlog, a sweep): one pass over the batches beats thousands of
        // lookups on FerretDB; a cursor keeps one batch at a time in memory.
        const seen = new Set<string>();
        const cursor = DeliveryBatchModel.find({ _id: { $in: batchIds } })
          .lean<BatchDoc & { _id: string }>()
          .cursor();
        for await (const batch of cursor as AsyncIterable<BatchDoc & { _id: string }>) {
          seen.add(batch._id);
          contributions.push(contributionOf(batch));
        }
        gone.push(...batchIds.filter((id) => !seen.has(id)));
      }
      if (await leaseTakenOver('reach-rollups', epoch)) return 0;
      await this.foldIntoBuckets(contributions, gone);
      // One statement for all: FerretDB answers a delete by filter with one scan.
      await RollupMarkerModel.deleteMany({ _id: { $in: markers.map((m) => m._id) } });
      return batchIds.length;
    });
  }

  /** Marks batches written since the last sweep (less a margin); the first sweep marks all. */
  async sweep(owner: string): Promise<number | null> {
    return this.withLease(owner, async () => {
      const now = this.clock.now();
      const state = await RollupStateModel.findById(STATE_ID).lean();
      const since = state?.sweptUntil ? new Date(state.sweptUntil.getTime() - SWEEP_MARGIN_MS) : null;
      const batches = await DeliveryBatchModel.find(since ? { updatedAt: { $gte: since } } : {}, { _id: 1 }).lean();
      const ids = batches.map((b) => String(b._id));
      for (let i = 0; i < ids.length; i += 1000) await this.batchesWritten(ids.slice(i, i + 1000));
      await RollupStateModel.updateOne({ _id: STATE_ID }, { $set: { sweptUntil: now } });
      return ids.length;
    });
  }

  /** Refreshes until no marker is left (tests, benchmarks, and after a sweep). */
  async refreshAll(owner: string, onProgress?: (done: number) => void): Promise<number> {
    let total = 0;
    for (;;) {
      const done = await this.refresh(owner);
      if (done === null) throw new Error('another process holds the roll-up lease');
      if (done === 0) return total;
      total += done;
      onProgress?.(total);
    }
  }

  private async withLease<T>(owner: string, work: (epoch: number) => Promise<T>): Promise<T | null> {
    const now = this.clock.now();
    const state = await RollupStateModel.findById(STATE_ID).lean();
    const current = state?.lease?.until ? { epoch: state.lease.epoch, until: state.lease.until } : null;
    const lease = await acquireLease('reach-rollups', current, owner, now, LEASE_MS);
    if (!lease) return null;
    await RollupStateModel.updateOne(
      { _id: STATE_ID },
      { $set: { lease: { epoch: lease.epoch, until: lease.until, owner } } },
      { upsert: true },
    );
    try {
      return await work(lease.epoch);
    } finally {
      // Hand the lease back at once (an expired lease is free to take).
      await RollupStateModel.updateOne(
        { _id: STATE_ID, 'lease.epoch': lease.epoch },
        { $set: { 'lease.until': new Date(0) } },
      );
    }
  }

  /**
   * Sets each changed batch's part in its bucket (and drops parts of batches that are gone),
   * then rewrites the bucket's totals from all its parts. A batch never changes bucket: its
   * month, township, category and campaign are fixed when the run is planned.
   */
  private async foldIntoBuckets(changed: Contribution[], gone: string[]): Promise<void> {
    const byBucket = new Map<string, Contribution[]>();
    for (const c of changed) byBucket.set(monthBucketId(c), [...(byBucket.get(monthBucketId(c)) ?? []), c]);
    const goneSet = new Set(gone);
    const goneBuckets = gone.length
      ? await ReachLedgerModel.find({ 'parts.batchId': { $in: gone } }, { _id: 1 }).lean()
      : [];
    for (const { _id } of goneBuckets) if (!byBucket.has(_id)) byBucket.set(_id, []);

    for (const [id, contributions] of byBucket) {
      const ledger = await ReachLedgerModel.findById(id).lean<{ parts: Part[] }>();
      const replaced = new Set(contributions.map((c) => c._id));
      const parts = (ledger?.parts ?? []).filter((p) => !replaced.has(p.batchId) && !goneSet.has(p.batchId));
      parts.push(...contributions.map(partOf));
      if (parts.length === 0) {
        await ReachLedgerModel.deleteOne({ _id: id });
        await ReachMonthModel.deleteOne({ _id: id });
        continue;
      }
      const sample = contributions[0] ?? ((await ReachMonthModel.findById(id).lean()) as unknown as Contribution);
      const keys = {
        _id: id,
        month: sample.month,
        category: sample.category,
        townshipCode: sample.townshipCode,
        countyCode: sample.countyCode,
        regionPath: sample.regionPath,
      };
      parts.sort((x, y) => (x.batchId < y.batchId ? -1 : 1));
      await ReachLedgerModel.replaceOne({ _id: id }, { ...keys, parts }, { upsert: true });
      await ReachMonthModel.replaceOne({ _id: id }, { ...keys, ...totalsOf(parts) }, { upsert: true });
    }
  }
}

/** Runs refresh (every few seconds) and sweep (every few minutes) in a worker process. */
export class RollupRefresher {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private lastSweep = 0;
  private readonly owner = `rollups-${randomBytes(6).toString('hex')}`;

  constructor(
    private readonly rollups: ReachRollups,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs = 2000,
    private readonly sweepEveryMs = 5 * 60_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.running) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (Date.now() - this.lastSweep >= this.sweepEveryMs) {
        if ((await this.rollups.sweep(this.owner)) !== null) this.lastSweep = Date.now();
      }
      await this.rollups.refresh(this.owner);
    } catch (error) {
      this.onError(error);
    } finally {
      this.running = false;
    }
  }
}

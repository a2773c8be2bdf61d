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
import { type Contribution, contributionOf, dayBucketId, monthBucketId } from './contribution.js';
import { type BatchDoc, DeliveryBatchModel } from './model.js';
import {
  COUNT_KEYS,
  ReachContributionModel,
  ReachDayModel,
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

type Bucket = Record<string, unknown> & { _id: string };

async function inChunks<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}

/** Sums contributions into buckets (counts) and unions their reached groups and villages. */
function sumInto(buckets: Map<string, Bucket>, id: string, base: Record<string, unknown>, c: Contribution) {
  let bucket = buckets.get(id);
  if (!bucket) {
    bucket = { _id: id, ...base, ...zeroCounts(), groups: new Set<string>(), villages: new Set<string>() };
    buckets.set(id, bucket);
  }
  for (const key of COUNT_KEYS) (bucket[key] as number) += c[key];
  for (const g of c.groups) (bucket.groups as Set<string>).add(g);
  for (const v of c.villages) (bucket.villages as Set<string>).add(v);
}

function finished(bucket: Bucket): Bucket {
  return {
    ...bucket,
    groups: [...(bucket.groups as Set<string>)].sort(),
    villages: [...(bucket.villages as Set<string>)].sort(),
  };
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
  async refresh(owner: string, limit = 2000): Promise<number | null> {
    return this.withLease(owner, async (epoch) => {
      const markers = await RollupMarkerModel.find({}, { _id: 1, batchId: 1 }).limit(limit).lean();
      if (markers.length === 0) return 0;
      const batchIds = [...new Set(markers.map((m) => m.batchId))];
      const contributions: Contribution[] = [];
      const gone: string[] = [];
      // One _id lookup per batch: the only query FerretDB answers without a scan.
      await inChunks(batchIds, FETCH_CONCURRENCY, async (id) => {
        const batch = await DeliveryBatchModel.findById(id).lean<BatchDoc & { _id: string }>();
        if (batch) contributions.push(contributionOf(batch));
        else gone.push(id);
      });
      const previous = await this.previousContributions(gone);
      await this.writeContributions(contributions, gone);
      if (await leaseTakenOver(`reach-rollups`, epoch)) return 0;
      await this.recomputeBuckets([...contributions, ...previous]);
      await RollupMarkerModel.bulkWrite(markers.map((m) => ({ deleteOne: { filter: { _id: m._id } } })));
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

  private async previousContributions(ids: string[]): Promise<Contribution[]> {
    const found: Contribution[] = [];
    for (const id of ids) {
      const old = await ReachContributionModel.findById(id).lean<Contribution>();
      if (old) found.push(old);
    }
    return found;
  }

  private async writeContributions(contributions: Contribution[], gone: string[]): Promise<void> {
    const ops = [
      ...contributions.map((c) => ({ replaceOne: { filter: { _id: c._id }, replacement: c, upsert: true } })),
      ...gone.map((id) => ({ deleteOne: { filter: { _id: id } } })),
    ];
    if (ops.length > 0) await ReachContributionModel.bulkWrite(ops as never, { ordered: false });
  }

  /** Recomputes every bucket the changed batches belong to, from all contributions in it. */
  private async recomputeBuckets(changed: Contribution[]): Promise<void> {
    const monthIds = new Set(changed.map(monthBucketId));
    const dayIds = new Set(changed.map(dayBucketId));
    const months = [...new Set(changed.map((c) => c.month))];
    const days = [...new Set(changed.map((c) => c.day))];

    const monthBuckets = new Map<string, Bucket>();
    const dayBuckets = new Map<string, Bucket>();
    const cursor = ReachContributionModel.find({ month: { $in: months } })
      .lean<Contribution>()
      .cursor();
    const daySet = new Set(days);
    for await (const c of cursor as AsyncIterable<Contribution>) {
      const base = {
        category: c.category,
        townshipCode: c.townshipCode,
        countyCode: c.countyCode,
        regionPath: c.regionPath,
        month: c.month,
      };
      const monthId = monthBucketId(c);
      if (monthIds.has(monthId)) sumInto(monthBuckets, monthId, base, c);
      const dayId = dayBucketId(c);
      if (daySet.has(c.day) && dayIds.has(dayId))
        sumInto(dayBuckets, dayId, { ...base, day: c.day, campaignId: c.campaignId }, c);
    }
    await this.writeBuckets(ReachMonthModel, monthIds, monthBuckets);
    await this.writeBuckets(ReachDayModel, dayIds, dayBuckets);
  }

  private async writeBuckets(
    model: typeof ReachMonthModel | typeof ReachDayModel,
    ids: Set<string>,
    buckets: Map<string, Bucket>,
  ): Promise<void> {
    const ops = [...ids].map((id) => {
      const bucket = buckets.get(id);
      // A bucket whose last batch disappeared is removed rather than left at zero.
      return bucket
        ? { replaceOne: { filter: { _id: id }, replacement: finished(bucket), upsert: true } }
        : { deleteOne: { filter: { _id: id } } };
    });
    for (let i = 0; i < ops.length; i += 500) {
      await (model as typeof ReachMonthModel).bulkWrite(ops.slice(i, i + 500) as never, { ordered: false });
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

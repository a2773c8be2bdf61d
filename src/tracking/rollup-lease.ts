// The roll-up refresher's lease: one holder at a time folds batches, so an older sum never
// overwrites a newer one. The holder keeps the lease from refresh to refresh (renewing it)
// instead of taking a new epoch each time: an epoch is a claim document that stays, and a
// refresh every 2 s would add one every 2 s. Another process takes over once the lease has
// run out (LEASE_MS after the holder's last renewal) or was released.
import { acquireLease, leaseTakenOver } from '../db/claims.js';
import type { Clock } from '../lib/clock.js';
import { RollupStateModel } from './rollup-model.js';

export const STATE_ID = 'rollups';
const RESOURCE = 'reach-rollups';
const LEASE_MS = 60_000;
/** A holder renews once this much of its lease has passed (work that takes long renews as it goes). */
const RENEW_AFTER_MS = LEASE_MS / 4;

export interface HeldLease {
  epoch: number;
  /** False once another process took the lease over; otherwise renews it when due. */
  keep(): Promise<boolean>;
}

export class RollupLease {
  /** When this process last renewed each owner's lease (its epoch): a kept lease is renewed only when due. */
  private readonly renewals = new Map<string, { epoch: number; at: Date }>();

  constructor(private readonly clock: Clock) {}

  /** The lease for `owner` (kept or newly taken), or null while another process holds it. */
  async take(owner: string): Promise<HeldLease | null> {
    const now = this.clock.now();
    const state = await RollupStateModel.findById(STATE_ID).lean();
    const lease = state?.lease;
    const live = lease?.until ? lease.until > now : false;
    if (live && lease?.owner === owner && !(await leaseTakenOver(RESOURCE, lease.epoch))) {
      // Kept from the last refresh: renewed only once RENEW_AFTER_MS has passed since this
      // process last renewed it (an idle refresher every 2 s wrote the state every 2 s).
      const last = this.renewals.get(owner);
      return this.held(owner, lease.epoch, last?.epoch === lease.epoch ? last.at : undefined);
    }
    const current = lease?.until ? { epoch: lease.epoch, until: lease.until } : null;
    const won = await acquireLease(RESOURCE, current, owner, now, LEASE_MS);
    if (!won) return null;
    await RollupStateModel.updateOne(
      { _id: STATE_ID },
      { $set: { lease: { epoch: won.epoch, until: won.until, owner } } },
      { upsert: true },
    );
    this.renewals.set(owner, { epoch: won.epoch, at: now });
    return this.held(owner, won.epoch, now);
  }

  /** Hands the lease back at once (an expired lease is free to take). */
  async release(owner: string): Promise<void> {
    await RollupStateModel.updateOne({ _id: STATE_ID, 'lease.owner': owner }, { $set: { 'lease.until': new Date(0) } });
  }

  private async held(owner: string, epoch: number, renewedAt?: Date): Promise<HeldLease> {
    const fresh = renewedAt && this.clock.now().getTime() - renewedAt.getTime() < RENEW_AFTER_MS;
    let renewed = fresh ? renewedAt : await this.renew(owner, epoch);
    return {
      epoch,
      keep: async () => {
        if (await leaseTakenOver(RESOURCE, epoch)) return false;
        if (this.clock.now().getTime() - renewed.getTime() >= RENEW_AFTER_MS) renewed = await this.renew(owner, epoch);
        return true;
      },
    };
  }

  private async renew(owner: string, epoch: number): Promise<Date> {
    const now = this.clock.now();
    await RollupStateModel.updateOne(
      { _id: STATE_ID, 'lease.epoch': epoch },
      { $set: { 'lease.until': new Date(now.getTime() + LEASE_MS), 'lease.owner': owner } },
    );
    this.renewals.set(owner, { epoch, at: now });
    return now;
  }
}

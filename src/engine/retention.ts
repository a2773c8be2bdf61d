// Retention: what the engine wrote to keep its promises while a run was going (claims,
// send attempts, rate slots, outbox messages, confirmation copies, the per-delivery fields a
// send needs) is pruned or compacted once no promise needs it; what statistics, exports,
// follow-ups and the audit log read stays exactly as it was. Each job is safe to run at any
// time, in any number of schedulers at once, and again after a crash. See docs/retention.md.
import { ClaimModel, SendAttemptModel, acquireLease } from '../db/claims.js';
import { ManualConfirmationModel } from '../channels/manual/model.js';
import type { Clock } from '../lib/clock.js';
import { type Loop, startLoop } from '../lib/loop.js';
import { NotificationStepModel } from '../notifications/model.js';
import { dropFixedCredentials } from '../tracking/batch-fixed.js';
import { type BatchItem, DeliveryBatchModel } from '../tracking/model.js';
import { BatchWakeModel, QueueEntryModel } from './model.js';
import { deliveryId } from './queue.js';
import { pruneRateSlots } from './rate-limit.js';

export interface RetentionSettings {
  /** A settled run's internals are kept this long after its last write. */
  keepDays: number;
  /** How often the jobs run. */
  everyMs: number;
}

/** An expired lease claim is kept this long (a stale holder's check looks at the next epoch). */
const LEASE_CLAIM_KEEP_MS = 60 * 60_000;
/** How long retention holds a batch while it compacts it. */
const COMPACT_LEASE_MS = 60_000;

export interface RetentionReport {
  rateSlots: number;
  leaseClaims: number;
  sendAttempts: number;
  notificationMessages: number;
  batchesCompacted: number;
  confirmationCopies: number;
}

/** Runs that still have work (a work-list entry, parked ones included): their attempts decide sends. */
async function runsWithWork(): Promise<Set<string>> {
  const entries = await QueueEntryModel.find({}, { _id: 1 }).lean<{ _id: string }[]>();
  return new Set(entries.map((e) => e._id.slice(0, e._id.indexOf('|'))));
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class Retention {
  readonly owner = `retention-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  constructor(
    private readonly clock: Clock,
    private readonly settings: RetentionSettings,
  ) {}

  private cutoff(): Date {
    return new Date(this.clock.now().getTime() - this.settings.keepDays * 24 * 60 * 60_000);
  }

  /** Every job once, in order; returns what each removed or compacted. */
  async runOnce(): Promise<RetentionReport> {
    return {
      rateSlots: await this.rateSlots(),
      leaseClaims: await this.leaseClaims(),
      sendAttempts: await this.sendAttempts(),
      notificationMessages: await this.notificationMessages(),
      ...(await this.compactBatches()),
    };
  }

  /** Rate slots of windows long past (engine/rate-limit.ts keeps what a new process needs). */
  rateSlots(): Promise<number> {
    return pruneRateSlots(this.clock.now());
  }

  /**
   * Lease epochs (batch, run planning, intents, roll-ups) that ended more than an hour ago.
   * A lease's holder records its epoch on the resource and renews it there; a new claimer
   * starts after the recorded epoch, so an ended epoch's claim decides nothing. One-time
   * decisions (state changes, intents done, review decisions) have no end and stay.
   */
  async leaseClaims(): Promise<number> {
    const before = new Date(this.clock.now().getTime() - LEASE_CLAIM_KEEP_MS);
    return (await ClaimModel.deleteMany({ until: { $ne: null, $lt: before } })).deletedCount;
  }

  /**
   * Send attempts older than the retention, except those of runs with work left: a delivery
   * still pending may be one a dead holder had claimed, and its claim is what marks it
   * uncertain instead of sending it twice. A settled delivery's attempts are never read again.
   */
  async sendAttempts(): Promise<number> {
    const live = [...(await runsWithWork())];
    const filter: Record<string, unknown> = { at: { $lt: this.cutoff() } };
    if (live.length > 0) filter._id = { $not: new RegExp(`^(?:${live.map(escapeRegex).join('|')})/`) };
    return (await SendAttemptModel.deleteMany(filter)).deletedCount;
  }

  /**
   * The outbox message of officers' notification steps that are done (sent, failed, …):
   * only a step still `sending` is posted again. The step itself (who, when, which tasks,
   * its outcome) stays for the campaign page.
   */
  async notificationMessages(): Promise<number> {
    const result = await NotificationStepModel.updateMany(
      { status: { $ne: 'sending' }, at: { $lt: this.cutoff() }, message: { $ne: null } },
      { $set: { message: null } },
    );
    return result.modifiedCount;
  }

  /**
   * Settled batches not written for the retention period lose what only a send needs (each
   * delivery's sealed credentials and due time) and the confirmation copies filed under their
   * deliveries once the batch has recorded them. Everything exports and statistics read
   * (statuses, attempts, times, errors, names, members) stays. The job takes the batch's lease
   * like a worker, so it is the batch's only writer, and leaves `updatedAt` alone (nothing
   * the statistics fold changed). A follow-up reads a compacted group's credentials from the
   * group directory (tracking/recipients.ts).
   */
  async compactBatches(): Promise<{ batchesCompacted: number; confirmationCopies: number }> {
    const now = this.clock.now();
    const candidates = await DeliveryBatchModel.find(
      { dueAt: null, compactedAt: null, updatedAt: { $lt: this.cutoff() } },
      { _id: 1, lease: 1 },
    ).lean<{ _id: string; lease?: { epoch?: number; until?: Date | null } }[]>();
    let batchesCompacted = 0;
    let confirmationCopies = 0;
    for (const candidate of candidates) {
      const current = candidate.lease?.until
        ? { epoch: candidate.lease.epoch ?? 0, until: candidate.lease.until }
        : null;
      const lease = await acquireLease(`batch:${candidate._id}`, current, this.owner, now, COMPACT_LEASE_MS);
      if (!lease) continue; // a worker holds it (a confirmation): next time
      const batch = await DeliveryBatchModel.findById(candidate._id, {
        items: 1,
        occurrenceId: 1,
        dueAt: 1,
        fixedId: 1,
      }).lean<{
        items: BatchItem[];
        occurrenceId: string;
        dueAt: Date | null;
        fixedId?: string | null;
      }>();
      if (!batch || batch.dueAt !== null) continue;
      // The packed layout keeps the credentials in the batch's packed part (tracking/batch-fixed.ts).
      if (batch.fixedId) await dropFixedCredentials(batch.fixedId);
      const items = batch.items.map(({ credentialsSealed: _, nextAt: __, ...kept }) => kept);
      const result = await DeliveryBatchModel.collection.updateOne(
        { _id: candidate._id as never, 'lease.epoch': { $lte: lease.epoch } },
        { $set: { items, compactedAt: now, lease: { epoch: lease.epoch, until: now, owner: this.owner } } },
      );
      if (result.matchedCount === 0) continue;
      batchesCompacted += 1;
      // Copies the batch has recorded (a confirmed manual delivery, a reported WeCom customer
      // group): the worker looks them up only for deliveries still awaiting.
      const recorded = batch.items.filter(
        (item) =>
          (item.channel === 'manual' || item.channel === 'wecom_group') &&
          item.status !== 'awaiting' &&
          !(item.channel === 'manual' && item.status === 'uncertain'),
      );
      const deleted = await Promise.all(
        recorded.map((item) =>
          ManualConfirmationModel.deleteOne({ _id: `reference:${deliveryId(batch.occurrenceId, item.groupId)}` }),
        ),
      );
      confirmationCopies += deleted.reduce((sum, r) => sum + r.deletedCount, 0);
      // Its wake marker (engine/model.ts): only a holder's look after its release reads it, and
      // this job holds the lease; a later wake writes it again.
      if (batch.items.some((item) => item.channel === 'manual' || item.channel === 'wecom_group'))
        await BatchWakeModel.deleteOne({ _id: candidate._id });
    }
    return { batchesCompacted, confirmationCopies };
  }

  /** Runs the jobs now and then every `everyMs` after a pass ends (never two at once) until stopped. */
  start(onError: (error: unknown) => void): Loop {
    return startLoop(() => this.runOnce(), this.settings.everyMs, onError);
  }
}

// The worker: claim a due batch → for each due delivery: rate-limit per robot → claim the
// attempt → render and send → record the outcome; checkpoint the batch as it goes and
// release it with its next due time. A worker killed at any point loses nothing: the batch
// is taken over when its lease expires, and a delivery whose attempt had been claimed but
// not recorded is marked uncertain instead of being sent a second time.
import { randomUUID } from 'node:crypto';
import type { CampaignService } from '../campaigns/service.js';
import { type QuietHours, deferForQuietHours } from '../campaigns/schedule.js';
import type { Clock } from '../lib/clock.js';
import type { BatchDoc, BatchItem } from '../tracking/model.js';
import { DEFAULT_RETRY, type RetryPolicy, retryDelayMs } from './backoff.js';
import type { EnginePorts, SendRequest, SendResult } from './ports.js';
import { type HeldBatch, attemptKey, claimAttempts, claimBatch, deliveryId, dueBatchIds, writeBatch } from './queue.js';
import { RobotRateLimiter } from './rate-limit.js';

export interface WorkerSettings {
  /** Sends in flight at once. */
  concurrency: number;
  /** Batches handled at once by this worker. */
  parallelBatches: number;
  retry: RetryPolicy;
  timeZone: string;
  quietHours: QuietHours;
  /** Idle wait between looks at the work list. */
  pollMs: number;
  /** A wait for a robot's window longer than this leaves the delivery for later. */
  maxInlineWaitMs: number;
  /** Hold on a batch; renewed at each checkpoint. */
  leaseMs: number;
}

export const DEFAULT_WORKER: WorkerSettings = {
  concurrency: 16,
  parallelBatches: 2,
  retry: DEFAULT_RETRY,
  timeZone: 'Asia/Shanghai',
  quietHours: { start: '22:00', end: '07:00' },
  pollMs: 500,
  maxInlineWaitMs: 3_000,
  leaseMs: 60_000,
};

const PAUSE_RECHECK_MS = 30_000;

/**
 * Waves of attempts (`concurrency` each) a batch may have claimed without their outcome
 * recorded: the wave being sent and the next one, so the lanes never wait for a claim.
 */
export const MAX_UNRECORDED_WAVES = 2;

/**
 * The most deliveries one crash of a worker can leave uncertain: claimed attempts whose
 * outcome was not yet recorded, in each batch it was handling.
 */
export function maxUncertainPerCrash(settings: Pick<WorkerSettings, 'concurrency' | 'parallelBatches'>): number {
  return settings.parallelBatches * MAX_UNRECORDED_WAVES * settings.concurrency;
}

function throwFirstFailure(results: PromiseSettledResult<unknown>[]): void {
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) throw failure.reason;
}

export class Worker {
  readonly id = `worker-${randomUUID()}`;
  private readonly limiter = new RobotRateLimiter();
  private stopping = false;
  private readonly written = (batchIds: string[]) => this.ports.batchesWritten(batchIds);
  private loop: Promise<void> | null = null;

  constructor(
    private readonly campaigns: CampaignService,
    private readonly ports: EnginePorts,
    private readonly clock: Clock,
    private readonly settings: WorkerSettings = DEFAULT_WORKER,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const handled = await this.drainOnce().catch(() => 0);
      if (handled === 0 && !this.stopping) await new Promise((r) => setTimeout(r, this.settings.pollMs));
    }
  }

  /** Handles the batches due now (a few at a time); returns how many it held. */
  async drainOnce(): Promise<number> {
    const ids = await dueBatchIds(this.clock.now(), this.settings.parallelBatches * 4);
    // Workers start at different places in the list so they do not fight for the same batch.
    const offset = ids.length ? Math.floor(Math.random() * ids.length) : 0;
    const ordered = [...ids.slice(offset), ...ids.slice(0, offset)];
    let handled = 0;
    const lanes = Array.from({ length: this.settings.parallelBatches }, async () => {
      while (ordered.length && !this.stopping) {
        const held = await claimBatch(ordered.shift()!, this.id, this.clock.now(), this.settings.leaseMs);
        if (held) {
          handled += 1;
          await this.processBatch(held);
        }
      }
    });
    throwFirstFailure(await Promise.allSettled(lanes));
    return handled;
  }

  async processBatch(held: HeldBatch): Promise<void> {
    const items = held.batch.items.map((item) => ({ ...item }));
    await this.recordConfirmations(held, items);
    const campaign = await this.campaigns.findForEngine(held.batch.campaignId);
    const stopReason =
      !campaign || campaign.status === 'cancelled' ? (campaign?.retractedAt ? '通告已撤回' : '活动已取消') : null;
    if (stopReason) {
      for (const item of items)
        if (item.status === 'pending') Object.assign(item, { status: 'skipped', lastError: stopReason, nextAt: null });
      await writeBatch(held, items, this.clock.now(), { release: true, written: this.written });
      return;
    }
    // A withdrawn notice silences every campaign that uses it, paused ones included.
    const sendable = await this.ports.noticeSendable(held.batch.noticeId);
    if (!sendable.ok) {
      for (const item of items)
        if (item.status === 'pending')
          Object.assign(item, { status: 'skipped', lastError: sendable.reason, nextAt: null });
      await writeBatch(held, items, this.clock.now(), { release: true, written: this.written });
      return;
    }
    if (campaign!.status === 'paused') {
      // Items keep their due times; the batch is looked at again later (resume pulls it forward).
      const notBefore = new Date(this.clock.now().getTime() + PAUSE_RECHECK_MS);
      await writeBatch(held, items, this.clock.now(), { release: true, notBefore, written: this.written });
      return;
    }
    await this.sendDue(held, items);
  }

  /** Manual-channel deliveries the officer has confirmed since: awaiting → confirmed. */
  private async recordConfirmations(held: HeldBatch, items: BatchItem[]): Promise<void> {
    const awaiting = items.filter((item) => item.status === 'awaiting');
    if (awaiting.length === 0) return;
    const idOf = (item: BatchItem) => deliveryId(held.batch.occurrenceId, item.groupId);
    const confirmed = await this.ports.confirmations(awaiting.map(idOf));
    for (const item of awaiting) {
      const at = confirmed.get(idOf(item));
      if (at) Object.assign(item, { status: 'confirmed', sentAt: at });
    }
  }

  /** Leaves `item` for later when its robot's window is full; true when it may go now. */
  private async passRateLimit(item: BatchItem): Promise<boolean> {
    const windows = this.ports.rateLimits(item.channel);
    const wait = this.limiter.reserve(item.robotKey, windows, this.clock.now().getTime());
    if (wait === 0) return true;
    if (wait <= this.settings.maxInlineWaitMs) {
      await new Promise((r) => setTimeout(r, wait));
      if (this.limiter.reserve(item.robotKey, windows, this.clock.now().getTime()) === 0) return true;
    }
    item.nextAt = new Date(this.clock.now().getTime() + Math.max(wait, 1_000));
    return false;
  }

  /**
   * Claims the next attempt of up to `concurrency` due deliveries in one insert. A delivery
   * whose attempt someone else already claimed (a worker that died holding this batch) may
   * have been posted: it is marked uncertain, never sent again.
   */
  private async claimWave(occurrenceId: string, pending: BatchItem[]): Promise<BatchItem[]> {
    const wave: BatchItem[] = [];
    while (pending.length && wave.length < this.settings.concurrency) {
      const item = pending.shift()!;
      if (await this.passRateLimit(item)) wave.push(item);
    }
    const keyOf = (item: BatchItem) => ({
      deliveryId: deliveryId(occurrenceId, item.groupId),
      attempt: item.attempts + 1,
    });
    const won = await claimAttempts(wave.map(keyOf), this.id, this.clock.now());
    const ready: BatchItem[] = [];
    for (const item of wave) {
      const key = keyOf(item);
      item.attempts = key.attempt;
      if (won.has(attemptKey(key.deliveryId, key.attempt))) {
        item.status = 'sending';
        ready.push(item);
      } else {
        Object.assign(item, { status: 'uncertain', lastError: '接管时发现未确认的发送（可能已发出）', nextAt: null });
      }
    }
    return ready;
  }

  private async sendDue(held: HeldBatch, items: BatchItem[]): Promise<void> {
    const now = () => this.clock.now();
    const { concurrency, leaseMs } = this.settings;
    const pending = items.filter((item) => item.status === 'pending' && (item.nextAt ?? new Date(0)) <= now());
    const ready: BatchItem[] = [];
    let lastCheckpoint = Date.now();
    let lost = false;
    let failed = false;
    // Outcomes settled in memory since the last checkpoint took its snapshot.
    let settledSinceSnapshot = 0;

    let checkpointing: Promise<void> | null = null;
    const checkpoint = (): Promise<void> => {
      checkpointing ??= (async () => {
        lastCheckpoint = Date.now();
        const recorded = snapshot(items);
        settledSinceSnapshot = 0;
        lost = !(await writeBatch(held, recorded, now(), { release: false, renewMs: leaseMs, written: this.written }));
      })().finally(() => {
        checkpointing = null;
      });
      return checkpointing;
    };
    // Renew the lease well before it could run out: before and after sends.
    const renewIfDue = async () => {
      if (!lost && !checkpointing && Date.now() - lastCheckpoint > Math.min(2_000, leaseMs / 3)) await checkpoint();
    };
    // Claimed attempts whose outcome a crash would lose stay within MAX_UNRECORDED_WAVES
    // waves: before claiming beyond that, the outcomes so far are recorded.
    const claimNext = async () => {
      if (checkpointing) await checkpointing;
      const unrecorded = items.filter((item) => item.status === 'sending').length + settledSinceSnapshot;
      if (unrecorded + concurrency > MAX_UNRECORDED_WAVES * concurrency) await checkpoint();
      if (!lost) ready.push(...(await this.claimWave(held.batch.occurrenceId, pending)));
    };

    let claiming: Promise<void> | null = null;
    const lane = async () => {
      while (!lost && !failed) {
        if (ready.length === 0) {
          if (pending.length === 0) return;
          claiming ??= claimNext().finally(() => {
            claiming = null;
          });
          await claiming;
          continue;
        }
        const item = ready.shift()!;
        await renewIfDue();
        const result = await this.send(held, item);
        this.settle(item, result, held.batch.priority as 'normal' | 'urgent');
        settledSinceSnapshot += 1;
        await renewIfDue();
      }
    };
    // A lane that fails (the database) stops the others from claiming more; all of them end
    // before the batch is written and released, so no send outlives its batch's handling.
    const lanes = await Promise.allSettled(
      Array.from({ length: Math.min(concurrency, pending.length) }, () =>
        lane().catch((error: unknown) => {
          failed = true;
          throw error;
        }),
      ),
    );
    if (!lost) await writeBatch(held, snapshot(items), now(), { release: true, written: this.written });
    throwFirstFailure(lanes);
  }

  private async send(held: HeldBatch, item: BatchItem): Promise<SendResult> {
    try {
      return await this.ports.send(sendRequestFor(held.batch, item), new AbortController().signal);
    } catch (error) {
      // Rendering or a bug, before anything was posted: worth another try later.
      return { status: 'retryable', reason: error instanceof Error ? error.message : String(error) };
    }
  }

  private settle(item: BatchItem, result: SendResult, priority: 'normal' | 'urgent'): void {
    const now = this.clock.now();
    switch (result.status) {
      case 'sent':
      case 'awaiting':
        Object.assign(item, { status: result.status, sentAt: now, nextAt: null, lastError: null });
        return;
      case 'uncertain':
        Object.assign(item, { status: 'uncertain', lastError: result.reason, nextAt: null });
        return;
      case 'permanent':
        Object.assign(item, { status: 'failed', lastError: result.reason, nextAt: null });
        if (result.flagGroup) void this.ports.flagGroup(item.groupId, result.reason).catch(() => undefined);
        return;
      case 'retryable': {
        if (item.attempts >= this.settings.retry.maxAttempts) {
          Object.assign(item, {
            status: 'failed',
            lastError: `重试 ${item.attempts} 次仍失败：${result.reason}`,
            nextAt: null,
          });
          return;
        }
        const delay = retryDelayMs(item.attempts, this.settings.retry, Math.random(), result.retryAfterMs);
        const at = deferForQuietHours(
          new Date(now.getTime() + delay),
          priority,
          this.settings.quietHours,
          this.settings.timeZone,
        );
        Object.assign(item, { status: 'pending', lastError: result.reason, nextAt: at });
      }
    }
  }
}

/**
 * What goes to the database: a delivery still in flight at a checkpoint is written as it
 * was before its attempt (pending, previous attempt count), so a worker taking over tries
 * to claim that same attempt, finds it taken and marks the delivery uncertain.
 */
function snapshot(items: BatchItem[]): BatchItem[] {
  return items.map((item) =>
    item.status === 'sending' ? { ...item, status: 'pending', attempts: item.attempts - 1 } : { ...item },
  );
}

/** What the dispatcher needs to render and post one delivery of a batch. */
export function sendRequestFor(
  batch: Pick<BatchDoc, 'occurrenceId' | 'campaignId' | 'noticeId' | 'cardStyle' | 'regionPath'>,
  item: BatchItem,
): SendRequest {
  return {
    deliveryId: deliveryId(batch.occurrenceId, item.groupId),
    campaignId: batch.campaignId,
    noticeId: batch.noticeId,
    cardStyle: batch.cardStyle,
    groupId: item.groupId,
    groupName: item.groupName,
    regionPath: [...batch.regionPath, item.villageCode],
    channel: item.channel,
    credentialsSealed: item.credentialsSealed,
    personal: {
      villageName: item.villageName,
      townshipName: item.townshipName,
      officerName: item.officerName ?? null,
      officerPhone: item.officerPhone ?? null,
    },
  };
}

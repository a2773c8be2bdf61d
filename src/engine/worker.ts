// The worker: claim a due batch → for each due delivery: rate-limit per robot → claim the
// attempt → check the campaign and notice (the fence a cancel, pause or retraction meets)
// → render and send → record the outcome; checkpoint the batch as it goes and release it
// with its next due time. Attempts are claimed only for lanes ready to send them, so a
// worker killed at any point leaves uncertain at most the sends it had in flight; the
// batch is taken over when its lease expires, and a delivery whose attempt had been claimed
// but not recorded is marked uncertain instead of being sent a second time.
import { randomUUID } from 'node:crypto';
import type { CampaignService } from '../campaigns/service.js';
import { MISSED_RUN_MS, type QuietHours, deferForQuietHours, isQuiet } from '../campaigns/schedule.js';
import type { Clock } from '../lib/clock.js';
import type { BatchDoc, BatchItem } from '../tracking/model.js';
import { DEFAULT_RETRY, type RetryPolicy, retryDelayMs } from './backoff.js';
import type { EnginePorts, SendRequest, SendResult } from './ports.js';
import {
  type HeldBatch,
  attemptKey,
  claimAttempts,
  claimBatch,
  deliveryId,
  dueBatches,
  earliestDue,
  expediteBatch,
  writeBatch,
} from './queue.js';
import { wasWoken } from './control.js';
import { SharedRateLimiter } from './rate-limit.js';
import { claimedByStops } from './skip.js';

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
  /** A lane re-reads the work list before its next batch once its copy is this old. */
  relookMs: number;
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
  relookMs: 1_000,
};

/**
 * Deliveries one crash of a worker can leave uncertain: per batch it was handling, the
 * sends in flight plus outcomes settled since its last checkpoint, which together stay
 * within one per lane (it checkpoints before claiming beyond that). Attempts are claimed
 * only for idle lanes, just before they send, never a wave ahead.
 */
export function maxUncertainPerCrash(settings: Pick<WorkerSettings, 'concurrency' | 'parallelBatches'>): number {
  return settings.parallelBatches * settings.concurrency;
}

function throwFirstFailure(results: PromiseSettledResult<unknown>[]): void {
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) throw failure.reason;
}

/** What a batch's campaign and notice allow right now. */
type Verdict = { kind: 'send' } | { kind: 'skip'; reason: string } | { kind: 'hold' };

/**
 * How long freed slots are gathered before one claim serves them (see sendDue): a quarter
 * of a typical send's time, within these bounds.
 */
const GATHER_MIN_MS = 25;
const GATHER_MAX_MS = 250;
const GATHER_SHARE = 0.25;
/** How often a held batch's checkpoints tell the statistics (roll-up markers). */
const STATISTICS_MARK_MS = 2_000;

const TAKEN_OVER = '接管时发现未确认的发送（可能已发出）';
export const HELD_PAST_LIMIT = '暂停或待审期间已错过本次发送时间一小时以上，恢复后不再补发';

/** When the batch's run was due: recorded by the planner; older batches: the run time in their key. */
function runDueOf(batch: HeldBatch['batch']): Date {
  const recorded = (batch as { runDueAt?: Date | null }).runDueAt;
  if (recorded) return recorded;
  return new Date(batch.occurrenceId.slice(batch.occurrenceId.lastIndexOf('@') + 1));
}

export class Worker {
  readonly id = `worker-${randomUUID()}`;
  /** Per-robot windows shared with every other worker through the database. */
  private readonly limiter = new SharedRateLimiter(this.id);
  private readonly sendTime = new TypicalDuration();
  private stopping = false;
  private readonly written = (batchIds: string[]) => this.ports.batchesWritten(batchIds);
  private loop: Promise<void> | null = null;

  constructor(
    private readonly campaigns: CampaignService,
    private readonly ports: EnginePorts,
    private readonly clock: Clock,
    private readonly settings: WorkerSettings = DEFAULT_WORKER,
  ) {}

  start(onError: (error: unknown) => void = logLoopError): void {
    this.loop ??= this.run(onError);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(onError: (error: unknown) => void): Promise<void> {
    while (!this.stopping) {
      const handled = await this.drainOnce().catch((error: unknown) => {
        onError(error);
        return 0;
      });
      if (handled === 0 && !this.stopping) await new Promise((r) => setTimeout(r, this.settings.pollMs));
    }
  }

  /** Handles the batches due now (a few at a time); returns how many it held. */
  async drainOnce(): Promise<number> {
    const ordered = spread(await dueBatches(this.clock.now(), this.listLength()));
    let readAt = performance.now();
    let handled = 0;
    let busy = 0;
    const lanes = Array.from({ length: this.settings.parallelBatches }, async () => {
      let lookedAgain = false;
      while (!this.stopping) {
        // A list read more than `relookMs` ago is read again before the next batch: an urgent
        // run's batches (first in the list) must not wait behind the rest of an old list,
        // which takes many seconds to send when the machine is busy.
        if (ordered.length > 0 && performance.now() - readAt >= this.settings.relookMs) {
          readAt = performance.now();
          const fresh = spread(await dueBatches(this.clock.now(), this.listLength()));
          ordered.splice(0, ordered.length, ...fresh);
        }
        // A lane that runs out while another is still sending looks at the list again
        // rather than idling until that batch is done (once, unless it finds work there).
        if (ordered.length === 0 && busy > 0 && !lookedAgain) {
          ordered.push(...spread(await dueBatches(this.clock.now(), 4)));
          lookedAgain = true;
        }
        const next = ordered.shift();
        if (next === undefined) break;
        busy += 1;
        try {
          const held = await claimBatch(next, this.id, this.clock.now(), this.settings.leaseMs);
          if (held) {
            lookedAgain = false;
            handled += 1;
            await this.processBatch(held);
          }
        } finally {
          busy -= 1;
        }
      }
    });
    throwFirstFailure(await Promise.allSettled(lanes));
    return handled;
  }

  /**
   * How many entries of the work list a look reads: enough that several workers, each
   * starting at a random place among the normal entries, seldom try the same batch (a lost
   * race costs a read of the batch and a failed claim).
   */
  private listLength(): number {
    return this.settings.parallelBatches * 16;
  }

  /**
   * Read fresh for every claim of attempts: a cancelled campaign or a withdrawn notice is
   * skipped; a campaign that is not approved (paused, or edited and back in review) is held.
   */
  private async verdict(batch: HeldBatch['batch']): Promise<Verdict> {
    // Both read at once: this is on the path of every claim.
    const [campaign, sendable] = await Promise.all([
      this.campaigns.engineState(batch.campaignId),
      this.ports.noticeSendable(batch.noticeId),
    ]);
    if (!campaign) return { kind: 'skip', reason: '推送不存在' };
    if (campaign.status === 'cancelled') return { kind: 'skip', reason: campaign.retracted ? '通告已撤回' : '推送已取消' };
    // A withdrawn notice silences every campaign that uses it, paused ones included.
    if (!sendable.ok) return { kind: 'skip', reason: sendable.reason };
    if (campaign.status !== 'approved' && campaign.status !== 'completed') return { kind: 'hold' };
    return { kind: 'send' };
  }

  async processBatch(held: HeldBatch): Promise<void> {
    const items = held.batch.items.map((item) => ({ ...item }));
    await this.recordConfirmations(held, items);
    const heldSince = (held.batch as { heldSince?: Date | null }).heldSince ?? null;
    // The campaign and notice are read after each claim of attempts (the fence), so a batch
    // that was not parked goes straight to its first claim: that read decides skip or hold as
    // this one would (its claimed attempts counted, never sent). A parked batch is looked at
    // first: its missed-run limit below applies only once its campaign may send again.
    if (heldSince) {
      const verdict = await this.verdict(held.batch);
      if (verdict.kind !== 'send') return this.halt(held, items, verdict);
      // Released from a hold (pause, edit): what is left of a run past its missed-run limit is
      // not sent late (the daily 09:00 run paused on day 1 and resumed on day 3), it is skipped.
      if (this.clock.now().getTime() - runDueOf(held.batch).getTime() > MISSED_RUN_MS) {
        return this.halt(held, items, { kind: 'skip', reason: HELD_PAST_LIMIT });
      }
    }
    const released = heldSince ? { heldSince: null } : {};
    const stopped = await this.sendDue(held, items);
    if (stopped === 'lost') return;
    // The campaign may have changed during the sends: a cancel must not wait for the due
    // time this release would give the batch. With nothing left pending there is no due
    // time to wait for (a skip or a hold would change nothing), so no look is needed.
    const after = stopped ?? (earliestDue(items) ? await this.verdict(held.batch) : { kind: 'send' as const });
    if (after.kind !== 'send') return this.halt(held, items, after);
    // A confirmation that came during the hold is found by the look after the release.
    if (!(await writeBatch(held, items, this.clock.now(), { release: true, written: this.written, ...released })))
      return;
    await this.recheckAfterRelease(held, items);
  }

  /**
   * After a release: a cancel, pause or resume, or an officer's confirmation, that came
   * between the last look and the entry write could have been overwritten by it; look
   * once more and bring the entry forward if so (both sides write, then read).
   */
  private async recheckAfterRelease(held: HeldBatch, items: BatchItem[], parked = false): Promise<void> {
    const due = earliestDue(items);
    const watching = items.some((item) => confirmable(item));
    if (!due && !watching) return;
    // Only a batch woken from outside (a confirmation's wake writes its marker before the
    // entry this release may have overwritten) can have a confirmation to find: one `_id`
    // read, not one per awaiting delivery; read beside the campaign's state.
    const [verdict, woken] = await Promise.all([
      due ? this.verdict(held.batch) : null,
      watching ? wasWoken(held.batch._id) : false,
    ]);
    const changed = verdict && (parked ? verdict.kind !== 'hold' : verdict.kind !== 'send');
    const confirmed = !changed && woken && (await this.newlyConfirmed(held, items));
    if (changed || confirmed) await expediteBatch(held.batch, this.clock.now());
  }

  /** Applies a skip (cancelled, withdrawn) or a hold (parked until resume) and releases. */
  private async halt(held: HeldBatch, items: BatchItem[], verdict: Verdict): Promise<void> {
    const now = this.clock.now();
    if (verdict.kind === 'skip') {
      await this.skipPending(held, items, verdict.reason);
      if (await writeBatch(held, items, now, { release: true, written: this.written, heldSince: null }))
        await this.recheckAfterRelease(held, items);
      return;
    }
    const heldSince = (held.batch as { heldSince?: Date | null }).heldSince ?? now;
    if (await writeBatch(held, items, now, { release: true, park: true, written: this.written, heldSince }))
      await this.recheckAfterRelease(held, items, true);
  }

  /**
   * Pending deliveries of a stopped campaign become skipped, except one whose next attempt
   * a previous holder (a worker that died) had claimed: it may have been posted, so it is
   * uncertain. Claiming that attempt ourselves decides which (only needed when the batch
   * had a holder before this one).
   */
  private async skipPending(held: HeldBatch, items: BatchItem[], reason: string): Promise<void> {
    const pending = items.filter((item) => item.status === 'pending');
    if (pending.length === 0) return;
    let won: Set<string> | null = null;
    const keyOf = (item: BatchItem) => ({
      deliveryId: deliveryId(held.batch.occurrenceId, item.groupId),
      attempt: item.attempts + 1,
    });
    if (held.lease.epoch > 1) {
      won = await claimAttempts(pending.map(keyOf), this.id, this.clock.now());
      const taken = pending.map((item) => attemptKey(keyOf(item).deliveryId, keyOf(item).attempt)).filter((k) => !won!.has(k));
      for (const key of await claimedByStops(taken)) won.add(key);
    }
    for (const item of pending) {
      const key = keyOf(item);
      if (!won || won.has(attemptKey(key.deliveryId, key.attempt))) {
        Object.assign(item, { status: 'skipped', lastError: reason, nextAt: null });
      } else {
        Object.assign(item, { status: 'uncertain', attempts: key.attempt, lastError: TAKEN_OVER, nextAt: null });
      }
    }
  }

  /**
   * Manual-channel deliveries the officer has confirmed since: awaiting (or uncertain) →
   * confirmed; WeCom customer groups WeCom reported on: awaiting → sent, failed or skipped.
   */
  private async recordConfirmations(held: HeldBatch, items: BatchItem[]): Promise<boolean> {
    const open = items.filter((item) => confirmable(item));
    if (open.length === 0) return false;
    const idOf = (item: BatchItem) => deliveryId(held.batch.occurrenceId, item.groupId);
    const confirmed = await this.ports.confirmations(open.map(idOf));
    let any = false;
    for (const item of open) {
      const result = confirmed.get(idOf(item));
      if (!result) continue;
      // A platform's report (WeCom customer groups) is only for the deliveries it was about.
      if (result.status !== 'confirmed' && item.status !== 'awaiting') continue;
      if (result.status === 'confirmed' || result.status === 'sent')
        Object.assign(item, { status: result.status, sentAt: result.at, lastError: null });
      else Object.assign(item, { status: result.status, sentAt: null, lastError: result.reason, nextAt: null });
      any = true;
    }
    return any;
  }

  private async newlyConfirmed(held: HeldBatch, items: BatchItem[]): Promise<boolean> {
    return this.recordConfirmations(held, items.map((item) => ({ ...item })));
  }

  /**
   * The items whose robots' windows (shared by all workers) have room now, in one insert of
   * slot keys; a short wait is waited once, a longer one leaves the item for later.
   */
  private async passRateLimits(all: BatchItem[]): Promise<BatchItem[]> {
    // A delivery following another group's post (same robot) posts nothing: it takes no slot.
    const following = all.filter((item) => item.via);
    const items = all.filter((item) => !item.via);
    if (items.length === 0) return following;
    const ask = (list: BatchItem[]) =>
      this.limiter.reserve(
        list.map((item) => ({ robot: item.robotKey, windows: this.ports.rateLimits(item.channel) })),
        this.clock.now(),
      );
    const waits = await ask(items);
    const passed = items.filter((_, i) => waits[i] === 0);
    const short = items.filter((_, i) => waits[i]! > 0 && waits[i]! <= this.settings.maxInlineWaitMs);
    const later = new Map(items.map((item, i) => [item, waits[i]!] as const));
    if (short.length > 0) {
      await new Promise((r) => setTimeout(r, Math.max(...short.map((item) => later.get(item)!))));
      const again = await ask(short);
      short.forEach((item, i) => {
        if (again[i] === 0) passed.push(item);
        else later.set(item, again[i]!);
      });
    }
    const now = this.clock.now().getTime();
    for (const item of items) {
      if (passed.includes(item)) continue;
      item.nextAt = new Date(now + Math.max(later.get(item)!, 1_000));
    }
    return [...following, ...passed];
  }

  /** True when a normal-priority send must not go now: it moves to the end of quiet hours. */
  private deferredForQuietHours(held: HeldBatch, pending: BatchItem[]): boolean {
    const now = this.clock.now();
    if (held.batch.priority === 'urgent' || !isQuiet(now, this.settings.quietHours, this.settings.timeZone)) return false;
    const at = deferForQuietHours(now, 'normal', this.settings.quietHours, this.settings.timeZone);
    for (const item of pending.splice(0)) item.nextAt = at;
    return true;
  }

  /**
   * Claims the next attempt of up to `count` due deliveries in one insert, then reads the
   * campaign and notice: a send whose attempt was claimed before a cancel (or pause, or
   * retraction) was written may still go (it was in flight); none claimed after it does.
   * A delivery whose attempt someone else already claimed (a worker that died holding this
   * batch) may have been posted: it is marked uncertain, never sent again, except a manual
   * task, whose creation is idempotent per delivery, so the take-over finishes it.
   */
  private async claimFor(
    held: HeldBatch,
    pending: BatchItem[],
    count: number,
    /** A checkpoint being written (true: the lease is still ours): awaited before any attempt is claimed. */
    recorded: Promise<boolean> | null = null,
  ): Promise<{ ready: BatchItem[]; verdict: Verdict }> {
    const wave: BatchItem[] = [];
    let stillHeld = true;
    try {
      while (pending.length && wave.length < count) {
        wave.push(...(await this.passRateLimits(pending.splice(0, count - wave.length))));
      }
    } finally {
      if (recorded) stillHeld = await recorded;
    }
    // The checkpoint found the lease taken over (the caller stops): nothing is claimed.
    if (!stillHeld || wave.length === 0) {
      pending.unshift(...wave);
      return { ready: [], verdict: { kind: 'send' } };
    }
    // Quiet hours are judged at the moment of sending, not at the wave's start: the rate-limit
    // waits above may have carried a normal wave past 22:00. Back to pending, unclaimed: the
    // caller's next look moves them to the end of quiet hours.
    if (held.batch.priority !== 'urgent' && isQuiet(this.clock.now(), this.settings.quietHours, this.settings.timeZone)) {
      pending.unshift(...wave);
      return { ready: [], verdict: { kind: 'send' } };
    }
    const keyOf = (item: BatchItem) => ({
      deliveryId: deliveryId(held.batch.occurrenceId, item.groupId),
      attempt: item.attempts + 1,
    });
    const won = await claimAttempts(wave.map(keyOf), this.id, this.clock.now());
    // An attempt a stop claimed was never sent (the stop's write is what is missing): counted,
    // not uncertain; the campaign's verdict below then holds or skips the delivery.
    const taken = wave.map((item) => attemptKey(keyOf(item).deliveryId, keyOf(item).attempt)).filter((k) => !won.has(k));
    const byStops = new Set(taken.length > 0 ? await claimedByStops(taken) : []);
    let verdict: Verdict;
    try {
      verdict = await this.verdict(held.batch);
    } catch (error) {
      // Claimed and known not sent: the attempt counts, a later holder claims the next one.
      for (const item of wave) if (won.has(attemptKey(keyOf(item).deliveryId, keyOf(item).attempt))) item.attempts += 1;
      throw error;
    }
    const ready: BatchItem[] = [];
    for (const item of wave) {
      const key = keyOf(item);
      item.attempts = key.attempt;
      const ours = won.has(attemptKey(key.deliveryId, key.attempt));
      if (byStops.has(attemptKey(key.deliveryId, key.attempt))) {
        pending.unshift(item);
      } else if (!ours && item.channel !== 'manual') {
        Object.assign(item, { status: 'uncertain', lastError: TAKEN_OVER, nextAt: null });
      } else if (verdict.kind === 'send') {
        item.status = 'sending';
        ready.push(item);
      } else if (ours) {
        // Claimed and known not sent: pending again, a later holder claims the next attempt.
        pending.unshift(item);
      } else {
        item.attempts -= 1;
        pending.unshift(item);
      }
    }
    return { ready, verdict };
  }

  /**
   * Sends the due deliveries, at most `concurrency` at once. One loop claims attempts for
   * every free slot in one insert (the slots freed while the previous claim was made), and
   * hands each claimed delivery to a send at once. Returns 'lost' when the lease was taken
   * over (nothing more may be written), the verdict that stopped it, or null.
   */
  private async sendDue(held: HeldBatch, items: BatchItem[]): Promise<Verdict | 'lost' | null> {
    const now = () => this.clock.now();
    const { concurrency, leaseMs } = this.settings;
    // Officer tasks first: a wave's tasks are made in one insert with their watch-list and
    // count writes (Dispatch.sendWave), so a hold's tasks in its first wave cost those writes
    // once, not once per wave they were spread over.
    const pending = items
      .filter((item) => item.status === 'pending' && (item.nextAt ?? new Date(0)) <= now())
      .sort((a, b) => Number(b.channel === 'manual') - Number(a.channel === 'manual'));
    let lastCheckpoint = Date.now();
    let lost = false;
    let failure: { error: unknown } | null = null;
    let stopped: Verdict | null = null;
    // Outcomes settled in memory since the last checkpoint took its snapshot.
    let settledSinceSnapshot = 0;
    const inFlight = new Set<Promise<void>>();
    let gatherUntil: number | null = null;

    // The first checkpoint of a hold marks only once the hold has lasted STATISTICS_MARK_MS:
    // the release marks anyway, and a batch of one or two waves is released sooner.
    let lastMarked = Date.now();
    // The short links of every card this hold may send, in one write (not one per card, nor
    // one per wave), started now so that it runs beside the first claim; awaited before the
    // first card is made (best effort: a card makes its own link if it finds none).
    const cards = pending.filter((item) => !item.via).map((item) => sendRequestFor(held.batch, item));
    let links: Promise<unknown> | null =
      cards.length > 0 && this.ports.prepareSends ? this.ports.prepareSends(cards).catch(() => undefined) : null;
    const checkpoint = async (): Promise<void> => {
      lastCheckpoint = Date.now();
      settledSinceSnapshot = 0;
      // The statistics re-read a marked batch whole: during a hold, one mark per interval
      // is enough (the release always marks).
      const mark = lastCheckpoint - lastMarked >= STATISTICS_MARK_MS;
      if (mark) lastMarked = lastCheckpoint;
      const options = { release: false, renewMs: leaseMs, written: mark ? this.written : undefined };
      lost = !(await writeBatch(held, snapshot(items), now(), options));
    };
    const launch = (item: BatchItem) => {
      const started = Date.now();
      const sending: Promise<void> = this.send(held, item)
        .then((result) => {
          this.sendTime.add(Date.now() - started);
          this.settle(item, result, held.batch.priority as 'normal' | 'urgent');
          settledSinceSnapshot += 1;
        })
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => inFlight.delete(sending));
      inFlight.add(sending);
    };

    try {
      while (!lost && !failure && !stopped) {
        if (pending.length === 0 || inFlight.size >= concurrency) {
          if (inFlight.size === 0) break;
          await Promise.race(inFlight);
          continue;
        }
        // Let the sends finishing now free their slots, so one claim serves them all.
        await new Promise((resolve) => setImmediate(resolve));
        if (this.deferredForQuietHours(held, pending)) continue;
        const free = concurrency - inFlight.size;
        // Claim (and so checkpoint) for many slots at once, not for each slot as it frees:
        // a checkpoint rewrites the whole batch, and one per send made it the cost. Quick
        // sends: half the slots, gathered for 25 ms at most. Slow ones (robots answering in
        // hundreds of ms): the whole wave, for up to a quarter of a send's time, so the
        // sends of one wave start the next together rather than in parts a claim apart.
        const gatherMs = this.sendTime.share(GATHER_SHARE, GATHER_MIN_MS, GATHER_MAX_MS);
        const wave = gatherMs > GATHER_MIN_MS ? concurrency : Math.ceil(concurrency / 2);
        gatherUntil ??= Date.now() + gatherMs;
        const left = gatherUntil - Date.now();
        if (free < Math.min(pending.length, wave) && left > 0) {
          await Promise.race([...inFlight, new Promise((resolve) => setTimeout(resolve, left))]);
          continue;
        }
        gatherUntil = null;
        // What a crash would leave uncertain stays within one per slot: before claiming
        // more, the outcomes settled so far are recorded; the lease is renewed as it goes.
        // The checkpoint is written while the wave's rate slots are taken (they claim nothing),
        // and awaited before its attempts are claimed.
        const unrecorded = inFlight.size + settledSinceSnapshot;
        const recorded =
          unrecorded + free > concurrency || Date.now() - lastCheckpoint > Math.min(2_000, leaseMs / 3)
            ? checkpoint().then(() => !lost)
            : null;
        // Awaited by claimFor after the rate slots; a failed write must not go unhandled meanwhile.
        recorded?.catch(() => undefined);
        const claimed = await this.claimFor(held, pending, free, recorded);
        if (lost) break;
        if (claimed.ready.length > 0) {
          if (links) await links;
          links = null;
          // What the wave's sends can make in one write (manual tasks): its sends wait for it,
          // the others go at once.
          const requests = claimed.ready.map((item) => sendRequestFor(held.batch, item));
          void this.ports.sendWave?.(requests).catch(() => undefined);
        }
        for (const item of claimed.ready) launch(item);
        if (claimed.verdict.kind !== 'send') stopped = claimed.verdict;
      }
    } catch (error) {
      failure ??= { error };
    }
    // No send outlives its batch's handling: all of them end before the batch is written.
    while (inFlight.size) await Promise.race(inFlight);
    if (lost) return 'lost';
    if (failure) {
      await writeBatch(held, snapshot(items), now(), { release: true, written: this.written });
      throw failure.error;
    }
    return stopped;
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
        Object.assign(item, {
          status: result.status,
          sentAt: now,
          nextAt: null,
          lastError: (result.status === 'sent' && result.note) || null,
        });
        return;
      case 'uncertain':
        Object.assign(item, { status: 'uncertain', lastError: result.reason, nextAt: null });
        return;
      case 'permanent':
        Object.assign(item, { status: 'failed', lastError: result.reason, nextAt: null });
        if (result.flagGroup) void this.ports.flagGroup(item.groupId, result.reason).catch(() => undefined);
        return;
      case 'retryable': {
        if (result.waiting) {
          // Waiting for another delivery (the same robot's first group): no attempt was made.
          Object.assign(item, {
            status: 'pending',
            lastError: result.reason,
            nextAt: new Date(now.getTime() + (result.retryAfterMs ?? 5_000)),
          });
          return;
        }
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
 * The order a worker tries the due batches in: every urgent one before any normal one; within
 * each kind from a random place on (wrapping around), so that workers reading the same list at
 * once do not all try its first batch (after each re-look too, not only at the first look). An
 * urgent province push is hundreds of urgent entries: they are spread among the workers too.
 */
export function spread(entries: { id: string; urgent: boolean }[]): string[] {
  const rotated = (ids: string[]) => {
    const offset = Math.floor(Math.random() * ids.length);
    return [...ids.slice(offset), ...ids.slice(0, offset)];
  };
  const urgent = entries.filter((entry) => entry.urgent).map((entry) => entry.id);
  const normal = entries.filter((entry) => !entry.urgent).map((entry) => entry.id);
  return [...rotated(urgent), ...rotated(normal)];
}

/** A running typical duration (exponentially weighted mean) of recent sends. */
class TypicalDuration {
  private mean: number | null = null;

  add(ms: number): void {
    this.mean = this.mean === null ? ms : this.mean * 0.9 + ms * 0.1;
  }

  /** `share` of the typical duration, within [min, max]; min before anything was measured. */
  share(share: number, min: number, max: number): number {
    return Math.min(max, Math.max(min, (this.mean ?? 0) * share));
  }
}

/** Manual-channel deliveries whose officer's confirmation counts whenever it comes. */
function confirmable(item: BatchItem): boolean {
  return item.status === 'awaiting' || (item.status === 'uncertain' && item.channel === 'manual');
}

function logLoopError(error: unknown): void {
  process.stderr.write(`[worker] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
}

/**
 * What goes to the database: a delivery in flight at a checkpoint is written as it was
 * before its attempt (pending, previous attempt count), so a worker taking over tries to
 * claim that same attempt, finds it taken and marks the delivery uncertain.
 */
function snapshot(items: BatchItem[]): BatchItem[] {
  return items.map((item) =>
    item.status === 'sending' ? { ...item, status: 'pending', attempts: item.attempts - 1 } : { ...item },
  );
}

/** What the dispatcher needs to render and post one delivery of a batch. */
export function sendRequestFor(
  batch: Pick<BatchDoc, 'occurrenceId' | 'campaignId' | 'noticeId' | 'cardStyle' | 'regionPath'> & {
    noticeVersion?: number | null;
  },
  item: BatchItem,
): SendRequest {
  return {
    deliveryId: deliveryId(batch.occurrenceId, item.groupId),
    campaignId: batch.campaignId,
    noticeId: batch.noticeId,
    noticeVersion: batch.noticeVersion ?? null,
    cardStyle: batch.cardStyle,
    groupId: item.groupId,
    groupName: item.groupName,
    regionPath: [...batch.regionPath, item.villageCode],
    channel: item.channel,
    credentialsSealed: item.credentialsSealed,
    via: item.via ?? null,
    personal: {
      villageName: item.villageName ?? '',
      townshipName: item.townshipName ?? '',
      officerName: item.officerName ?? null,
      officerPhone: item.officerPhone ?? null,
    },
  };
}

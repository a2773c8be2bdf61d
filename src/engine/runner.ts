// Starts the engine's parts for a process role: the scheduler (node-cron tick → due
// occurrences → planning) and the worker loop. Both are safe to run in any number of
// processes against one database.
import type { Log } from '../lib/log.js';
import cron from 'node-cron';
import type { CampaignService } from '../campaigns/service.js';
import type { QuietHours } from '../campaigns/schedule.js';
import { type DueMark, SCHEDULER_DUE, notDueYet, raiseDue, readDue } from '../db/due-marks.js';
import type { Clock } from '../lib/clock.js';
import type { RegionService } from '../regions/service.js';
import { Planner } from './planner.js';
import type { EnginePorts } from './ports.js';
import { wakeBatchOf } from './control.js';
import { PLANNING_WAKE, PlanningQueueModel, SchedulerWakeModel } from './model.js';
import { startLoop } from '../lib/loop.js';
import { requeueStrandedBatches } from './open-runs.js';
import { createDueOccurrences } from './tick.js';
import { DEFAULT_WORKER, Worker, type WorkerSettings } from './worker.js';

export interface EngineDeps {
  campaigns: CampaignService;
  regions: RegionService;
  ports: EnginePorts;
  clock: Clock;
  timeZone: string;
  quietHours: QuietHours;
  /** The service's log (the planner's line per urgent run). */
  log?: Log;
  worker?: Partial<WorkerSettings>;
  /**
   * Finish the intents (the effects recorded with a state change) whose runner died: the
   * campaigns' (approve, resume, cancel, retract) and the case outcomes'. Each returns how many it ran.
   */
  intentSweeps?: (() => Promise<number | { ran: number; left: number }>)[];
}

export interface RunningPart {
  stop(): Promise<void>;
}

/** Confirmations whose wake may have failed are looked at this often (a small collection). */
const CONFIRMATION_SWEEP_EVERY_MS = 60_000;
/**
 * Batches left without a work-list entry are looked for this often: it reads the batches of
 * the runs still open (engine/open-runs.ts; none when nothing is in flight), and is only
 * needed after a rare crash or a stale holder's write.
 */
const STRANDED_SWEEP_EVERY_MS = 10 * 60_000;
/** The wake counter (an approval or resume) is read this often between ticks: one `_id` read. */
const WAKE_LOOK_MS = 1_000;
/** Unfinished intents are looked for this often (a read of the few documents that carry one). */
const INTENT_SWEEP_EVERY_MS = 5_000;
/** How far back the first confirmation sweep of a process looks. */
const FIRST_CONFIRMATION_SWEEP_MS = 24 * 60 * 60_000;
/**
 * The due marker is never raised further than this ahead: an idle scheduler makes one full
 * pass this often, and a writer's lowering lost to a concurrent raise (FerretDB) costs at most
 * this delay (approvals and resumes also wake the schedulers, which always makes a full pass).
 */
const MAX_IDLE_MS = 10 * 60_000;

export class Scheduler {
  readonly planner: Planner;
  readonly owner = `scheduler-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  constructor(private readonly deps: EngineDeps) {
    this.planner = new Planner(deps);
  }

  private lastConfirmationSweep = 0;
  private lastStrandedSweep = 0;
  private lastIntentSweep = 0;

  /**
   * Finishes the state changes whose runner died. Each sweep runs on its own: one that fails
   * (a database error) does not keep the others or the tick's planning from running.
   */
  async sweepIntents(): Promise<number> {
    this.lastIntentSweep = this.deps.clock.now().getTime();
    let ran = 0;
    let left = 0;
    let failure: unknown = null;
    for (const sweep of this.deps.intentSweeps ?? []) {
      const result = await sweep().catch((error: unknown) => {
        failure ??= error;
        return { ran: 0, left: 1 };
      });
      ran += typeof result === 'number' ? result : result.ran;
      left += typeof result === 'number' ? 0 : result.left;
    }
    this.intentsLeft = left;
    if (failure) throw failure;
    return ran;
  }

  /** Unfinished intents the last intent sweep left (too recent, or their runner lives). */
  private intentsLeft = 0;

  /** Both repairs of the work list, now (see the two below). Returns entries made plus confirmations looked at. */
  async sweep(): Promise<number> {
    return (await this.sweepStranded()) + (await this.sweepConfirmations());
  }

  /** Batches with work due and no entry (a holder died between its writes, or a stale write). */
  private async sweepStranded(): Promise<number> {
    const now = this.deps.clock.now();
    this.lastStrandedSweep = now.getTime();
    return requeueStrandedBatches(now);
  }

  /**
   * Officers' confirmations since the previous sweep (and one period before it, so none
   * falls between two): the batch of each one still awaiting it is woken, in case the wake
   * at confirmation time failed or was overwritten by a holder's release.
   */
  private async sweepConfirmations(): Promise<number> {
    const now = this.deps.clock.now();
    const since = this.lastConfirmationSweep
      ? this.lastConfirmationSweep - CONFIRMATION_SWEEP_EVERY_MS
      : now.getTime() - FIRST_CONFIRMATION_SWEEP_MS;
    this.lastConfirmationSweep = now.getTime();
    const confirmed = await this.deps.ports.confirmedSince(new Date(since));
    for (const { deliveryId, regionPath } of confirmed) {
      await wakeBatchOf(deliveryId, now, regionPath, { onlyIfOpen: true });
    }
    return confirmed.length;
  }

  /**
   * One full tick: create due occurrences, then plan whatever waits for planning; sweeps as
   * they fall due. Then raises the scheduler's due marker to the earliest next work it saw.
   */
  async tick(): Promise<{ created: number; planned: number }> {
    return this.pass(await readDue(SCHEDULER_DUE), true);
  }

  /**
   * The tick as the loop runs it: when the due marker (db/due-marks.ts: lowered by every
   * approval, resume, advance, intent and planning-queue entry) lies ahead, only the marker is
   * read, plus the two repairs when their interval has passed (small watch lists); otherwise a
   * full tick.
   */
  async tickWhenDue(): Promise<{ created: number; planned: number }> {
    const mark = await readDue(SCHEDULER_DUE);
    return this.pass(mark, !notDueYet(mark, this.deps.clock.now()));
  }

  private async pass(mark: DueMark, full: boolean): Promise<{ created: number; planned: number }> {
    const now = this.deps.clock.now();
    if (now.getTime() - this.lastStrandedSweep >= STRANDED_SWEEP_EVERY_MS) await this.sweepStranded();
    if (now.getTime() - this.lastConfirmationSweep >= CONFIRMATION_SWEEP_EVERY_MS) await this.sweepConfirmations();
    if (!full) return { created: 0, planned: 0 };
    let intentFailure: unknown = null;
    if (now.getTime() - this.lastIntentSweep >= INTENT_SWEEP_EVERY_MS) {
      await this.sweepIntents().catch((error: unknown) => {
        intentFailure = error;
      });
    }
    const created = await this.createDue(now);
    const planned = await this.planner.planPending(this.owner);
    if (intentFailure) throw intentFailure;
    await this.raiseMark(mark, now);
    return { created, planned };
  }

  /**
   * After a full tick: the marker goes to the earliest next run of an approved campaign, or
   * stays due while runs wait for planning or intents are unfinished; at most MAX_IDLE_MS ahead.
   */
  private async raiseMark(mark: DueMark, started: Date): Promise<void> {
    const now = this.deps.clock.now().getTime();
    if (this.intentsLeft > 0 || (await PlanningQueueModel.exists({}))) return;
    const nextRun = await this.deps.campaigns.earliestNextRun();
    const at = Math.min(nextRun?.getTime() ?? Number.POSITIVE_INFINITY, now + MAX_IDLE_MS);
    if (at <= started.getTime()) return;
    await raiseDue(SCHEDULER_DUE, mark, new Date(at));
  }

  private createDue(now: Date): Promise<number> {
    return createDueOccurrences(
      this.deps.campaigns,
      { timeZone: this.deps.timeZone, quietHours: this.deps.quietHours },
      now,
    );
  }

  /**
   * The lane for urgent runs while a tick is busy (a province run takes about a minute to
   * plan): runs that fell due are created and the urgent ones planned at once, instead of
   * waiting behind the normal runs the tick is planning.
   */
  async tickUrgent(): Promise<{ created: number; planned: number }> {
    const created = await this.createDue(this.deps.clock.now());
    const planned = await this.planner.planPending(this.owner, { onlyUrgent: true });
    return { created, planned };
  }

  private ticking = false;
  private urgentTicking = false;
  /** The wake counter as last seen (null before the first look). */
  private wakeSeen: number | null = null;

  /**
   * A tick, or while one is still planning, the urgent lane (one at a time): our own guard
   * rather than node-cron's noOverlap, which logs a warning for every skipped tick (a
   * 50,000-group plan spans several).
   */
  private async guardedTick(onError: (error: unknown) => void, full: boolean): Promise<void> {
    if (this.ticking) {
      if (this.urgentTicking) return;
      this.urgentTicking = true;
      await this.tickUrgent()
        .catch(onError)
        .finally(() => {
          this.urgentTicking = false;
        });
      return;
    }
    this.ticking = true;
    await (full ? this.tick() : this.tickWhenDue())
      .catch(onError)
      .finally(() => {
        this.ticking = false;
      });
  }

  /** Reads the wake counter (one `_id` read): true when it changed since the last look. */
  private async woken(): Promise<boolean> {
    const wake = await SchedulerWakeModel.findById(PLANNING_WAKE, { n: 1 }).lean<{ n?: number }>();
    const n = wake?.n ?? 0;
    const changed = this.wakeSeen !== null && n !== this.wakeSeen;
    this.wakeSeen = n;
    return changed;
  }

  /**
   * When a campaign was approved or resumed since the last look, ticks now (the urgent lane
   * while a tick is planning). True when it ticked.
   */
  async tickIfWoken(onError: (error: unknown) => void): Promise<boolean> {
    if (!(await this.woken())) return false;
    await this.guardedTick(onError, true);
    return true;
  }

  /**
   * Ticks every 5 seconds (node-cron) until stopped; while a tick is still planning, the
   * next ones run only the urgent lane (tickUrgent), one at a time. Between ticks the wake
   * counter is read every WAKE_LOOK_MS, so an approved campaign's run starts within about a
   * second (the tick it starts is not awaited: the look goes on while it plans).
   */
  start(onError: (error: unknown) => void): RunningPart {
    // Idle ticks read the due marker only; a wake and the first tick make a full pass.
    const task = cron.schedule('*/5 * * * * *', () => this.guardedTick(onError, false));
    const wakes = startLoop(
      async () => {
        if (await this.woken()) void this.guardedTick(onError, true);
      },
      WAKE_LOOK_MS,
      onError,
    );
    void this.guardedTick(onError, true);
    return {
      stop: async () => {
        await wakes.stop();
        await task.stop();
        await task.destroy();
      },
    };
  }
}

export function createWorker(deps: EngineDeps): Worker {
  return new Worker(deps.campaigns, deps.ports, deps.clock, {
    ...DEFAULT_WORKER,
    timeZone: deps.timeZone,
    quietHours: deps.quietHours,
    ...deps.worker,
  });
}

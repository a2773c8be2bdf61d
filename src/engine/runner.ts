// Starts the engine's parts for a process role: the scheduler (node-cron tick → due
// occurrences → planning) and the worker loop. Both are safe to run in any number of
// processes against one database.
import cron from 'node-cron';
import type { CampaignService } from '../campaigns/service.js';
import type { QuietHours } from '../campaigns/schedule.js';
import type { Clock } from '../lib/clock.js';
import type { RegionService } from '../regions/service.js';
import { Planner } from './planner.js';
import type { EnginePorts } from './ports.js';
import { requeueConfirmedBatches, requeueStrandedBatches } from './queue.js';
import { createDueOccurrences } from './tick.js';
import { DEFAULT_WORKER, Worker, type WorkerSettings } from './worker.js';

export interface EngineDeps {
  campaigns: CampaignService;
  regions: RegionService;
  ports: EnginePorts;
  clock: Clock;
  timeZone: string;
  quietHours: QuietHours;
  worker?: Partial<WorkerSettings>;
}

export interface RunningPart {
  stop(): Promise<void>;
}

const SWEEP_EVERY_MS = 60_000;

export class Scheduler {
  readonly planner: Planner;
  readonly owner = `scheduler-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  constructor(private readonly deps: EngineDeps) {
    this.planner = new Planner(deps);
  }

  private lastSweep = 0;

  /**
   * Repairs the work list: batches with work due and no entry, and batches whose awaiting
   * manual deliveries an officer has confirmed (see queue.ts). Returns the batches listed.
   */
  async sweep(): Promise<number> {
    const now = this.deps.clock.now();
    this.lastSweep = now.getTime();
    const stranded = await requeueStrandedBatches(now);
    return stranded + (await requeueConfirmedBatches(now, (ids) => this.deps.ports.confirmations(ids)));
  }

  /** One tick: create due occurrences, then plan whatever waits for planning; sweep each minute. */
  async tick(): Promise<{ created: number; planned: number }> {
    const now = this.deps.clock.now();
    if (now.getTime() - this.lastSweep >= SWEEP_EVERY_MS) await this.sweep();
    const created = await createDueOccurrences(
      this.deps.campaigns,
      { timeZone: this.deps.timeZone, quietHours: this.deps.quietHours },
      now,
    );
    const planned = await this.planner.planPending(this.owner, now);
    return { created, planned };
  }

  /** Ticks every 5 seconds (node-cron) until stopped; a tick still planning makes the next one skip. */
  start(onError: (error: unknown) => void): RunningPart {
    // Our own guard rather than node-cron's noOverlap, which logs a warning for every skipped
    // tick (a 50,000-group plan spans several).
    let ticking = false;
    const guardedTick = async () => {
      if (ticking) return;
      ticking = true;
      await this.tick()
        .catch(onError)
        .finally(() => {
          ticking = false;
        });
    };
    const task = cron.schedule('*/5 * * * * *', guardedTick);
    void guardedTick();
    return {
      stop: async () => {
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

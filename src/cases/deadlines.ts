// The scheduler role's deadline watch: once a minute, drafts the "已过期" follow-up of every
// wanted notice whose deadline day has ended; once an hour, purges the tips of cases ended
// more than TIP_RETENTION_DAYS ago (tips/service.ts). Exactly once across schedulers (the claim in
// service.ts); a tick still running makes the next one skip.
import type { CaseService } from './service.js';

export const DEADLINE_SWEEP_MS = 60_000;
export const TIP_PURGE_MS = 3600_000;

export class DeadlineWatch {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private purgedAt = 0;

  constructor(
    private readonly cases: CaseService,
    private readonly onError: (error: unknown) => void,
    /** The tip retention purge, run at most hourly after the sweep. */
    private readonly purgeTips: () => Promise<unknown> = async () => undefined,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), DEADLINE_SWEEP_MS);
    this.timer.unref();
  }

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.cases.sweepDeadlines().catch(this.onError);
      if (Date.now() - this.purgedAt >= TIP_PURGE_MS) {
        this.purgedAt = Date.now();
        await this.purgeTips().catch(this.onError);
      }
    } finally {
      this.running = false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

// Runs the roll-ups in a scheduler process: refresh every few seconds, sweep every few
// minutes. It keeps the refresher lease while it runs and hands it back on stop(); the
// other processes' refreshers find it held and wait (see docs/tracking.md for why the
// schedulers run it).
import { randomBytes } from 'node:crypto';
import type { ReachRollups } from './rollups.js';

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
    await this.rollups.release(this.owner);
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

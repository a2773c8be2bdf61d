// The tally step of a process's clicks, batched (issue 25): a click's request writes its
// intent and the click and responds (clicks.ts); the click is handed here and counted within
// FLUSH_EVERY_MS with the others of its month, as one batch of click-tally.ts `applyTallies`
// (under the month's claim, one read and one write per tally document, the intents marked and
// deleted by `bulkWrite`s of 20), instead of a claim and a read-modify-write per click.
//
// Contract:
// - `add` keeps the click in memory and makes sure a flush is due within FLUSH_EVERY_MS (no
//   timer while nothing is pending). `flush` applies everything added before it was called
//   (a flush under way is waited for first: flushes never overlap), so a read that flushes
//   first sees this process's clicks (the monthly table, ClickService.inRegion). `close`
//   stops the timer and flushes (shutdown).
// - A batch keeps its id until it has been applied: a failed flush is retried with the same
//   batches (click-tally.ts: retrying a batch counts nothing twice), before newer clicks.
// - Nothing here is durable: a process killed with clicks pending leaves their intents, which
//   the stale-intent repair counts (click-tally.ts); a flusher that stalls past that and
//   resumes applies only what the repair left (it re-reads the intents under the claim).
import { type ClickIntent, type TallyEntry, applyTallies, newBatchId } from './click-tally.js';

/** How long a click waits in memory before its month's batch is applied. */
export const FLUSH_EVERY_MS = 500;

interface Batch {
  id: string;
  month: string;
  entries: TallyEntry[];
}

export class ClickTallyFlusher {
  /** month → clicks not yet in a batch. */
  private pending = new Map<string, TallyEntry[]>();
  /** Batches formed and not yet applied, oldest first. */
  private batches: Batch[] = [];
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly everyMs = FLUSH_EVERY_MS,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** The click of `intent` (already written) is to be tallied. */
  add(intent: ClickIntent, first: boolean): void {
    const entries = this.pending.get(intent.month) ?? [];
    entries.push({ intent, first });
    this.pending.set(intent.month, entries);
    this.schedule();
  }

  /** Clicks added and not yet applied. */
  get size(): number {
    let n = 0;
    for (const entries of this.pending.values()) n += entries.length;
    for (const batch of this.batches) n += batch.entries.length;
    return n;
  }

  /** Applies every click added before this call (after a flush under way). */
  async flush(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
    if (this.size === 0) return;
    const run = this.run();
    this.running = run;
    try {
      await run;
    } finally {
      this.running = null;
      if (this.size > 0) this.schedule();
    }
  }

  /** Stops the timer and applies what is pending (shutdown). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().catch(this.onError);
    }, this.everyMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    for (const [month, entries] of this.pending) this.batches.push({ id: newBatchId(), month, entries });
    this.pending.clear();
    while (this.batches.length > 0) {
      const batch = this.batches[0]!;
      await applyTallies(batch.month, batch.id, batch.entries);
      this.batches.shift();
    }
  }
}

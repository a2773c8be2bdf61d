// Sliding-window counters per robot, on the doubles' injectable clock. (Whether WeCom's
// minute is sliding or fixed is unverified; a sliding window is the stricter reading.)
export class RateWindow {
  readonly #hits = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** How many calls inside the window end at `now` (without counting a new one). */
  count(robot: string, now: number): number {
    const hits = (this.#hits.get(robot) ?? []).filter((at) => at > now - this.windowMs);
    this.#hits.set(robot, hits);
    return hits.length;
  }

  full(robot: string, now: number): boolean {
    return this.count(robot, now) >= this.limit;
  }

  hit(robot: string, now: number): void {
    const hits = this.#hits.get(robot) ?? [];
    hits.push(now);
    this.#hits.set(robot, hits);
  }

  reset(): void {
    this.#hits.clear();
  }
}

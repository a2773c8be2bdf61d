// Per-robot send limits as sliding windows: a robot that allows 20 posts a minute gets at
// most 20 in any 60 s, never the 40 a token bucket with a full burst could let through at a
// window edge (DingTalk punishes a breach with a 10-minute ban). Held in process memory:
// it is what keeps a worker from wasting sends; a breach by two processes sharing one robot
// only costs a retryable rate-limit answer, never a lost or doubled delivery.
export interface Window {
  limit: number;
  windowMs: number;
}

export class RobotRateLimiter {
  private readonly sent = new Map<string, number[]>();

  /**
   * Reserves a send for `robot` at `now` when every window allows it and returns 0;
   * otherwise reserves nothing and returns how long to wait.
   */
  reserve(robot: string, windows: readonly Window[], now: number): number {
    if (windows.length === 0) return 0;
    const longest = Math.max(...windows.map((w) => w.windowMs));
    const times = (this.sent.get(robot) ?? []).filter((t) => t > now - longest);
    let wait = 0;
    for (const { limit, windowMs } of windows) {
      const inWindow = times.filter((t) => t > now - windowMs);
      if (inWindow.length >= limit) wait = Math.max(wait, inWindow[inWindow.length - limit]! + windowMs - now);
    }
    if (wait === 0) times.push(now);
    if (times.length > 0) this.sent.set(robot, times);
    else this.sent.delete(robot);
    return wait;
  }
}

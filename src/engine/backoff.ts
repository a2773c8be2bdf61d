// Retry timing for transient failures: exponential with full jitter around the midpoint,
// so a county's worth of robots failing together do not retry in lock-step.
export interface RetryPolicy {
  maxAttempts: number;
  baseMs: number;
  capMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseMs: 5_000, capMs: 10 * 60_000 };

/** Delay before attempt `attempt + 1` after `attempt` failed; `random` in [0, 1). */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: number, retryAfterMs?: number): number {
  const exponential = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(exponential * (0.5 + random));
  return Math.max(jittered, retryAfterMs ?? 0);
}

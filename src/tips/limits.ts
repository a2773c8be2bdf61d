// Rate limits of the public tip form, per sender and per notice (past the notice's cap a tip
// must answer a question, challenge.ts, instead of being refused). The sender is known only as
// an HMAC of the socket address (or a trusted proxy's, whatever request.ip gives) under a key
// that lives in this process's memory and changes every day: the counters can never be turned
// back into an address, are never written to the database, and never sit beside a tip.
// Counters are per process: with N API instances a sender gets at most N times the limit.
import { createHmac, randomBytes } from 'node:crypto';
import { addressKey } from '../lib/addresses.js';

export interface TipLimits {
  /** Tips one sender may send in `windowMs` (all notices together). */
  perSender: number;
  /** Tips one notice receives in `windowMs` (all senders together) before each must answer a question. */
  perNotice: number;
  windowMs: number;
}

export const DEFAULT_TIP_LIMITS: TipLimits = { perSender: 5, perNotice: 200, windowMs: 10 * 60_000 };

export type TipVerdict = { kind: 'ok' } | { kind: 'wait'; seconds: number } | { kind: 'prove' };

interface Window {
  startedAt: number;
  count: number;
}

export class TipLimiter {
  private day = '';
  private key = randomBytes(32);
  private readonly windows = new Map<string, Window>();

  constructor(private readonly limits: TipLimits = DEFAULT_TIP_LIMITS) {}

  /** A new key each day: yesterday's hashes mean nothing today. */
  private rotate(day: string): void {
    if (day === this.day) return;
    this.day = day;
    this.key = randomBytes(32);
    this.windows.clear();
  }

  senderKey(address: string, day: string): string {
    this.rotate(day);
    // An IPv6 sender counts by its /64 (lib/addresses.ts).
    return createHmac('sha256', this.key).update(addressKey(address)).digest('base64url').slice(0, 22);
  }

  /** Whether the notice is at its cap in the current window (its form then asks a question). */
  busy(noticeId: string, now: Date): boolean {
    const window = this.windows.get(`n:${noticeId}`);
    return Boolean(
      window && now.getTime() - window.startedAt < this.limits.windowMs && window.count >= this.limits.perNotice,
    );
  }

  /**
   * Counts one tip for the sender and the notice. A sender over its own limit waits (the
   * seconds to wait; nothing is counted). A notice at its cap does not refuse: it asks the
   * sender to prove work ('prove', nothing counted) unless `proved` (issue 26, finding 4).
   */
  take(address: string, noticeId: string, now: Date, day: string, proved = false): TipVerdict {
    const sender = `s:${this.senderKey(address, day)}`;
    const at = now.getTime();
    const window = this.windows.get(sender);
    if (window && at - window.startedAt < this.limits.windowMs && window.count >= this.limits.perSender) {
      return { kind: 'wait', seconds: Math.ceil((window.startedAt + this.limits.windowMs - at) / 1000) };
    }
    if (!proved && this.busy(noticeId, now)) return { kind: 'prove' };
    for (const key of [sender, `n:${noticeId}`]) {
      const window = this.windows.get(key);
      if (!window || at - window.startedAt >= this.limits.windowMs) this.windows.set(key, { startedAt: at, count: 1 });
      else window.count += 1;
    }
    if (this.windows.size > 100_000) this.prune(at);
    return { kind: 'ok' };
  }

  private prune(at: number): void {
    for (const [key, window] of this.windows) {
      if (at - window.startedAt >= this.limits.windowMs) this.windows.delete(key);
    }
  }
}

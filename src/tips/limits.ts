// Rate limits of the public tip form, per sender and per notice. The sender is known only as
// an HMAC of the socket address (or a trusted proxy's, whatever request.ip gives) under a key
// that lives in this process's memory and changes every day: the counters can never be turned
// back into an address, are never written to the database, and never sit beside a tip.
// Counters are per process: with N API instances a sender gets at most N times the limit.
import { createHmac, randomBytes } from 'node:crypto';
import { addressKey } from '../lib/addresses.js';

export interface TipLimits {
  /** Tips one sender may send in `windowMs` (all notices together). */
  perSender: number;
  /** Tips one notice may receive in `windowMs` (all senders together). */
  perNotice: number;
  windowMs: number;
}

export const DEFAULT_TIP_LIMITS: TipLimits = { perSender: 5, perNotice: 200, windowMs: 10 * 60_000 };

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

  /**
   * Counts one tip for the sender and the notice; the seconds to wait when either is over its
   * limit (then nothing is counted), else null.
   */
  take(address: string, noticeId: string, now: Date, day: string): number | null {
    const keys: [string, number][] = [
      [`s:${this.senderKey(address, day)}`, this.limits.perSender],
      [`n:${noticeId}`, this.limits.perNotice],
    ];
    const at = now.getTime();
    let wait = 0;
    for (const [key, limit] of keys) {
      const window = this.windows.get(key);
      if (window && at - window.startedAt < this.limits.windowMs && window.count >= limit) {
        wait = Math.max(wait, window.startedAt + this.limits.windowMs - at);
      }
    }
    if (wait > 0) return Math.ceil(wait / 1000);
    for (const [key] of keys) {
      const window = this.windows.get(key);
      if (!window || at - window.startedAt >= this.limits.windowMs) this.windows.set(key, { startedAt: at, count: 1 });
      else window.count += 1;
    }
    if (this.windows.size > 100_000) this.prune(at);
    return null;
  }

  private prune(at: number): void {
    for (const [key, window] of this.windows) {
      if (at - window.startedAt >= this.limits.windowMs) this.windows.delete(key);
    }
  }
}

// Growing delays after failed password checks, in place of a hard account lock that any
// stranger could trigger by typing the admin's name. Failures are counted per account *and
// address* (the stranger's failures slow down only the stranger's own address) and per
// address over all accounts (one address guessing many names). After `freeFailures` in a
// row, each further failure doubles the wait, up to `maxDelayMinutes`. The same counters and
// the same answer serve usernames that do not exist, so the throttle reveals nothing about
// which accounts exist. A success clears the account-and-address counter; an admin can clear
// an account's counters at every address.
import { addressKey } from '../lib/addresses.js';
import type { Clock } from '../lib/clock.js';
import { claimOnce } from '../db/claims.js';
import { TooManyRequests, isDuplicateKey } from '../lib/errors.js';
import { LoginThrottleModel } from './model.js';

export interface ThrottlePolicy {
  /** Failures in a row (per account and address) before delays begin. */
  freeFailures: number;
  /** The longest delay. */
  maxDelayMinutes: number;
}

/** The first delay; each further failure doubles it. */
export const FIRST_DELAY_SECONDS = 5;
/** One address may fail this many times more often than one account at one address. */
export const ADDRESS_FACTOR = 4;
/** A counter with no failure for this long starts again from zero (and is purged). */
export const QUIET_RESET_MS = 24 * 3600_000;

interface ThrottleDoc {
  _id: string;
  username: string | null;
  failures: number;
  window: Date | null;
  lastFailureAt: Date;
  blockedUntil: Date | null;
}

// IPv6 addresses count by their /64 (lib/addresses.ts).
const where = (ip: string | null) => (ip ? addressKey(ip) : 'unknown');
const accountKey = (username: string, ip: string | null) => `${username}|${where(ip)}`;
const anyAccountKey = (ip: string | null) => `@${where(ip)}`;

export class LoginThrottle {
  constructor(
    private readonly clock: Clock,
    private readonly policy: ThrottlePolicy,
  ) {}

  /** Refuses with 429 (and Retry-After) while either counter's delay runs. */
  async check(username: string, ip: string | null): Promise<void> {
    const now = this.clock.now();
    const docs = await LoginThrottleModel.find({
      _id: { $in: [accountKey(username, ip), anyAccountKey(ip)] },
    }).lean<ThrottleDoc[]>();
    const until = Math.max(0, ...docs.map((doc) => doc.blockedUntil?.getTime() ?? 0));
    if (until > now.getTime()) {
      const seconds = Math.ceil((until - now.getTime()) / 1000);
      throw new TooManyRequests(`登录尝试过于频繁，请 ${seconds} 秒后再试`, seconds);
    }
  }

  /** Counts a failed password check; returns the account-and-address count. */
  async failed(username: string, ip: string | null): Promise<number> {
    const [account] = await Promise.all([
      this.count(accountKey(username, ip), username, this.policy.freeFailures),
      this.count(anyAccountKey(ip), null, this.policy.freeFailures * ADDRESS_FACTOR),
    ]);
    return account;
  }

  async succeeded(username: string, ip: string | null): Promise<void> {
    await LoginThrottleModel.deleteOne({ _id: accountKey(username, ip) });
  }

  /** An admin's unlock: the account's counters at every address. */
  async unlock(username: string): Promise<number> {
    return (await LoginThrottleModel.deleteMany({ username })).deletedCount;
  }

  /** Removes counters that have been quiet long enough to start again from zero. */
  async purge(): Promise<number> {
    const before = new Date(this.clock.now().getTime() - QUIET_RESET_MS);
    return (await LoginThrottleModel.deleteMany({ lastFailureAt: { $lt: before } })).deletedCount;
  }

  /**
   * Failure n of a run is the unique claim `login-failure:<key>@<run start>#n`: concurrent
   * failures get distinct numbers on FerretDB too (its $inc can lose a concurrent update; a
   * unique insert cannot). The counter document keeps the run's start and the highest number.
   */
  private async count(key: string, username: string | null, free: number): Promise<number> {
    const now = this.clock.now();
    let doc = await LoginThrottleModel.findById(key).lean<ThrottleDoc>();
    if (doc && now.getTime() - doc.lastFailureAt.getTime() > QUIET_RESET_MS) {
      await LoginThrottleModel.deleteOne({ _id: key });
      doc = null;
    }
    if (!doc) {
      await LoginThrottleModel.create({ _id: key, username, failures: 0, window: now, lastFailureAt: now }).catch(
        (error) => {
          if (!isDuplicateKey(error)) throw error;
        },
      );
      doc = await LoginThrottleModel.findById(key).lean<ThrottleDoc>();
    }
    const run = (doc?.window ?? new Date(0)).getTime();
    let failures = (doc?.failures ?? 0) + 1;
    while (!(await claimOnce(`login-failure:${key}@${run}#${failures}`, 'login-throttle', now))) failures++;
    await LoginThrottleModel.updateOne(
      { _id: key },
      { $max: { failures }, $set: { lastFailureAt: now, username } },
    );
    return this.block(key, failures, free, now);
  }

  private async block(key: string, failures: number, free: number, now: Date): Promise<number> {
    if (failures >= free) {
      const seconds = Math.min(FIRST_DELAY_SECONDS * 2 ** (failures - free), this.policy.maxDelayMinutes * 60);
      await LoginThrottleModel.updateOne(
        { _id: key },
        { $set: { blockedUntil: new Date(now.getTime() + seconds * 1000) } },
      );
    }
    return failures;
  }
}

// Password login, bearer tokens, logout, and the purge of sessions that can no longer be used.
// Failed logins are slowed down by LoginThrottle (per account and address), never locked.
import type { AuditService } from '../audit/service.js';
import type { Clock } from '../lib/clock.js';
import { Unauthorized } from '../lib/errors.js';
import { dummyHash, hashPassword, needsRehash, verifyPassword } from '../lib/password.js';
import { backfillOnce } from '../db/backfills.js';
import { randomToken, sha256Hex } from '../lib/secrets.js';
import { Scope } from '../regions/scope.js';
import type { LoginThrottle } from './login-throttle.js';
import { SessionModel, type UserDoc, UserModel } from './model.js';
import type { Principal } from './principal.js';
import type { Role } from './roles.js';
import { type User, toUser } from './users.js';

export interface SessionPolicy {
  tokenTtlHours: number;
}

export interface LoginResult {
  token: string;
  expiresAt: Date;
  user: User;
}

const TOKEN_PREFIX = 'jx_';
const BAD_CREDENTIALS = '用户名或密码错误';
/** Sessions expired or revoked this long ago are deleted (a day: the answer to a stale token stays the same). */
const PURGE_AFTER_MS = 24 * 3600_000;
/** How often a process purges, at most (piggybacked on logins, so every API process takes part). */
const PURGE_EVERY_MS = 3600_000;

function principalOf(doc: UserDoc): Principal {
  return {
    id: String(doc._id),
    username: doc.username,
    displayName: doc.displayName,
    role: doc.role as Role,
    regionPath: doc.regionPath,
    scope: new Scope(doc.regionCode),
    mustChangePassword: doc.mustChangePassword === true,
    phone: doc.phone ?? null,
  };
}

export class SessionService {
  #lastPurge: number | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly policy: SessionPolicy,
    private readonly audit: AuditService,
    readonly throttle: LoginThrottle,
  ) {}

  /**
   * One answer for an unknown user, a wrong password and a deactivated account (even with
   * the right password), and the throttle's 429 before any password is checked, for every
   * username alike: nothing here tells a stranger which accounts exist or are active.
   */
  async login(username: string, password: string, ip: string | null): Promise<LoginResult> {
    const name = username.trim();
    await this.throttle.check(name, ip);
    const now = this.clock.now();
    const doc = await UserModel.findOne({ username: name }).lean<UserDoc>();
    // The same scrypt work whether or not the user exists.
    const passwordOk = await verifyPassword(password, doc?.passwordHash ?? dummyHash());
    if (!doc || !passwordOk || !doc.active) {
      const failures = await this.throttle.failed(name, ip);
      await this.audit.record({
        actor: doc ? principalOf(doc) : null,
        action: 'auth.login-failed',
        ip,
        details: { username: name, failures, ...(doc && passwordOk ? { reason: 'inactive' } : {}) },
      });
      throw new Unauthorized(BAD_CREDENTIALS);
    }

    await this.throttle.succeeded(name, ip);
    // A hash of an older, lower cost is replaced now that the password is at hand.
    if (needsRehash(doc.passwordHash)) {
      await UserModel.updateOne(
        { _id: doc._id, passwordHash: doc.passwordHash },
        { $set: { passwordHash: await hashPassword(password) } },
      );
    }
    const token = TOKEN_PREFIX + randomToken();
    const expiresAt = new Date(now.getTime() + this.policy.tokenTtlHours * 3600_000);
    const tokenHash = sha256Hex(token);
    await SessionModel.create({ _id: tokenHash, tokenHash, userId: String(doc._id), createdAt: now, expiresAt, ip });
    await this.audit.record({ actor: principalOf(doc), action: 'auth.login', ip });
    if (this.#lastPurge === null || now.getTime() - this.#lastPurge >= PURGE_EVERY_MS) {
      this.#lastPurge = now.getTime();
      await this.purge();
    }
    return { token, expiresAt, user: toUser(doc) };
  }

  /** Deletes sessions that expired or were revoked over a day ago, and quiet throttle counters. */
  async purge(): Promise<{ sessions: number; counters: number }> {
    const before = new Date(this.clock.now().getTime() - PURGE_AFTER_MS);
    const { deletedCount } = await SessionModel.deleteMany({
      $or: [{ expiresAt: { $lt: before } }, { revokedAt: { $lt: before } }],
    });
    return { sessions: deletedCount, counters: await this.throttle.purge() };
  }

  /** The principal behind a bearer token, or Unauthorized with the reason. */
  async authenticate(token: string): Promise<Principal> {
    if (!token.startsWith(TOKEN_PREFIX)) throw new Unauthorized('无效的访问令牌');
    const session = await SessionModel.findById(sha256Hex(token)).lean();
    if (!session || session.revokedAt) throw new Unauthorized('访问令牌无效或已注销，请重新登录');
    if (session.expiresAt <= this.clock.now()) throw new Unauthorized('登录已过期，请重新登录');
    const doc = await UserModel.findById(session.userId).lean<UserDoc>();
    if (!doc?.active) throw new Unauthorized('账号已停用，请联系管理员');
    return principalOf(doc);
  }

  async logout(token: string, by: Principal, ip: string | null): Promise<void> {
    await SessionModel.updateOne(
      { _id: sha256Hex(token), revokedAt: null },
      { $set: { revokedAt: this.clock.now() } },
    );
    await this.audit.record({ actor: by, action: 'auth.logout', ip });
  }
}

/**
 * Re-keys the sessions an older version wrote (ObjectId `_id`) by their token hash, once: each
 * is copied under its new key before the old one is deleted, so a process dying half-way leaves
 * a session readable, and a repeat finds the copy made. Raw collection: the model would cast
 * the old ObjectId to a string and match nothing.
 */
export async function rekeySessions(): Promise<void> {
  await backfillOnce('sessions-by-token-hash', async () => {
    const sessions = SessionModel.collection;
    for await (const old of sessions.find({}, { projection: { _id: 1 } })) {
      if (typeof old._id === 'string') continue;
      const doc = await sessions.findOne({ _id: old._id });
      if (!doc) continue;
      await sessions.insertOne({ ...doc, _id: doc.tokenHash }).catch((error: { code?: number }) => {
        if (error.code !== 11000) throw error;
      });
      await sessions.deleteOne({ _id: old._id });
    }
  });
}

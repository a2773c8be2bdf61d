// Password login, bearer tokens, logout and account lockout after repeated failures.
import type { AuditService } from '../audit/service.js';
import type { Clock } from '../lib/clock.js';
import { Forbidden, TooManyRequests, Unauthorized } from '../lib/errors.js';
import { DUMMY_HASH, verifyPassword } from '../lib/password.js';
import { randomToken, sha256Hex } from '../lib/secrets.js';
import { Scope } from '../regions/scope.js';
import { SessionModel, type UserDoc, UserModel } from './model.js';
import type { Principal } from './principal.js';
import type { Role } from './roles.js';
import { type User, toUser } from './users.js';

export interface SessionPolicy {
  tokenTtlHours: number;
  maxFailures: number;
  lockoutMinutes: number;
}

export interface LoginResult {
  token: string;
  expiresAt: Date;
  user: User;
}

const TOKEN_PREFIX = 'jx_';
const BAD_CREDENTIALS = '用户名或密码错误';

function principalOf(doc: UserDoc): Principal {
  return {
    id: String(doc._id),
    username: doc.username,
    displayName: doc.displayName,
    role: doc.role as Role,
    regionPath: doc.regionPath,
    scope: new Scope(doc.regionCode),
    mustChangePassword: doc.mustChangePassword === true,
  };
}

export class SessionService {
  constructor(
    private readonly clock: Clock,
    private readonly policy: SessionPolicy,
    private readonly audit: AuditService,
  ) {}

  async login(username: string, password: string, ip: string | null): Promise<LoginResult> {
    const now = this.clock.now();
    const doc = await UserModel.findOne({ username: username.trim() }).lean<UserDoc>();
    if (!doc) {
      await verifyPassword(password, DUMMY_HASH); // same time as a wrong password
      await this.audit.record({ actor: null, action: 'auth.login-failed', ip, details: { username } });
      throw new Unauthorized(BAD_CREDENTIALS);
    }
    if (doc.lockedUntil && doc.lockedUntil > now) {
      const minutes = Math.ceil((doc.lockedUntil.getTime() - now.getTime()) / 60_000);
      throw new TooManyRequests(`登录失败次数过多，账号已临时锁定，请 ${minutes} 分钟后再试`, minutes * 60);
    }
    if (!(await verifyPassword(password, doc.passwordHash))) {
      await this.recordFailure(doc, now, ip);
      throw new Unauthorized(BAD_CREDENTIALS);
    }
    if (!doc.active) throw new Forbidden('账号已停用，请联系管理员');

    await UserModel.updateOne({ _id: doc._id }, { $set: { failedLogins: 0, lockedUntil: null } });
    const token = TOKEN_PREFIX + randomToken();
    const expiresAt = new Date(now.getTime() + this.policy.tokenTtlHours * 3600_000);
    await SessionModel.create({ tokenHash: sha256Hex(token), userId: String(doc._id), createdAt: now, expiresAt, ip });
    await this.audit.record({ actor: principalOf(doc), action: 'auth.login', ip });
    return { token, expiresAt, user: toUser(doc) };
  }

  // Counting with $inc keeps concurrent failures exact; the lock is set by whichever
  // failure reaches the limit.
  private async recordFailure(doc: UserDoc, now: Date, ip: string | null): Promise<void> {
    const updated = await UserModel.findOneAndUpdate(
      { _id: doc._id },
      { $inc: { failedLogins: 1 } },
      { new: true },
    ).lean<UserDoc>();
    const failures = updated?.failedLogins ?? 0;
    if (failures >= this.policy.maxFailures) {
      const lockedUntil = new Date(now.getTime() + this.policy.lockoutMinutes * 60_000);
      await UserModel.updateOne({ _id: doc._id }, { $set: { lockedUntil, failedLogins: 0 } });
      await this.audit.record({ actor: principalOf(doc), action: 'auth.locked', ip, details: { failures } });
    } else {
      await this.audit.record({ actor: principalOf(doc), action: 'auth.login-failed', ip });
    }
  }

  /** The principal behind a bearer token, or Unauthorized with the reason. */
  async authenticate(token: string): Promise<Principal> {
    if (!token.startsWith(TOKEN_PREFIX)) throw new Unauthorized('无效的访问令牌');
    const session = await SessionModel.findOne({ tokenHash: sha256Hex(token) }).lean();
    if (!session || session.revokedAt) throw new Unauthorized('访问令牌无效或已注销，请重新登录');
    if (session.expiresAt <= this.clock.now()) throw new Unauthorized('登录已过期，请重新登录');
    const doc = await UserModel.findById(session.userId).lean<UserDoc>();
    if (!doc?.active) throw new Unauthorized('账号已停用，请联系管理员');
    return principalOf(doc);
  }

  async logout(token: string, by: Principal, ip: string | null): Promise<void> {
    await SessionModel.updateOne(
      { tokenHash: sha256Hex(token), revokedAt: null },
      { $set: { revokedAt: this.clock.now() } },
    );
    await this.audit.record({ actor: by, action: 'auth.logout', ip });
  }
}

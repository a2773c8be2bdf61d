// Users: the admin's management of accounts (role, region scope, activation) and the
// first admin created on an empty database. An admin manages only accounts strictly below
// themselves: anyone who is not an admin inside their scope, and admins of regions strictly
// inside it. Admins at the same node (or above) need a wider admin, so one county admin
// cannot take over another's account or mint a peer.
import mongoose from 'mongoose';
import type { AuditService } from '../audit/service.js';
import { Conflict, Forbidden, InvalidInput, NotFound, isDuplicateKey } from '../lib/errors.js';
import { type ListWindow, keysetPage } from '../lib/keyset.js';
import { hashPassword, verifyPassword } from '../lib/password.js';
import { randomToken } from '../lib/secrets.js';
import type { RegionService } from '../regions/service.js';
import type { Scope } from '../regions/scope.js';
import type { LoginThrottle } from './login-throttle.js';
import { SessionModel, type UserDoc, UserModel } from './model.js';
import type { Principal } from './principal.js';
import type { Role } from './roles.js';

export interface UserListQuery extends ListWindow {
  role?: Role;
  active?: boolean;
  /** Users whose scope lies at or under this region. */
  regionCode?: string;
  limit: number;
}

export interface User {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  regionCode: string;
  phone: string | null;
  /** The officer's WeCom userid: customer groups this account owns are matched to it. */
  wecomUserId: string | null;
  active: boolean;
  mustChangePassword: boolean;
  createdAt: Date;
}

export interface NewUser {
  username: string;
  displayName: string;
  password: string;
  role: Role;
  regionCode: string;
  phone?: string | null;
}

export interface UserChanges {
  displayName?: string;
  role?: Role;
  regionCode?: string;
  phone?: string | null;
  active?: boolean;
  password?: string;
  /** Required when admins set their own password here (as in changeOwnPassword). */
  currentPassword?: string;
}

export const MIN_PASSWORD_LENGTH = 10;

export function toUser(doc: UserDoc): User {
  return {
    id: String(doc._id),
    username: doc.username,
    displayName: doc.displayName,
    role: doc.role as Role,
    regionCode: doc.regionCode,
    phone: doc.phone ?? null,
    wecomUserId: (doc as { wecomUserId?: string | null }).wecomUserId ?? null,
    active: doc.active,
    mustChangePassword: doc.mustChangePassword === true,
    createdAt: (doc as unknown as { createdAt: Date }).createdAt,
  };
}

function checkPassword(password: string, field: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new InvalidInput(`密码至少 ${MIN_PASSWORD_LENGTH} 个字符`, field);
  }
}

/** The account as it is or would be: an admin is manageable only from a wider admin's scope. */
function assertBelow(by: Principal, account: { role: string; regionCode: string }): void {
  if (account.role === 'admin' && account.regionCode === by.scope.regionCode) {
    throw new Forbidden('同级管理员的账号只能由上级管理员管理：您只能管理下级地区的管理员和其他角色的用户');
  }
}

async function revokeSessions(userId: string): Promise<void> {
  await SessionModel.updateMany({ userId, revokedAt: null }, { $set: { revokedAt: new Date() } });
}

export class UserService {
  constructor(
    private readonly regions: RegionService,
    private readonly audit: AuditService,
    private readonly throttle: LoginThrottle,
  ) {}

  /** Region path of a region the caller may assign (inside the caller's scope). */
  private async assignableRegionPath(scope: Scope, regionCode: string): Promise<string[]> {
    const region = await this.regions.find(regionCode);
    if (!region) throw new InvalidInput(`地区 ${regionCode} 不存在`, 'regionCode');
    if (!scope.contains(region.regionPath)) throw new Forbidden(`地区 ${regionCode} 不在您的管辖范围内`);
    return region.regionPath;
  }

  private async findInScope(scope: Scope, id: string): Promise<UserDoc> {
    if (!mongoose.isValidObjectId(id)) throw new NotFound(`用户 ${id}`);
    const doc = await UserModel.findOne({ _id: id, ...scope.filter() }).lean<UserDoc>();
    if (!doc) throw new NotFound(`用户 ${id}`);
    return doc;
  }

  /** One page of the scope's users (keyset on _id, oldest first by default: no cap, no offset). */
  async list(scope: Scope, query: UserListQuery): Promise<User[]> {
    const page = keysetPage({ ...query, sort: query.sort ?? 'oldest' }, { dateField: 'createdAt' });
    const filter: Record<string, unknown> = { ...scope.filter(), ...page.match };
    if (query.role) filter.role = query.role;
    if (query.active !== undefined) filter.active = query.active;
    if (query.regionCode) filter.regionPath = query.regionCode;
    const text = query.q?.trim();
    if (text) {
      const like = { $regex: text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), $options: 'i' };
      filter.$or = [{ username: like }, { displayName: like }, { phone: like }];
    }
    const docs = await UserModel.find(filter).sort(page.sort).limit(query.limit).lean<UserDoc[]>();
    return docs.map(toUser);
  }

  /** Display names and scopes of users by id (unknown or malformed ids are left out). */
  async people(ids: string[]): Promise<Array<{ id: string; displayName: string; regionCode: string; role: string }>> {
    const valid = ids.filter((id) => /^[0-9a-f]{24}$/i.test(id));
    if (valid.length === 0) return [];
    const docs = await UserModel.find({ _id: { $in: valid } }, { displayName: 1, regionCode: 1, role: 1 }).lean<
      Array<{ _id: unknown; displayName: string; regionCode: string; role: string }>
    >();
    return docs.map((d) => ({ id: String(d._id), displayName: d.displayName, regionCode: d.regionCode, role: d.role }));
  }

  async get(scope: Scope, id: string): Promise<User> {
    return toUser(await this.findInScope(scope, id));
  }

  async create(by: Principal, input: NewUser, ip?: string): Promise<User> {
    checkPassword(input.password, 'password');
    const regionPath = await this.assignableRegionPath(by.scope, input.regionCode);
    assertBelow(by, input);
    let doc: UserDoc;
    try {
      const created = await UserModel.create({
        username: input.username.trim(),
        displayName: input.displayName.trim(),
        passwordHash: await hashPassword(input.password),
        role: input.role,
        regionCode: input.regionCode,
        regionPath,
        phone: input.phone ?? null,
        // The admin knows this password: the user replaces it before anything else (issue 26.9).
        mustChangePassword: true,
      });
      doc = created.toObject() as UserDoc;
    } catch (error) {
      if (isDuplicateKey(error)) throw new Conflict(`用户名 ${input.username} 已被使用`, 'username');
      throw error;
    }
    const user = toUser(doc);
    await this.audit.record({
      actor: by,
      action: 'user.create',
      target: { kind: 'user', id: user.id },
      ip,
      details: { username: user.username, role: user.role, regionCode: user.regionCode },
    });
    return user;
  }

  async update(by: Principal, id: string, changes: UserChanges, ip?: string): Promise<User> {
    const current = await this.findInScope(by.scope, id);
    const userId = String(current._id); // the stored spelling, whatever the caller typed
    const self = userId === by.id;
    if (self && (changes.role || changes.active === false || changes.regionCode)) {
      throw new Forbidden('不能修改自己的角色、地区或停用自己');
    }
    if (!self) {
      assertBelow(by, current);
      assertBelow(by, { role: changes.role ?? current.role, regionCode: changes.regionCode ?? current.regionCode });
    }
    if (changes.currentPassword !== undefined && changes.password === undefined) {
      throw new InvalidInput('只有修改密码时才需要当前密码', 'currentPassword');
    }
    if (self && changes.password !== undefined) {
      await this.checkCurrentPassword(current, changes.currentPassword, ip);
    }
    const set: Record<string, unknown> = {};
    if (changes.displayName !== undefined) set.displayName = changes.displayName.trim();
    if (changes.role !== undefined) set.role = changes.role;
    if (changes.phone !== undefined) set.phone = changes.phone;
    if (changes.active !== undefined) set.active = changes.active;
    if (changes.regionCode !== undefined) {
      set.regionCode = changes.regionCode;
      set.regionPath = await this.assignableRegionPath(by.scope, changes.regionCode);
    }
    if (changes.password !== undefined) {
      checkPassword(changes.password, 'password');
      set.passwordHash = await hashPassword(changes.password);
      // A reset by an admin is known to the admin; one's own new password is not.
      set.mustChangePassword = !self;
    }
    const updated = await UserModel.findOneAndUpdate(
      { _id: current._id },
      { $set: set },
      { new: true },
    ).lean<UserDoc>();
    if (!updated) throw new NotFound(`用户 ${id}`);
    // A new password, a deactivation or a new role/scope ends every open session.
    if (changes.password || changes.active === false || changes.role || changes.regionCode) {
      await revokeSessions(userId);
    }
    // A password reset by an admin is also the way back in for a user kept waiting by failed logins.
    if (changes.password !== undefined) await this.throttle.unlock(current.username);
    await this.audit.record({
      actor: by,
      action: 'user.update',
      target: { kind: 'user', id: userId },
      ip,
      details: { changed: Object.keys(changes).filter((key) => key !== 'currentPassword') },
    });
    return toUser(updated);
  }

  /**
   * Whether `by` may change settings of account `id` that act for it (its notification robot):
   * oneself, or an admin over a user strictly below (not a same-level admin: issue 26.8).
   */
  async assertManages(by: Principal, id: string): Promise<void> {
    const current = await this.findInScope(by.scope, id);
    if (String(current._id) !== by.id) assertBelow(by, current);
  }

  /** Clears the failed-login delays of an account at every address. */
  async unlock(by: Principal, id: string, ip?: string): Promise<{ cleared: number }> {
    const current = await this.findInScope(by.scope, id);
    const userId = String(current._id);
    if (userId !== by.id) assertBelow(by, current);
    const cleared = await this.throttle.unlock(current.username);
    await this.audit.record({
      actor: by,
      action: 'user.unlock',
      target: { kind: 'user', id: userId },
      ip,
      details: { cleared },
    });
    return { cleared };
  }

  /**
   * The current password, checked under the same throttle as a login (a stolen token must not
   * become a fast password oracle).
   */
  private async checkCurrentPassword(doc: UserDoc, password: string | undefined, ip?: string): Promise<void> {
    if (password === undefined) throw new InvalidInput('修改自己的密码需要填写当前密码', 'currentPassword');
    await this.throttle.check(doc.username, ip ?? null);
    if (!(await verifyPassword(password, doc.passwordHash))) {
      await this.throttle.failed(doc.username, ip ?? null);
      throw new InvalidInput('当前密码不正确', 'currentPassword');
    }
  }

  async changeOwnPassword(by: Principal, currentPassword: string, newPassword: string, ip?: string): Promise<void> {
    const doc = await UserModel.findById(by.id).lean<UserDoc>();
    if (!doc) throw new NotFound(`用户 ${by.id}`);
    await this.checkCurrentPassword(doc, currentPassword, ip);
    checkPassword(newPassword, 'newPassword');
    await UserModel.updateOne(
      { _id: doc._id },
      { $set: { passwordHash: await hashPassword(newPassword), mustChangePassword: false } },
    );
    await revokeSessions(String(doc._id));
    await this.audit.record({ actor: by, action: 'user.password', target: { kind: 'user', id: by.id }, ip });
  }

  /**
   * On an empty user table, creates the admin (scope: the whole tree). Returns the
   * generated password when none was configured, so the caller can print it once.
   */
  async ensureFirstAdmin(username: string, configuredPassword: string | undefined): Promise<string | null> {
    if (await UserModel.exists({})) return null;
    const password = configuredPassword ?? randomToken(12);
    const root = this.regions.rootScope();
    try {
      await UserModel.create({
        username,
        displayName: '系统管理员',
        passwordHash: await hashPassword(password),
        role: 'admin',
        regionCode: root.regionCode,
        regionPath: [root.regionCode],
        mustChangePassword: !configuredPassword,
      });
    } catch (error) {
      if (isDuplicateKey(error)) return null; // another instance won the race
      throw error;
    }
    await this.audit.record({ actor: null, action: 'user.bootstrap-admin', details: { username } });
    return configuredPassword ? null : password;
  }
}

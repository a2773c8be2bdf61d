// Users: the admin's management of accounts (role, region scope, activation) and the
// first admin created on an empty database.
import mongoose from 'mongoose';
import type { AuditService } from '../audit/service.js';
import { Conflict, Forbidden, InvalidInput, NotFound, isDuplicateKey } from '../lib/errors.js';
import { hashPassword, verifyPassword } from '../lib/password.js';
import { randomToken } from '../lib/secrets.js';
import type { RegionService } from '../regions/service.js';
import type { Scope } from '../regions/scope.js';
import { SessionModel, type UserDoc, UserModel } from './model.js';
import type { Principal } from './principal.js';
import type { Role } from './roles.js';

export interface User {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  regionCode: string;
  phone: string | null;
  active: boolean;
  lockedUntil: Date | null;
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
    active: doc.active,
    lockedUntil: doc.lockedUntil ?? null,
    mustChangePassword: doc.mustChangePassword === true,
    createdAt: (doc as unknown as { createdAt: Date }).createdAt,
  };
}

function checkPassword(password: string, field: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new InvalidInput(`密码至少 ${MIN_PASSWORD_LENGTH} 个字符`, field);
  }
}

export class UserService {
  constructor(
    private readonly regions: RegionService,
    private readonly audit: AuditService,
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

  async list(scope: Scope): Promise<User[]> {
    const docs = await UserModel.find(scope.filter()).sort({ username: 1 }).limit(5000).lean<UserDoc[]>();
    return docs.map(toUser);
  }

  async get(scope: Scope, id: string): Promise<User> {
    return toUser(await this.findInScope(scope, id));
  }

  async create(by: Principal, input: NewUser, ip?: string): Promise<User> {
    checkPassword(input.password, 'password');
    const regionPath = await this.assignableRegionPath(by.scope, input.regionCode);
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
    if (String(current._id) === by.id && (changes.role || changes.active === false || changes.regionCode)) {
      throw new Forbidden('不能修改自己的角色、地区或停用自己');
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
      set.failedLogins = 0;
      set.lockedUntil = null;
    }
    const updated = await UserModel.findOneAndUpdate(
      { _id: current._id },
      { $set: set },
      { new: true },
    ).lean<UserDoc>();
    if (!updated) throw new NotFound(`用户 ${id}`);
    // A new password, a deactivation or a new role/scope ends every open session.
    if (changes.password || changes.active === false || changes.role || changes.regionCode) {
      await SessionModel.updateMany({ userId: id, revokedAt: null }, { $set: { revokedAt: new Date() } });
    }
    await this.audit.record({
      actor: by,
      action: 'user.update',
      target: { kind: 'user', id },
      ip,
      details: { changed: Object.keys(changes) },
    });
    return toUser(updated);
  }

  /** Sets (or, with null, removes) a user's notification robot; the caller seals the credentials. */
  async setNotifyRobot(
    by: Principal,
    id: string,
    robot: { kind: string; sealed: string } | null,
    ip?: string,
  ): Promise<void> {
    const current = await this.findInScope(by.scope, id);
    if (by.role !== 'admin' && String(current._id) !== by.id) throw new Forbidden('只能设置自己的通知机器人');
    await UserModel.updateOne({ _id: current._id }, { $set: { notifyRobot: robot } });
    await this.audit.record({
      actor: by,
      action: 'user.notify_robot',
      target: { kind: 'user', id },
      ip,
      details: { kind: robot?.kind ?? null },
    });
  }

  /** The sealed notification robot of a user, for services that tell people things. */
  async notifyRobotOf(id: string): Promise<{ kind: string; sealed: string } | null> {
    if (!mongoose.isValidObjectId(id)) return null;
    const doc = await UserModel.findById(id, { notifyRobot: 1, active: 1 }).lean<UserDoc>();
    const robot = doc?.active ? doc.notifyRobot : null;
    return robot?.kind && robot.sealed ? { kind: robot.kind, sealed: robot.sealed } : null;
  }

  async changeOwnPassword(by: Principal, currentPassword: string, newPassword: string, ip?: string): Promise<void> {
    const doc = await UserModel.findById(by.id).lean<UserDoc>();
    if (!doc || !(await verifyPassword(currentPassword, doc.passwordHash))) {
      throw new InvalidInput('当前密码不正确', 'currentPassword');
    }
    checkPassword(newPassword, 'newPassword');
    await UserModel.updateOne({ _id: doc._id }, { $set: { passwordHash: await hashPassword(newPassword), mustChangePassword: false } });
    await SessionModel.updateMany({ userId: by.id, revokedAt: null }, { $set: { revokedAt: new Date() } });
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

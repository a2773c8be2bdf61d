// Composition root: config + database → every room's service, built once and shared by
// all process roles (api, scheduler, worker).
import { AuditService } from './audit/service.js';
import { SessionService } from './auth/sessions.js';
import { UserService } from './auth/users.js';
import type { Config } from './config.js';
import { type Database, syncIndexes } from './db/connection.js';
import { type Clock, systemClock } from './lib/clock.js';
import { MediaStore } from './media/store.js';
import { NoticeService } from './notices/service.js';
import { ROOT_REGION_CODE } from './regions/levels.js';
import { RegionService } from './regions/service.js';

export interface Context {
  config: Config;
  db: Database;
  clock: Clock;
  regions: RegionService;
  audit: AuditService;
  users: UserService;
  sessions: SessionService;
  media: MediaStore;
  notices: NoticeService;
}

export function createContext(config: Config, db: Database, clock: Clock = systemClock): Context {
  const regions = new RegionService();
  const audit = new AuditService(clock, [ROOT_REGION_CODE]);
  const users = new UserService(regions, audit);
  const sessions = new SessionService(
    clock,
    {
      tokenTtlHours: config.tokenTtlHours,
      maxFailures: config.loginMaxFailures,
      lockoutMinutes: config.loginLockoutMinutes,
    },
    audit,
  );
  const media = new MediaStore(() => {
    if (!db.connection.db) throw new Error('database not connected');
    return db.connection.db;
  });
  const notices = new NoticeService(regions, media, audit, clock);
  return { config, db, clock, regions, audit, users, sessions, media, notices };
}

/**
 * Makes a database ready for use: indexes, the root region, the first admin. Idempotent,
 * safe for several instances starting at once. Returns a generated admin password, once.
 */
export async function prepareDatabase(ctx: Context): Promise<string | null> {
  await syncIndexes(ctx.db.connection);
  await ctx.regions.ensureRoot();
  return ctx.users.ensureFirstAdmin(ctx.config.adminUsername, ctx.config.adminPassword);
}

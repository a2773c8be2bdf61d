// Composition root: config + database → every room's service, built once and shared by
// all process roles (api, scheduler, worker).
import { GroupService } from './audience/groups.js';
import { AudienceService } from './audience/selection.js';
import { AuditService } from './audit/service.js';
import { SessionService } from './auth/sessions.js';
import { UserService } from './auth/users.js';
import type { Config } from './config.js';
import { ManualTaskService } from './channels/manual/tasks.js';
import { ChannelRegistry } from './channels/registry.js';
import { type Database, syncIndexes } from './db/connection.js';
import { SecretBox } from './lib/cipher.js';
import { type Clock, systemClock } from './lib/clock.js';
import { MediaStore } from './media/store.js';
import { NoticeService } from './notices/service.js';
import { loadCredentialsKey } from './lib/credentials-key.js';
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
  groups: GroupService;
  audience: AudienceService;
  manualTasks: ManualTaskService;
  channels: ChannelRegistry;
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
  // Channel credentials are sealed with this key; manual-task links are signed with a key derived from it.
  const secrets = new SecretBox(loadCredentialsKey(config.credentialsKey, config.dataDir));
  const groups = new GroupService(regions, secrets, clock);
  const audience = new AudienceService(groups);
  const manualTasks = new ManualTaskService(secrets, clock, config.publicBaseUrl);
  const channels = new ChannelRegistry(
    {
      wecomBaseUrl: config.wecomBaseUrl,
      dingtalkBaseUrl: config.dingtalkBaseUrl,
      feishuBaseUrl: config.feishuBaseUrl,
      timeoutMs: config.channelTimeoutMs,
    },
    clock,
    manualTasks,
  );
  return {
    config,
    db,
    clock,
    regions,
    audit,
    users,
    sessions,
    media,
    notices,
    groups,
    audience,
    manualTasks,
    channels,
  };
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

// A whole Jingxun for benchmarks and reliability tests, on this machine only: its own
// FerretDB (files in /dev/shm), the robot doubles on 127.0.0.1, the demo directory of N
// groups, and the real app for the API calls staff would make (notice, campaign, approval).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { RobotDoubles } from '../src/channels/doubles/server.js';
import { type Config, loadConfig } from '../src/config.js';
import { type Context, createContext, prepareDatabase } from '../src/context.js';
import { connectDatabase } from '../src/db/connection.js';
import { type RunningFerretDb, startFerretDb } from '../src/db/ferretdb.js';
import { demoRobots, seedDemo } from './demo-data.js';

export const WORLD_ADMIN_PASSWORD = 'world-admin-password';
export const WORLD_CREDENTIALS_KEY = 'b'.repeat(64);
/** The demo province's code (scripts/demo-data.ts). */
export const DEMO_PROVINCE = '990000';

export interface World {
  dir: string;
  ferret: RunningFerretDb;
  uri: string;
  doubles: RobotDoubles;
  ctx: Context;
  app: FastifyInstance;
  /** Environment for a Jingxun process joining this world (MONGODB_URI, base URLs, key). */
  processEnv: Record<string, string>;
  /** Stops the database and starts it again on the same port and files. */
  restartDatabase(downMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface WorldOptions {
  groups: number;
  env?: Record<string, string>;
  log?: (line: string) => void;
  /**
   * Keep the world in this directory between runs (a bench's 50,000-group world is built
   * once): seeded only when its `built.json` is missing, never removed by `close`. The robot
   * doubles listen on `doublesPort`, the port sealed into the groups' credentials.
   */
  keep?: { dir: string; doublesPort: number };
  /** The driver emits command events (bench/plan-cost.ts counts every command, cursors' getMore too). */
  monitorCommands?: boolean;
}

export async function startWorld(options: WorldOptions): Promise<World> {
  const log = options.log ?? (() => undefined);
  const base = process.platform === 'linux' ? '/dev/shm' : tmpdir();
  const dir = options.keep?.dir ?? mkdtempSync(join(base, 'jingxun-world-'));
  if (options.keep) mkdirSync(dir, { recursive: true });
  const built = options.keep ? existsSync(join(dir, 'built.json')) : false;
  const binary = resolve('.tools/bin/ferretdb');
  // FERRETDB_DEBUG_ADDR (e.g. 127.0.0.1:8089): FerretDB's pprof handler, for bench/fanout-cost.ts.
  const debugAddr = process.env.FERRETDB_DEBUG_ADDR;
  let ferret = await startFerretDb({ binary, dataDir: join(dir, 'db'), ...(debugAddr ? { debugAddr } : {}) });
  const uri = `${ferret.uri}/world`;
  const doubles = await new RobotDoubles({
    dingtalkPenaltyMs: 5_000,
    ...(options.keep ? { port: options.keep.doublesPort } : {}),
  }).start();
  const env = {
    MONGODB_URI: uri,
    DATA_DIR: dir,
    ADMIN_PASSWORD: WORLD_ADMIN_PASSWORD,
    CREDENTIALS_KEY: WORLD_CREDENTIALS_KEY,
    WECOM_BASE_URL: doubles.url,
    DINGTALK_BASE_URL: doubles.url,
    FEISHU_BASE_URL: doubles.url,
    OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  const config: Config = loadConfig(env);
  const db = await connectDatabase(uri, {
    ferret: true,
    ...(options.monitorCommands ? { monitorCommands: true } : {}),
  });
  const ctx = createContext(config, db);
  await prepareDatabase(ctx);
  let shown = 0;
  if (built) log(`reusing the world in ${dir}`);
  else log(`seeding ${options.groups} demo groups…`);
  if (!built)
    await seedDemo(ctx.groups, {
      groups: options.groups,
      doublesUrl: doubles.url,
      onProgress: (stage, done, total) => {
        if (done === total || Date.now() - shown > 2_000) {
          shown = Date.now();
          log(`  ${stage} ${done}/${total}`);
        }
      },
    });
  if (options.keep && !built) writeFileSync(join(dir, 'built.json'), JSON.stringify({ groups: options.groups }));
  for (const robot of demoRobots(options.groups, doubles.url)) doubles.addRobot(robot);
  const app = await buildApp(ctx, { logStream: new (await import('node:stream')).PassThrough() });

  return {
    dir,
    get ferret() {
      return ferret;
    },
    uri,
    doubles,
    ctx,
    app,
    processEnv: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
    async restartDatabase(downMs: number) {
      const port = ferret.port;
      await ferret.stop();
      await new Promise((r) => setTimeout(r, downMs));
      ferret = await startFerretDb({ binary, dataDir: join(dir, 'db'), port, ...(debugAddr ? { debugAddr } : {}) });
    },
    async close() {
      await app.close();
      await db.close();
      await ferret.stop();
      await doubles.close();
      if (!options.keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function call(app: FastifyInstance, token: string | null, method: string, url: string, body?: unknown) {
  const response = await app.inject({
    method: method as 'POST',
    url,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(body === undefined ? {} : { payload: body as object }),
  });
  if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
  return response.json();
}

/** Staff of the demo province: an editor and a reviewer, signed in. */
export async function provinceStaff(world: World): Promise<{ editor: string; reviewer: string }> {
  const admin = (
    await call(world.app, null, 'POST', '/api/auth/login', { username: 'admin', password: WORLD_ADMIN_PASSWORD })
  ).token as string;
  const tokens: Record<string, string> = {};
  for (const role of ['editor', 'reviewer']) {
    const username = `${role}-${Math.random().toString(36).slice(2, 8)}`;
    const password = `${username}-password`;
    await call(world.app, admin, 'POST', '/api/users', {
      username,
      displayName: role,
      password,
      role,
      regionCode: DEMO_PROVINCE,
    });
    // An admin-set password must be changed first (same text here: a test world).
    const first = (await call(world.app, null, 'POST', '/api/auth/login', { username, password })).token;
    await call(world.app, first, 'POST', '/api/auth/password', { currentPassword: password, newPassword: password });
    tokens[role] = (await call(world.app, null, 'POST', '/api/auth/login', { username, password })).token;
  }
  return { editor: tokens.editor!, reviewer: tokens.reviewer! };
}

/** An approved notice and an approved campaign to the whole demo province. */
export async function approvedProvinceCampaign(
  world: World,
  staff: { editor: string; reviewer: string },
  options: {
    title: string;
    schedule?: unknown;
    priority?: 'normal' | 'urgent';
    cardStyle?: string;
    /** The audience's regions: the whole province unless given. */
    regions?: string[];
  },
): Promise<{ campaignId: string; noticeId: string }> {
  const notice = await call(world.app, staff.editor, 'POST', '/api/notices', {
    category: 'anti_fraud',
    title: options.title,
    body: '近期冒充客服退款诈骗高发。\n\n- 不点陌生链接\n- 不向陌生账户转账\n- 有疑问拨打 96110',
    issuingUnit: '演示县公安局',
  });
  await call(world.app, staff.editor, 'POST', `/api/notices/${notice.id}/submit`);
  await call(world.app, staff.reviewer, 'POST', `/api/notices/${notice.id}/approve`, {});
  const campaign = await call(world.app, staff.editor, 'POST', '/api/campaigns', {
    title: options.title,
    noticeId: notice.id,
    audience: {
      regions: options.regions ?? [DEMO_PROVINCE],
      tags: [],
      groups: [],
      excludeRegions: [],
      excludeTags: [],
      excludeGroups: [],
    },
    schedule: options.schedule ?? { kind: 'now' },
    priority: options.priority ?? 'urgent',
    cardStyle: options.cardStyle ?? 'rich',
  });
  await call(world.app, staff.editor, 'POST', `/api/campaigns/${campaign.id}/submit`);
  await call(world.app, staff.reviewer, 'POST', `/api/campaigns/${campaign.id}/approve`);
  return { campaignId: campaign.id, noticeId: notice.id };
}

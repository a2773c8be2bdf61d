// npm run demo [-- --groups=50000] [--doubles-url=http://127.0.0.1:4010] [--no-month]
// Creates the demo county (内黄县 from the shipped division list, shaped like SPEC §1; or a
// synthetic province of N groups) in the configured database
// (embedded FerretDB under DATA_DIR unless MONGODB_URI is set), and writes the robots the
// doubles must know to DATA_DIR/demo-robots.json. Then, for the county, a month of work
// (scripts/demo-month.ts): accounts of every role, notices in every state, campaigns sent
// through robot doubles started here (or the ones already listening at --doubles-url),
// officer tasks, a wanted case with tips. Safe to run again: nothing is duplicated.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../src/app.js';
import { RobotDoubles } from '../src/channels/doubles/server.js';
import { loadConfig } from '../src/config.js';
import { type Context, createContext, engineDeps, prepareDatabase } from '../src/context.js';
import { openDatabase } from '../src/db/connection.js';
import { Scheduler, createWorker } from '../src/engine/runner.js';
import { COUNTY_SHAPE, DEMO_COUNTY, demoRobots, seedDemo } from './demo-data.js';
import { DEMO_USERS, demoPassword, seedDemoMonth } from './demo-month.js';

function flag(name: string, fallback: string): string {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

async function main() {
  const groups = Number(flag('groups', String(COUNTY_SHAPE.groups)));
  if (!Number.isInteger(groups) || groups < 1 || groups > 200_000)
    throw new Error('--groups must be a whole number from 1 to 200000');
  const doublesUrl = flag('doubles-url', 'http://127.0.0.1:4010').replace(/\/+$/, '');
  const withMonth = !process.argv.includes('--no-month') && groups <= COUNTY_SHAPE.groups;
  // The month's campaigns post to the doubles: robots' base addresses and the loopback allowance.
  for (const name of ['WECOM_BASE_URL', 'DINGTALK_BASE_URL', 'FEISHU_BASE_URL']) process.env[name] ??= doublesUrl;
  process.env.OUTBOUND_ALLOW_HOSTS ??= '127.0.0.1';
  // The month goes through an in-process app: its request log would drown the progress lines.
  process.env.LOG_LEVEL ??= 'warn';
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    const ctx = createContext(config, db);
    const password = await prepareDatabase(ctx);
    if (password) process.stdout.write(`首次启动：管理员 ${config.adminUsername} 的密码为 ${password}（只显示一次）\n`);
    const started = Date.now();
    let lastShown = 0;
    const result = await seedDemo(ctx.groups, {
      groups,
      doublesUrl,
      onProgress: (stage, done, total) => {
        if (done === total || Date.now() - lastShown > 500) {
          lastShown = Date.now();
          process.stdout.write(`\r[demo] ${stage} ${done}/${total} (${Math.round((done / total) * 100)}%)   `);
        }
      },
    });
    const robotsFile = join(config.dataDir, 'demo-robots.json');
    writeFileSync(robotsFile, JSON.stringify(demoRobots(groups, doublesUrl)));
    const area = groups <= COUNTY_SHAPE.groups ? DEMO_COUNTY.code : '990000';
    const members = await ctx.audience.totals(ctx.regions.rootScope(), { regions: [area] });
    process.stdout.write(
      `\n[demo] done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${result.regionsCreated} regions and ${result.groupsCreated} groups created ` +
        `(now ${members.groupCount} active groups in ${members.villageCount} villages, ${members.memberTotal} members)\n` +
        `[demo] robots for the doubles: ${robotsFile}\n`,
    );
    if (withMonth) await month(ctx, robotsFile, doublesUrl, groups);
    process.stdout.write(
        `[demo] next: npm run doubles -- --robots=${robotsFile}\n` +
        `[demo]       WECOM_BASE_URL=${doublesUrl} DINGTALK_BASE_URL=${doublesUrl} FEISHU_BASE_URL=${doublesUrl} OUTBOUND_ALLOW_HOSTS=127.0.0.1 npm start\n`,
    );
  } finally {
    await db.close();
  }
}

/** The month of work, through the API (an in-process app), with the engine and doubles running. */
async function month(ctx: Context, robotsFile: string, doublesUrl: string, groups: number) {
  const robots = demoRobots(groups, doublesUrl);
  let doubles: RobotDoubles | null = null;
  const port = Number(new URL(doublesUrl).port || 80);
  try {
    doubles = await new RobotDoubles({ port }).start();
    for (const robot of robots) doubles.addRobot(robot);
    process.stdout.write(`[demo] robot doubles started at ${doubles.url}\n`);
  } catch {
    // Already listening (npm run doubles): tell it the robots.
    await fetch(`${doublesUrl}/_doubles/robots`, { method: 'POST', body: JSON.stringify(robots) });
    process.stdout.write(`[demo] robot doubles already running at ${doublesUrl}; robots from ${robotsFile} registered\n`);
  }
  const deps = engineDeps(ctx);
  const scheduler = new Scheduler(deps).start(() => undefined);
  const worker = createWorker({ ...deps, worker: { ...deps.worker, pollMs: 100 } });
  worker.start();
  const app = await buildApp(ctx);
  try {
    // The month's admin: an account of the county (the first admin's password is not known here).
    const admin = DEMO_USERS.find((u) => u.role === 'admin');
    if (!admin) throw new Error('no demo admin');
    const root = {
      id: 'demo-script',
      username: 'demo-script',
      displayName: '演示脚本',
      role: 'admin' as const,
      regionPath: [],
      scope: ctx.regions.rootScope(),
    };
    const password = demoPassword(admin.username);
    const initial = `${password}-initial`;
    const made = await ctx.users
      .create(root, { ...admin, password: initial, regionCode: DEMO_COUNTY.code })
      .then(() => true)
      .catch(() => false);
    if (made) {
      // An admin-set password must be changed by its owner first (issue 26.9).
      const first = await ctx.sessions.login(admin.username, initial, null);
      const changed = await app.inject({
        method: 'POST',
        url: '/api/auth/password',
        headers: { authorization: `Bearer ${first.token}` },
        payload: { currentPassword: initial, newPassword: password },
      });
      if (changed.statusCode !== 200) throw new Error(`demo admin password: ${changed.body}`);
    }
    const login = await ctx.sessions.login(admin.username, password, null);
    const started = Date.now();
    const result = await seedDemoMonth(app, {
      countyCode: DEMO_COUNTY.code,
      adminToken: login.token,
      deliveryTimeoutMs: 180_000,
      // 触达统计 and 月度统计表 show the month from the first look, not after a service's refresh.
      rollups: ctx.tracking.rollups,
      log: (step) => process.stdout.write(`[demo] 本月数据：${step}（${((Date.now() - started) / 1000).toFixed(1)} s）\n`),
    });
    if (result.created) {
      process.stdout.write(
        `[demo] month done: ${result.notices} notices, ${result.campaigns} campaigns, ${result.tasks} officer tasks, ${result.tips} tips\n`,
      );
    }
    process.stdout.write(`[demo] accounts (username / password):\n${result.accounts.map((a) => `[demo]   ${a}`).join('\n')}\n`);
  } finally {
    await app.close();
    await scheduler.stop();
    await worker.stop();
    await doubles?.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${(error as Error).message}\n`);
  process.exit(1);
});

// npm run demo [-- --groups=50000] [--doubles-url=http://127.0.0.1:4010]
// Creates the demo county (内黄县 from the shipped division list, shaped like SPEC §1; or a
// synthetic province of N groups) in the configured database
// (embedded FerretDB under DATA_DIR unless MONGODB_URI is set), and writes the robots the
// doubles must know to DATA_DIR/demo-robots.json. Safe to run again: nothing is duplicated.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { createContext, prepareDatabase } from '../src/context.js';
import { openDatabase } from '../src/db/connection.js';
import { COUNTY_SHAPE, DEMO_COUNTY, demoRobots, seedDemo } from './demo-data.js';

function flag(name: string, fallback: string): string {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

async function main() {
  const groups = Number(flag('groups', String(COUNTY_SHAPE.groups)));
  if (!Number.isInteger(groups) || groups < 1 || groups > 200_000)
    throw new Error('--groups must be a whole number from 1 to 200000');
  const doublesUrl = flag('doubles-url', 'http://127.0.0.1:4010').replace(/\/+$/, '');
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
        `[demo] robots for the doubles: ${robotsFile}\n` +
        `[demo] next: npm run doubles -- --robots=${robotsFile}\n` +
        `[demo]       WECOM_BASE_URL=${doublesUrl} DINGTALK_BASE_URL=${doublesUrl} FEISHU_BASE_URL=${doublesUrl} OUTBOUND_ALLOW_HOSTS=127.0.0.1 npm start\n`,
    );
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${(error as Error).message}\n`);
  process.exit(1);
});

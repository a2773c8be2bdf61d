// Audience selection on a province-size directory (default 50,000 groups).
//   npm run bench:audience [-- --groups=50000]
// Seeds the demo province into a scratch embedded FerretDB (or MONGODB_URI's server, in a
// database of its own), then times: totals for the whole province, for one county, for a
// union with exclusions; and streaming every selected group to the engine in batches of
// 500 (with opened credentials), with the heap growth while streaming. Prints figures and
// ends with one JSON line.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { createContext, prepareDatabase } from '../src/context.js';
import { openDatabase } from '../src/db/connection.js';
import { seedDemo } from '../scripts/demo-data.js';

function flag(name: string, fallback: string): string {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: Math.round(performance.now() - started), value };
}

async function main() {
  const groups = Number(flag('groups', '50000'));
  const scratch = mkdtempSync(join(tmpdir(), 'jingxun-bench-'));
  const config = loadConfig({
    ...process.env,
    DATA_DIR: scratch,
    CREDENTIALS_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'silent',
  });
  const db = await openDatabase(config);
  try {
    const ctx = createContext(config, db);
    await prepareDatabase(ctx);
    const seeded = await timed(() =>
      seedDemo(ctx.groups, {
        groups,
        doublesUrl: 'http://127.0.0.1:4010',
        onProgress: (_stage, done, total) => process.stdout.write(`\r[bench] seeding groups ${done}/${total}   `),
      }),
    );
    process.stdout.write(`\n[bench] seeded ${seeded.value.groupsCreated} groups in ${seeded.ms} ms\n`);
    const scope = ctx.regions.rootScope();
    const province = await timed(() => ctx.audience.totals(scope, { regions: ['990000'] }));
    const county = await timed(() => ctx.audience.totals(scope, { regions: ['990101'] }));
    const union = await timed(() =>
      ctx.audience.totals(scope, {
        regions: ['990101', '990102'],
        tags: ['重点村'],
        excludeTags: ['学校'],
        excludeRegions: ['990101001'],
      }),
    );
    for (const [label, result] of [
      ['province', province],
      ['county', county],
      ['union', union],
    ] as const) {
      process.stdout.write(`[bench] totals ${label}: ${JSON.stringify(result.value)} in ${result.ms} ms\n`);
    }
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let peak = heapBefore;
    let streamed = 0;
    const stream = await timed(async () => {
      for await (const batch of ctx.audience.selectedGroupBatches(scope, { regions: ['990000'] }, { batchSize: 500 })) {
        streamed += batch.length;
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }
    });
    const heapGrowthMb = Math.round(((peak - heapBefore) / 1024 / 1024) * 10) / 10;
    process.stdout.write(`[bench] streamed ${streamed} groups in ${stream.ms} ms (heap growth ${heapGrowthMb} MB)\n`);
    const summary = {
      bench: 'audience-selection',
      database: db.embedded ? 'ferretdb-1.24-sqlite' : 'mongodb',
      groups: province.value.groupCount,
      villages: province.value.villageCount,
      members: province.value.memberTotal,
      seedMs: seeded.ms,
      totalsProvinceMs: province.ms,
      totalsCountyMs: county.ms,
      totalsUnionMs: union.ms,
      streamAllMs: stream.ms,
      streamed,
      streamHeapGrowthMb: heapGrowthMb,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await db.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack}\n`);
  process.exit(1);
});

// Audience selection on a province-size directory (default 50,000 groups).
//   npm run bench:audience [-- --groups=50000 --rounds=40]
// Seeds the demo province into a scratch embedded FerretDB (or MONGODB_URI's server, in a
// database of its own), then times: running totals (the read model) for `rounds` selections
// inside the demo county (p50/p99) and for province-wide selections (p50); the same totals
// computed the way they were before the read model (one projected scan of the groups
// matching the selection), for comparison on the same machine; the first figures of the
// old bench (province, county, union); and streaming every selected group to the engine in
// batches of 500 (with opened credentials), with the heap growth while streaming. Every
// read-model figure is checked against the scan. Prints figures and ends with one JSON line.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { createContext, prepareDatabase } from '../src/context.js';
import type { AudienceSpec } from '../src/audience/selection.js';
import { GroupModel } from '../src/audience/model.js';
import { openDatabase } from '../src/db/connection.js';
import { Scope } from '../src/regions/scope.js';
import { seedDemo } from '../scripts/demo-data.js';

function flag(name: string, fallback: string): string {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: Math.round(performance.now() - started), value };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[at]! * 10) / 10;
}

/** Selections a person clicks together inside the demo county 990101. */
function countySelections(rounds: number): { scope: string; spec: AudienceSpec }[] {
  const township = (n: number) => `990101${String(1 + (n % 17)).padStart(3, '0')}`;
  const village = (n: number) => `${township(n)}${String(1 + ((n * 7) % 32)).padStart(3, '0')}`;
  const out: { scope: string; spec: AudienceSpec }[] = [];
  for (let i = 0; i < rounds; i += 1) {
    const shapes: { scope: string; spec: AudienceSpec }[] = [
      { scope: '000000', spec: { regions: ['990101'] } },
      { scope: '000000', spec: { regions: [township(i), township(i + 3)], excludeRegions: [village(i)] } },
      { scope: '990101', spec: { tags: ['重点村', '学校'], excludeTags: ['商户'] } },
      { scope: '990101', spec: { regions: [township(i)], tags: ['留守老人'], excludeRegions: [village(i + 1)] } },
      { scope: '990101', spec: { regions: [village(i), village(i + 5), village(i + 9)] } },
    ];
    out.push(shapes[i % shapes.length]!);
  }
  return out;
}

const PROVINCE_SELECTIONS: AudienceSpec[] = [
  { regions: ['990000'] },
  { regions: ['990000'], excludeTags: ['学校'] },
  { tags: ['重点村'] },
  { regions: ['990100', '990102'], excludeRegions: ['990101001'] },
  { regions: ['990101', '990102'], tags: ['重点村'], excludeTags: ['学校'], excludeRegions: ['990101001'] },
];

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
    const rounds = Number(flag('rounds', '40'));
    // Totals computed the way they were before the read model: one projected scan.
    const scanTotals = async (scopeCode: string, spec: AudienceSpec) => {
      const filter = await ctx.audience.filterFor(new Scope(scopeCode), spec);
      const villages = new Set<string>();
      let groupCount = 0;
      let memberTotal = 0;
      for await (const g of GroupModel.find(filter, { _id: 0, regionCode: 1, memberCount: 1 })
        .lean<{ regionCode: string; memberCount: number }>()
        .cursor({ batchSize: 5_000 })) {
        groupCount += 1;
        memberTotal += g.memberCount;
        villages.add(g.regionCode);
      }
      return { groupCount, villageCount: villages.size, memberTotal };
    };
    const check = (
      label: string,
      got: { groupCount: number; villageCount: number; memberTotal: number },
      want: typeof got,
    ) => {
      const same =
        got.groupCount === want.groupCount &&
        got.villageCount === want.villageCount &&
        got.memberTotal === want.memberTotal;
      if (!same) throw new Error(`${label}: read model ${JSON.stringify(got)} ≠ scan ${JSON.stringify(want)}`);
    };
    const countyMs: number[] = [];
    for (const [i, { scope: code, spec }] of countySelections(rounds).entries()) {
      const result = await timed(() => ctx.audience.totals(new Scope(code), spec));
      countyMs.push(result.ms);
      if (i < 5) check(`county selection ${i}`, result.value, await scanTotals(code, spec));
    }
    const provinceMs: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      for (const [i, spec] of PROVINCE_SELECTIONS.entries()) {
        const result = await timed(() => ctx.audience.totals(scope, spec));
        provinceMs.push(result.ms);
        if (round === 0 && i < 2) check(`province selection ${i}`, result.value, await scanTotals('000000', spec));
      }
    }
    const scanCounty = await timed(() => scanTotals('000000', { regions: ['990101'] }));
    const scanProvince = await timed(() => scanTotals('000000', { regions: ['990000'] }));
    const radius = await timed(() =>
      ctx.audience.totals(new Scope('990101'), { near: { lat: 35.95, lng: 114.9, radiusKm: 10 } }),
    );
    process.stdout.write(
      `[bench] read model: county p50 ${percentile(countyMs, 50)} ms, p99 ${percentile(countyMs, 99)} ms over ${countyMs.length}; ` +
        `province p50 ${percentile(provinceMs, 50)} ms over ${provinceMs.length}; ` +
        `scan (before): county ${scanCounty.ms} ms, province ${scanProvince.ms} ms; radius 10 km in the county ${radius.ms} ms\n`,
    );
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
      county_totals_p50_ms: percentile(countyMs, 50),
      county_totals_p99_ms: percentile(countyMs, 99),
      province_totals_p50_ms: percentile(provinceMs, 50),
      scan_county_ms: scanCounty.ms,
      scan_province_ms: scanProvince.ms,
      county_radius_ms: radius.ms,
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

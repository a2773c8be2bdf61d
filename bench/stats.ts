// Loads N delivery outcomes (default 1,000,000) over one year for the demo county (17
// townships, 545 villages, 595 groups) as ledger batches, folds them into the roll-ups
// through the same markers the engine writes, then times the statistics endpoint
// (month × township × category for the year) against a naive aggregation over the raw
// items ($unwind + $group) on the same database. Checks: the report's totals equal the
// naive aggregation, and every row equals a count made from the raw items read back from
// the database (test/tracking/raw.ts, the tests' independent counter). Progress on stderr;
// the last line of stdout is one JSON object.
// Usage: npm run bench:stats [-- --records=1000000 --stats-runs=200 --naive-runs=3]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import mongoose from 'mongoose';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { type Context, createContext, prepareDatabase } from '../src/context.js';
import { connectDatabase } from '../src/db/connection.js';
import { startFerretDb } from '../src/db/ferretdb.js';
import { CATEGORIES } from '../src/notices/categories.js';
import { RegionModel } from '../src/regions/model.js';
import { countItems } from '../src/tracking/counts.js';
import { DeliveryBatchModel } from '../src/tracking/model.js';
import { type Figures, type RawBatch, RawTally } from '../test/tracking/raw.js';

const arg = (name: string, fallback: number) => {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  return raw ? Number(raw) : fallback;
};
const RECORDS = arg('records', 1_000_000);
const STATS_RUNS = arg('stats-runs', 200);
const NAIVE_RUNS = arg('naive-runs', 3);
const log = (message: string) => process.stderr.write(`[bench:stats] ${message}\n`);

const PROVINCE = '450000';
const CITY = '451000';
const COUNTY = '451022';
const TOWNSHIPS = 17;
const VILLAGES = 545;
const GROUPS = 595;
const CAMPAIGNS = 28; // four per category, recurring through the year
const STATUSES = [
  'sent',
  'sent',
  'sent',
  'sent',
  'sent',
  'sent',
  'sent',
  'sent',
  'confirmed',
  'awaiting',
  'failed',
  'uncertain',
  'skipped',
] as const;

interface Group {
  id: string;
  township: string;
  village: string;
  members: number;
}

function demoCounty() {
  const townships = Array.from({ length: TOWNSHIPS }, (_, t) => `${COUNTY}${String(t + 1).padStart(3, '0')}`);
  const villages = Array.from({ length: VILLAGES }, (_, v) => {
    const township = townships[v % TOWNSHIPS]!;
    return `${township}${String(Math.floor(v / TOWNSHIPS) + 1).padStart(3, '0')}`;
  });
  const groups: Group[] = Array.from({ length: GROUPS }, (_, g) => {
    const village = villages[g % VILLAGES]!;
    return {
      id: g.toString(16).padStart(24, '0'),
      township: village.slice(0, 9),
      village,
      members: 150 + ((g * 97) % 500),
    };
  });
  return { townships, villages, groups };
}

async function loadRegions(townships: string[], villages: string[]): Promise<void> {
  const root = '000000';
  const docs = [
    { code: PROVINCE, name: '广西壮族自治区', level: 'province', parentCode: root, regionPath: [root, PROVINCE] },
    { code: CITY, name: '百色市', level: 'city', parentCode: PROVINCE, regionPath: [root, PROVINCE, CITY] },
    { code: COUNTY, name: '示范县', level: 'county', parentCode: CITY, regionPath: [root, PROVINCE, CITY, COUNTY] },
    ...townships.map((code, i) => ({
      code,
      name: `第${i + 1}乡镇`,
      level: 'township',
      parentCode: COUNTY,
      regionPath: [root, PROVINCE, CITY, COUNTY, code],
    })),
    ...villages.map((code, i) => ({
      code,
      name: `第${i + 1}村`,
      level: 'village',
      parentCode: code.slice(0, 9),
      regionPath: [root, PROVINCE, CITY, COUNTY, code.slice(0, 9), code],
    })),
  ];
  await RegionModel.insertMany(docs, { ordered: false });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** County-wide runs spread over 2024; every run writes one batch per township, then its marker. */
async function loadDeliveries(ctx: Context, groups: Group[], townships: string[]): Promise<number> {
  const byTownship = new Map<string, Group[]>();
  for (const g of groups) byTownship.set(g.township, [...(byTownship.get(g.township) ?? []), g]);
  const runs = Math.ceil(RECORDS / GROUPS);
  const campaigns = Array.from({ length: CAMPAIGNS }, () => randomBytes(12).toString('hex'));
  log(`loading ${RECORDS.toLocaleString()} deliveries: ${runs} runs × ${TOWNSHIPS} townships`);
  const started = Date.now();
  let written = 0;
  let pending: Record<string, unknown>[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    await DeliveryBatchModel.insertMany(pending, { ordered: false, lean: true });
    await ctx.tracking.rollups.batchesWritten(pending.map((b) => b._id as string));
    pending = [];
  };
  for (let run = 0; run < runs && written < RECORDS; run++) {
    const campaign = run % CAMPAIGNS;
    const category = CATEGORIES[campaign % CATEGORIES.length]!;
    const day = new Date(Date.UTC(2024, 0, 1) + Math.floor((run * 366) / runs) * 86_400_000).toISOString().slice(0, 10);
    const occurrence = `${campaigns[campaign]}@${day}T02:00:00Z#${run}`;
    for (const township of townships) {
      const members = byTownship.get(township)!.slice(0, RECORDS - written);
      if (members.length === 0) break;
      const items = members.map((g, i) => {
        const status = STATUSES[(run * 7 + i) % STATUSES.length]!;
        return {
          groupId: g.id,
          groupName: `${g.village}群`,
          channel: status === 'confirmed' || status === 'awaiting' ? 'manual' : 'wecom',
          robotKey: `robot-${g.id}`,
          memberCount: g.members,
          villageCode: g.village,
          villageName: '',
          townshipName: '',
          officerName: null,
          officerPhone: null,
          status,
          attempts: 1,
          nextAt: null,
          lastError: status === 'failed' ? '93000 invalid webhook' : null,
          sentAt: status === 'sent' ? new Date(`${day}T02:00:05Z`) : null,
        };
      });
      written += items.length;
      pending.push({
        _id: `${occurrence}|${township}|0`,
        occurrenceId: occurrence,
        campaignId: campaigns[campaign],
        noticeId: campaigns[campaign],
        category,
        priority: 'normal',
        cardStyle: 'rich',
        regionPath: ['000000', PROVINCE, CITY, COUNTY, township],
        countyCode: COUNTY,
        townshipCode: township,
        day,
        month: day.slice(0, 7),
        items,
        dueAt: null,
        lease: { epoch: 1, until: null, owner: null },
        counts: countItems(items as never),
        createdAt: new Date(),
        updatedAt: new Date(),
      });
      if (pending.length >= 500) await flush();
    }
    if (run % 200 === 0) log(`  ${written.toLocaleString()} deliveries written (${seconds(started)})`);
  }
  await flush();
  log(`loaded ${written.toLocaleString()} deliveries in ${seconds(started)}`);
  return written;
}

interface ReportRow extends Figures {
  month: string;
  townshipCode: string;
  category: string;
}

/** Times the endpoint; the first few requests warm the connection pool and are not counted. */
async function timeEndpoint(app: FastifyInstance, token: string, url: string, runs = STATS_RUNS) {
  const times: number[] = [];
  let report: { totals: Figures; rows: ReportRow[] } | null = null;
  for (let i = 0; i < runs + 5; i++) {
    const t0 = performance.now();
    const response = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    const ms = performance.now() - t0;
    if (response.statusCode !== 200) throw new Error(`stats answered ${response.statusCode}: ${response.body}`);
    report = response.json();
    if (i >= 5) times.push(ms);
  }
  times.sort((a, b) => a - b);
  log(
    `${url}: ${report!.rows.length} rows, ${report!.totals.deliveries.toLocaleString()} deliveries, ` +
      `p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms`,
  );
  return { times, report: report! };
}

/** The naive answer: every raw item of the county-year through $unwind + $group. */
async function naiveAggregation() {
  const times: number[] = [];
  let totals = { deliveries: 0, messages: 0, personTimes: 0 };
  for (let i = 0; i < NAIVE_RUNS; i++) {
    const t0 = performance.now();
    const rows = await DeliveryBatchModel.aggregate<{ _id: Record<string, string>; n: number; members: number }>([
      { $match: { regionPath: COUNTY, month: { $gte: '2024-01', $lte: '2024-12' } } },
      { $unwind: '$items' },
      // On FerretDB 1.24 a compound _id keeps only its last key and $sum of a nested path
      // gives 0, so there this is the same pass over every record grouped by status only
      // (a lower bound of the naive cost); on MongoDB it is the full breakdown.
      {
        $group: {
          _id: { month: '$month', township: '$townshipCode', category: '$category', status: '$items.status' },
          n: { $sum: 1 },
          members: { $sum: '$items.memberCount' },
        },
      },
    ]).allowDiskUse(true);
    times.push(performance.now() - t0);
    const reached = rows.filter((r) => r._id.status === 'sent' || r._id.status === 'confirmed');
    totals = {
      deliveries: rows.reduce((sum, r) => sum + r.n, 0),
      messages: reached.reduce((sum, r) => sum + r.n, 0),
      personTimes: reached.reduce((sum, r) => sum + r.members, 0),
    };
    log(`naive aggregation run ${i + 1}: ${(times.at(-1)! / 1000).toFixed(2)} s, ${rows.length} groups`);
  }
  return { times: times.sort((a, b) => a - b), totals };
}

const sameFigures = (raw: Figures | undefined, report: Figures) =>
  raw !== undefined && (Object.keys(raw) as Array<keyof Figures>).every((key) => raw[key] === report[key]);

/** Every row of the report against the raw items read back from the database. */
async function checkRows(report: { totals: Figures; rows: ReportRow[] }): Promise<void> {
  const started = Date.now();
  const rows = new Map<string, RawTally>();
  const all = new RawTally();
  const cursor = DeliveryBatchModel.find(
    { regionPath: COUNTY, month: { $gte: '2024-01', $lte: '2024-12' } },
    { month: 1, townshipCode: 1, category: 1, items: 1 },
  )
    .lean<RawBatch[]>()
    .cursor();
  for await (const batch of cursor as AsyncIterable<RawBatch>) {
    const key = `${batch.month}|${batch.townshipCode}|${batch.category}`;
    const tally = rows.get(key) ?? new RawTally();
    rows.set(key, tally);
    tally.add(batch);
    all.add(batch);
  }
  const wrong = report.rows.filter(({ month, townshipCode, category, ...figures }) => {
    return !sameFigures(rows.get(`${month}|${townshipCode}|${category}`)?.result(), figures);
  });
  if (wrong.length > 0 || rows.size !== report.rows.length) {
    throw new Error(`${wrong.length} of ${report.rows.length} rows (raw: ${rows.size}) differ from the raw items`);
  }
  if (!sameFigures(all.result(), report.totals)) {
    throw new Error(
      `totals differ from the raw items: ${JSON.stringify({ raw: all.result(), report: report.totals })}`,
    );
  }
  log(
    `all ${rows.size} rows and the totals (distinct groups and villages too) equal the raw items (${seconds(started)})`,
  );
}

async function main() {
  const external = process.env.MONGODB_URI;
  const scratch = external ? null : mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'jingxun-bench-'));
  const ferret = scratch ? await startFerretDb({ binary: resolve('.tools/bin/ferretdb'), dataDir: scratch }) : null;
  const uri = external ?? `${ferret!.uri}/jxbench`;
  const db = await connectDatabase(uri, { ferret: !external });
  try {
    await db.connection.db!.dropDatabase();
    const config = loadConfig({
      LOG_LEVEL: 'warn',
      ADMIN_PASSWORD: 'bench-admin-password',
      CREDENTIALS_KEY: 'b'.repeat(64),
    });
    const ctx = createContext(config, db);
    await prepareDatabase(ctx);
    const app = await buildApp(ctx);
    const login = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { username: 'admin', password: 'bench-admin-password' },
    });
    const token = login.json().token as string;

    const { townships, villages, groups } = demoCounty();
    await loadRegions(townships, villages);
    const written = await loadDeliveries(ctx, groups, townships);
    log('folding into roll-ups…');
    const foldStart = Date.now();
    await ctx.tracking.rollups.refreshAll('bench', (done) =>
      log(`  ${done.toLocaleString()} batches folded (${seconds(foldStart)})`),
    );
    log(`roll-ups ready in ${seconds(foldStart)}`);

    const url = `/api/reach?from=2024-01&to=2024-12&groupBy=month,township,category&regionCode=${COUNTY}`;
    const stats = await timeEndpoint(app, token, url);
    // For the record, not the target: the root scope (counties from ReachScope) and a
    // day-precise month (the ledger path).
    await timeEndpoint(app, token, '/api/reach?from=2024-01&to=2024-12&groupBy=month,township,category', 20);
    await timeEndpoint(app, token, `/api/reach?from=2024-03-01&to=2024-03-31&groupBy=day&regionCode=${COUNTY}`, 20);
    const naive = await naiveAggregation();
    const { totals } = stats.report;
    const same =
      naive.totals.deliveries === totals.deliveries &&
      naive.totals.messages === totals.messages &&
      (naive.totals.personTimes === 0 || naive.totals.personTimes === totals.personTimes); // 0: FerretDB's nested $sum
    if (!same) {
      throw new Error(`roll-ups disagree with the raw items: ${JSON.stringify({ naive: naive.totals, totals })}`);
    }
    log('roll-up totals equal the naive aggregation over the raw items');
    await checkRows(stats.report);

    const statsP50 = percentile(stats.times, 50);
    const naiveP50 = percentile(naive.times, 50);
    await app.close();
    process.stdout.write(
      `${JSON.stringify({
        records: written,
        stats_p50_ms: Number(statsP50.toFixed(2)),
        stats_p99_ms: Number(percentile(stats.times, 99).toFixed(2)),
        naive_p50_ms: Number(naiveP50.toFixed(1)),
        ratio: Number((naiveP50 / statsP50).toFixed(1)),
      })}\n`,
    );
  } finally {
    await db.connection.db?.dropDatabase().catch(() => undefined);
    await db.close();
    await ferret?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    await mongoose.disconnect().catch(() => undefined);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:stats failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

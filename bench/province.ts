// npm run bench:province — a province a month in: every console screen and every idle loop.
//
//   PROVINCE_GROUPS=50000   groups in the demo province (default 50,000 = 84 counties)
//   PROVINCE_CAMPAIGNS=40   province-wide campaigns over the month (each to every group)
//   PROVINCE_ROUNDS=20      calls per screen and person (p50/p99 over them)
//   PROVINCE_IDLE_S=20      seconds each background loop is watched while nothing is due
//   PROVINCE_SETTLE_S=600   seconds at most the notifier works off the world's due backlog before it is watched
//   PROVINCE_WARMUP_S=3     seconds each loop runs at least before it is watched (its first pass catches up after a start)
//   PROVINCE_QUIET_MAX_S=300 seconds at most the bench waits for a loop's start-up to be answered and FerretDB quiet
//   PROVINCE_SCREEN_BOX_S=30 a screen is called again only while its calls took less than this in all
//   PROVINCE_CALL_TIMEOUT_S=60 a call still unanswered after this counts as this (a lower bound)
//   PROVINCE_BUILD_ONLY=1   build (or find) the world, finish it (bench/province-finish.ts) and stop
//   PROVINCE_SCREENS=a,b    measure only these screens (names as in the table); PROVINCE_IDLE_S=0 skips the loops
//   PROVINCE_SHOW_COMMANDS=1 also print the database commands of each screen's last call (by command, collection, filter keys)
//   PROVINCE_SHOW_CALLS=1   also print every call's time, commands and reply bytes (which calls are slow, and why)
//   PROVINCE_PEOPLE=a,b     measure only these people (county_editor, city_coordinator, province_admin)
//   PROVINCE_LOOPS=a,b      watch only these background loops (names as in the table)
//   PROVINCE_CACHE=/dev/shm  where the built world is kept between runs (PROVINCE_REBUILD=1 builds anew)
//
// Builds (once, then reused from the cache) the demo province and a month of history written
// in bulk through the service's own models: county and province campaigns of every day, their
// runs and delivery batches (robot channels sent, failed, uncertain; manual channel awaiting or
// confirmed by officers, with their tasks, confirmations and notification steps), retracted
// campaigns and their retraction follow-ups, wanted cases with tips and case outcomes, and the
// audit log; the roll-ups are folded once. Then, through real HTTP on 127.0.0.1, a county
// editor, a city coordinator and a province admin each open every console screen `rounds`
// times (p50/p99 per API call), and each background loop runs alone, in a child process of its
// own, for PROVINCE_IDLE_S while nothing is due, its CPU (that process plus FerretDB, each less
// a child running no loop) measured. Prints a table and ends with
// one JSON line.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { BSON, type CommandStartedEvent, type CommandSucceededEvent } from 'mongodb';
import mongoose from 'mongoose';
import { buildApp } from '../src/app.js';
import { AuditModel } from '../src/audit/model.js';
import { GroupModel, groupListing } from '../src/audience/model.js';
import { warmVillages } from '../src/audience/radius.js';
import { CampaignModel } from '../src/campaigns/model.js';
import { ManualConfirmationModel, ManualTaskModel } from '../src/channels/manual/model.js';
import { loadConfig } from '../src/config.js';
import { createContext, engineDeps, prepareDatabase } from '../src/context.js';
import { connectDatabase } from '../src/db/connection.js';
import { startFerretDb } from '../src/db/ferretdb.js';
import { OccurrenceModel } from '../src/engine/model.js';
import { Scheduler, createWorker } from '../src/engine/runner.js';
import { NoticeModel } from '../src/notices/model.js';
import { NotificationStepModel } from '../src/notifications/model.js';
import { TipModel } from '../src/tips/model.js';
import { BATCH_SIZE, DeliveryBatchModel } from '../src/tracking/model.js';
import { RollupRefresher } from '../src/tracking/refresher.js';
import { listBatches, listNoticeRun, listRun } from '../src/tracking/run-batches.js';
import { DeadlineWatch } from '../src/cases/deadlines.js';
import { dueMarker } from '../src/channels/manual/watch.js';
import { Retention } from '../src/engine/retention.js';
import { startLoop } from '../src/lib/loop.js';
import { seedDemo } from '../scripts/demo-data.js';
import { FINISH_VERSION, finishWorld, worldClock } from './province-finish.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const GROUPS = env('PROVINCE_GROUPS', 50_000);
const PROVINCE_CAMPAIGNS = env('PROVINCE_CAMPAIGNS', 40);
const ROUNDS = env('PROVINCE_ROUNDS', 20);
const IDLE_S = env('PROVINCE_IDLE_S', 20);
/** Seconds a loop runs before it is watched: its first pass (catch-up after a start) is not idle work. */
const WARMUP_S = env('PROVINCE_WARMUP_S', 3);
/** Seconds at most a loop's start-up is waited for before its window opens anyway. */
const QUIET_MAX_S = env('PROVINCE_QUIET_MAX_S', 300);
/** Seconds at most the officer notifier works through the world's due backlog before it is watched. */
const SETTLE_S = env('PROVINCE_SETTLE_S', 600);
const DAYS = 30;
const CALL_TIMEOUT_MS = env('PROVINCE_CALL_TIMEOUT_S', 60) * 1000;
const SCREEN_BOX_MS = env('PROVINCE_SCREEN_BOX_S', 30) * 1000;
const COUNTY_CAMPAIGNS_PER_DAY = 6;
const CACHE = resolve(process.env.PROVINCE_CACHE ?? '/dev/shm', `jingxun-province-${GROUPS}-${PROVINCE_CAMPAIGNS}`);
const ADMIN_PASSWORD = 'province-admin-password';
const CREDENTIALS_KEY = 'c'.repeat(64);
const PROVINCE = '990000';
const CITY = '990100';
const COUNTY = '990101';

const log = (line: string) => process.stdout.write(`[bench:province] ${line}\n`);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[at] ?? 0) * 10) / 10;
}

/** A deterministic pseudo-random number in [0, 1) from a string. */
function chance(key: string): number {
  return createHash('sha1').update(key).digest().readUInt32BE(0) / 2 ** 32;
}

interface Marker {
  deliveries: number;
  batches: number;
  campaigns: number;
  tasks: number;
  buildS: number;
  countyCampaign: string;
  provinceCampaign: string;
  wantedNotice: string;
  /** The finishing step's version this world was finished with (bench/province-finish.ts). */
  finished?: number;
}

/** The configuration of the bench's processes (the parent and each loop child) on database `uri`. */
function benchConfig(uri: string) {
  return loadConfig({
    MONGODB_URI: uri,
    DATA_DIR: CACHE,
    ADMIN_PASSWORD,
    CREDENTIALS_KEY,
    OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
    LOG_LEVEL: 'silent',
  });
}

async function main() {
  // A child of the bench measuring one background loop in a process of its own (idleLoops).
  if (process.env.PROVINCE_LOOP_CHILD) return loopChild(process.env.PROVINCE_LOOP_CHILD);
  // A child finishing the world (bench/province-finish.ts) on the parent's FerretDB.
  if (process.env.PROVINCE_FINISH_URI) return finishChild(process.env.PROVINCE_FINISH_URI);
  if (process.env.PROVINCE_REBUILD === '1') rmSync(CACHE, { recursive: true, force: true });
  const markerFile = join(CACHE, 'built.json');
  const cached = existsSync(markerFile);
  if (!cached) rmSync(CACHE, { recursive: true, force: true });
  mkdirSync(join(CACHE, 'db'), { recursive: true });
  const ferret = await startFerretDb({ binary: resolve('.tools/bin/ferretdb'), dataDir: join(CACHE, 'db') });
  const uri = `${ferret.uri}/province`;
  const config = benchConfig(uri);
  const db = await connectDatabase(uri, { ferret: true, monitorCommands: true });
  const ctx = createContext(config, db);
  let closing: (() => Promise<void>) | null = async () => {
    await db.close();
    await ferret.stop();
  };
  try {
    await prepareDatabase(ctx);
    void warmVillages().catch(() => undefined); // as main.ts does in the api and scheduler roles
    const app = await buildApp(ctx, { logStream: new PassThrough() });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const previous = closing;
    closing = async () => {
      await app.close();
      await previous();
    };
    const http = async (token: string | null, method: string, path: string, body?: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
      const text = await response.text();
      if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
      return text ? JSON.parse(text) : null;
    };
    const login = async (username: string, password: string) =>
      (await http(null, 'POST', '/api/auth/login', { username, password })).token as string;

    let marker: Marker;
    if (cached) {
      marker = JSON.parse(readFileSync(markerFile, 'utf8')) as Marker;
      log(`reusing the world built in ${marker.buildS} s at ${CACHE} (PROVINCE_REBUILD=1 builds anew)`);
    } else {
      const started = performance.now();
      marker = await buildWorld(ctx, http, login);
      marker.buildS = Math.round((performance.now() - started) / 1000);
      writeFileSync(markerFile, JSON.stringify(marker));
      log(`built in ${marker.buildS} s, kept at ${CACHE}`);
    }
    if (marker.finished !== FINISH_VERSION) {
      // Left as an install a month in (bench/province-finish.ts): once per world, kept in its marker.
      log('finishing the world as an install would hold it…');
      await finishInChild(uri);
      const admin = await login('bench-province-admin', 'bench-province-admin-pw');
      await http(admin, 'POST', '/api/audience/preview', { regions: [PROVINCE], excludeTags: ['学校'] });
      marker.finished = FINISH_VERSION;
      writeFileSync(markerFile, JSON.stringify(marker));
    }
    if (process.env.PROVINCE_BUILD_ONLY === '1') return;
    // As the scheduler role's roll-up refresher does at its first refresh: the rankings'
    // one-time build (rank-tally.ts) on a world built before the tallies existed.
    const building = Date.now();
    await ctx.tracking.rollups.refreshAll(`bench-start-${process.pid}`);
    log(`roll-ups refreshed (rankings' tallies built if not yet) in ${((Date.now() - building) / 1000).toFixed(1)} s`);
    // As main.ts does in the api role at start; awaited before the screens are measured (the
    // figures are of navigations after a start, not of the process's first whole reads).
    const warmed = Promise.all([
      ctx.workbench.warm(ctx.regions.rootScope()).catch(() => undefined), // as main.ts does
      groupListing.warm().catch(() => undefined), // the api role's listings (main.ts)
    ]);
    log(
      `world: ${GROUPS} groups, ${marker.campaigns} campaigns, ${marker.batches} batches, ${marker.deliveries} deliveries, ${marker.tasks} officer tasks`,
    );

    const people = {
      county_editor: await login('bench-county-editor', 'bench-county-editor-pw'),
      city_coordinator: await login('bench-city-coordinator', 'bench-city-coordinator-pw'),
      province_admin: await login('bench-province-admin', 'bench-province-admin-pw'),
    };
    // Each person's case page: the first case their list shows (none: the screen is left out for them).
    const caseOf: Record<string, string | null> = {};
    for (const [person, token] of Object.entries(people)) {
      const list = (await http(token, 'GET', '/api/cases').catch(() => ({ cases: [] }))) as { cases: { noticeId: string }[] };
      caseOf[person] = list.cases[0]?.noticeId ?? null;
    }
    await warmed;
    const only = process.env.PROVINCE_SCREENS?.split(',').map((name) => name.trim());
    const screens = screenCalls(marker, caseOf).filter((screen) => !only || only.includes(screen.name));
    const rows: { person: string; screen: string; p50: number; p99: number; commands: number }[] = [];
    // The commands each call sends (calls are made one at a time): per call, and with
    // PROVINCE_SHOW_COMMANDS=1 the shapes of a screen's last call (docs/scale.md reads them).
    let calls: Map<string, number> | null = null;
    // And the bytes of their replies (BSON): what a call reads, which the commands do not show.
    let replyBytes = 0;
    mongoose.connection.getClient().on('commandStarted', (event: CommandStartedEvent) => {
      if (!calls) return;
      const key = commandShape(event);
      calls.set(key, (calls.get(key) ?? 0) + 1);
    });
    mongoose.connection.getClient().on('commandSucceeded', (event: CommandSucceededEvent) => {
      if (calls && event.reply) replyBytes += BSON.calculateObjectSize(event.reply as BSON.Document);
    });
    // PROVINCE_SHOW_CALLS=1: each call's time, commands, reply bytes and CPU on a line of its own.
    const showCalls = process.env.PROVINCE_SHOW_CALLS === '1';
    const showCommands = process.env.PROVINCE_SHOW_COMMANDS === '1';
    // The CPU a call costs (this process, which serves the API, and FerretDB): less load-bound than its time.
    const ferretPidNow = showCalls
      ? Number(readFileSync(join(CACHE, 'db', 'ferretdb.pid'), 'utf8').trim().split(/\s+/)[0]) || undefined
      : undefined;
    const onlyPeople = process.env.PROVINCE_PEOPLE?.split(',').map((name) => name.trim());
    for (const [person, token] of Object.entries(people)) {
      if (onlyPeople && !onlyPeople.includes(person)) continue;
      for (const screen of screens) {
        if (screen.only && !screen.only.includes(person)) continue;
        const ms: number[] = [];
        const perCall: number[] = [];
        const bytesPerCall: number[] = [];
        let last = new Map<string, number>();
        // A screen slower than SCREEN_BOX_MS in all is not repeated further (its figures are those calls).
        for (let round = 0; round < ROUNDS && ms.reduce((a, b) => a + b, 0) < SCREEN_BOX_MS; round += 1) {
          const started = performance.now();
          const cpuBefore = showCalls ? process.cpuUsage() : null;
          const ferretBefore = showCalls ? processCpuMs(ferretPidNow) : 0;
          calls = new Map();
          replyBytes = 0;
          try {
            await http(token, screen.method ?? 'GET', screen.path(person), screen.body?.(person));
            last = calls;
            perCall.push([...calls.values()].reduce((a, b) => a + b, 0));
            bytesPerCall.push(replyBytes);
            if (showCalls) {
              const cpu = process.cpuUsage(cpuBefore ?? undefined);
              log(
                `    ${person} ${screen.name} call ${round + 1}: ${(performance.now() - started).toFixed(1)} ms, ${perCall.at(-1)} commands, ${replyBytes} reply bytes, CPU ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms + FerretDB ${processCpuMs(ferretPidNow) - ferretBefore} ms`,
              );
            }
          } catch (error) {
            // A call past the time-out counts as the time-out (a lower bound) and is not repeated.
            if ((error as Error).name !== 'TimeoutError') throw error;
            ms.push(CALL_TIMEOUT_MS);
            log(`  ${person} ${screen.name}: no answer within ${CALL_TIMEOUT_MS / 1000} s`);
            break;
          }
          ms.push(performance.now() - started);
        }
        calls = null;
        const commands = perCall.length ? Math.round((perCall.reduce((a, b) => a + b, 0) / perCall.length) * 10) / 10 : 0;
        const row = { person, screen: screen.name, p50: percentile(ms, 50), p99: percentile(ms, 99), commands };
        rows.push(row);
        log(
          `  ${person.padEnd(17)} ${screen.name.padEnd(22)} p50 ${String(row.p50).padStart(8)} ms  p99 ${String(row.p99).padStart(8)} ms  commands/call ${commands} (first ${perCall[0] ?? '-'}, max ${Math.max(0, ...perCall)}), KB read/call ${bytesPerCall.length ? Math.round(bytesPerCall.reduce((a, b) => a + b, 0) / bytesPerCall.length / 102.4) / 10 : '-'}`,
        );
        if (showCommands) for (const [shape, n] of last) log(`      ${n} × ${shape}`);
      }
    }

    const ferretPid = Number(readFileSync(join(CACHE, 'db', 'ferretdb.pid'), 'utf8').trim().split(/\s+/)[0]) || undefined;
    const loops = IDLE_S > 0 ? await idleLoops(ctx, ferretPid, uri) : [];
    process.stdout.write('\n| person | screen | p50 ms | p99 ms | commands per call |\n| --- | --- | ---: | ---: | ---: |\n');
    for (const row of rows)
      process.stdout.write(`| ${row.person} | ${row.screen} | ${row.p50} | ${row.p99} | ${row.commands} |\n`);
    process.stdout.write(
      '\n| background loop (idle, its own process) | ms CPU per minute (own + FerretDB) | % of a core | commands per minute | start-up: s, ms CPU (own + FerretDB), commands |\n| --- | ---: | ---: | ---: | ---: |\n',
    );
    for (const loop of loops)
      process.stdout.write(
        `| ${loop.name} | ${loop.cpuMsPerMin} (${loop.ownMsPerMin} + ${loop.ferretMsPerMin}) | ${loop.pct} | ${loop.commandsPerMin} | ${loop.startup.s}${loop.startup.quiet ? '' : '+'} s, ${loop.startup.ownMs + loop.startup.ferretMs} (${loop.startup.ownMs} + ${loop.startup.ferretMs}), ${loop.startup.commands} |\n`,
      );
    const max = (of: typeof rows) => Math.max(0, ...of.map((r) => r.p99));
    const slowest = rows.length ? rows.reduce((a, b) => (b.p99 > a.p99 ? b : a), rows[0]!) : null;
    const result = {
      bench: 'province',
      groups: GROUPS,
      deliveries: marker.deliveries,
      batches: marker.batches,
      campaigns: marker.campaigns,
      officer_tasks: marker.tasks,
      rounds: ROUNDS,
      screens_p99_ms_max: max(rows),
      slowest_screen: slowest ? `${slowest.person} ${slowest.screen}` : null,
      badge_p99_ms: max(rows.filter((r) => r.screen === 'workbench/counts' || r.screen === 'cases (badge)')),
      radius_p99_ms: max(rows.filter((r) => r.screen === 'radius 10 km')),
      idle_loop_cpu_pct_max: Math.max(0, ...loops.map((l) => l.pct)),
      idle_loops: Object.fromEntries(loops.map((l) => [l.name, l.pct])),
      loop_startup_cpu_ms: Object.fromEntries(loops.map((l) => [l.name, l.startup.ownMs + l.startup.ferretMs])),
      load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await closing?.();
  }
}

interface Screen {
  name: string;
  method?: string;
  path: (person: string) => string;
  body?: (person: string) => unknown;
  only?: string[];
}

/** The API calls of every console screen (what the console's views request when opened). */
function screenCalls(marker: Marker, caseOf: Record<string, string | null>): Screen[] {
  const now = new Date();
  const month = now.toISOString().slice(0, 7);
  const from = new Date(now.getTime() - 30 * 86400_000).toISOString();
  const to = new Date(now.getTime() + 7 * 86400_000).toISOString();
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const regionOf = (person: string) => (person === 'county_editor' ? COUNTY : person === 'city_coordinator' ? CITY : PROVINCE);
  const campaignOf = (person: string) => (person === 'province_admin' ? marker.provinceCampaign : marker.countyCampaign);
  return [
    { name: 'workbench/counts', path: () => '/api/workbench/counts' },
    { name: 'cases (badge)', path: () => '/api/cases' },
    { name: 'notices', path: () => '/api/notices?limit=50' },
    { name: 'campaigns', path: () => '/api/campaigns?limit=50' },
    { name: 'campaigns (status)', path: () => '/api/campaigns?status=completed&sort=newest&limit=50' },
    { name: 'campaigns (text)', path: () => `/api/campaigns?q=${encodeURIComponent('推送 1')}&limit=50` },
    {
      name: 'campaigns (dates)',
      path: () => `/api/campaigns?from=${encodeURIComponent(from)}&to=${encodeURIComponent(new Date(now.getTime() - 20 * 86400_000).toISOString())}&limit=50`,
    },
    { name: 'campaign summaries', path: () => `/api/campaigns/summaries?ids=${marker.countyCampaign},${marker.provinceCampaign}` },
    { name: 'campaign', path: (p) => `/api/campaigns/${campaignOf(p)}` },
    { name: 'campaign progress', path: (p) => `/api/campaigns/${campaignOf(p)}/progress` },
    { name: 'campaign deliveries', path: (p) => `/api/campaigns/${campaignOf(p)}/deliveries?limit=50` },
    { name: 'campaign runs', path: (p) => `/api/campaigns/${campaignOf(p)}/runs` },
    // 民警通知: a page of the steps (the console asks for 11: a page of 10 and one more) and the figures above it.
    { name: 'campaign notifications', path: (p) => `/api/campaigns/${campaignOf(p)}/notifications?limit=50` },
    { name: 'campaign notifications summary', path: (p) => `/api/campaigns/${campaignOf(p)}/notifications/summary` },
    { name: 'calendar', path: () => `/api/calendar?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}` },
    {
      name: 'reach',
      path: (p) => `/api/reach?from=${day(new Date(from))}&to=${day(now)}&groupBy=day&regionCode=${regionOf(p)}`,
    },
    { name: 'monthly table', path: (p) => `/api/reach/monthly?period=${month}&regionCode=${regionOf(p)}` },
    // 触达统计's rankings (ReachRankings.vue): this month, and the last 30 days by day.
    { name: 'rankings (month)', path: (p) => `/api/reach/rankings?from=${month}&to=${month}&regionCode=${regionOf(p)}` },
    {
      name: 'rankings (30 days)',
      path: (p) => `/api/reach/rankings?from=${day(new Date(from))}&to=${day(now)}&regionCode=${regionOf(p)}`,
    },
    { name: 'groups', path: () => '/api/groups?limit=50' },
    { name: 'groups (tag)', path: () => `/api/groups?tag=${encodeURIComponent('学校')}&limit=50` },
    { name: 'groups (channel)', path: () => '/api/groups?channelKind=dingtalk&limit=50' },
    { name: 'groups (name)', path: () => `/api/groups?q=${encodeURIComponent('2群')}&limit=50` },
    { name: 'groups (officer)', path: () => `/api/groups?officer=${encodeURIComponent('张警官')}&limit=50` },
    { name: 'groups (by members)', path: () => '/api/groups?sort=-members&limit=50' },
    { name: 'tasks', path: () => '/api/manual-tasks?limit=50' },
    { name: 'tasks (open)', path: () => '/api/manual-tasks?open=true&limit=50' },
    { name: 'tips', path: () => '/api/tips?limit=50' },
    {
      name: 'case',
      path: (p) => `/api/cases/${caseOf[p]}`,
      only: Object.keys(caseOf).filter((p) => caseOf[p]),
    },
    { name: 'audit', path: () => '/api/audit?limit=50', only: ['province_admin'] },
    {
      name: 'audience totals',
      method: 'POST',
      path: () => '/api/audience/preview',
      body: (p) => ({ regions: [regionOf(p)], excludeTags: ['学校'] }),
    },
    {
      name: 'radius 10 km',
      method: 'POST',
      path: () => '/api/audience/preview',
      body: () => ({ near: { lat: 35.95, lng: 114.9, radiusKm: 10 } }),
    },
  ];
}

type Http = (token: string | null, method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;

/** The province, its people and a month of history. */
async function buildWorld(
  ctx: ReturnType<typeof createContext>,
  http: Http,
  login: (u: string, p: string) => Promise<string>,
): Promise<Marker> {
  log(`seeding ${GROUPS} demo groups…`);
  let shown = 0;
  await seedDemo(ctx.groups, {
    groups: GROUPS,
    doublesUrl: 'http://127.0.0.1:9',
    onProgress: (stage, done, total) => {
      if (done === total || Date.now() - shown > 5_000) {
        shown = Date.now();
        log(`  ${stage} ${done}/${total}`);
      }
    },
  });
  const admin = await login('admin', ADMIN_PASSWORD);
  const users: Record<string, string> = {};
  for (const [username, role, regionCode] of [
    ['bench-county-editor', 'editor', COUNTY],
    ['bench-city-coordinator', 'coordinator', CITY],
    ['bench-province-admin', 'admin', PROVINCE],
    ['bench-reviewer', 'reviewer', PROVINCE],
  ] as const) {
    const password = `${username}-pw`;
    const made = await http(admin, 'POST', '/api/users', { username, displayName: username, password, role, regionCode });
    users[username] = made.id as string;
    const first = await login(username, password);
    await http(first, 'POST', '/api/auth/password', { currentPassword: password, newPassword: password });
  }
  const author = await login('bench-province-admin', 'bench-province-admin-pw');
  const reviewer = await login('bench-reviewer', 'bench-reviewer-pw');
  const countyEditor = await login('bench-county-editor', 'bench-county-editor-pw');

  // Notices through the API (approved), reused by the month's campaigns.
  log('notices…');
  const notices: { id: string; category: string }[] = [];
  const wanted: string[] = [];
  const categories = ['anti_fraud', 'anti_theft', 'accident_prevention', 'anti_fraud', 'general', 'anti_fraud'];
  for (let i = 0; i < 24; i += 1) {
    const category = categories[i % categories.length]!;
    const notice = await http(author, 'POST', '/api/notices', {
      category,
      title: `${category !== 'anti_fraud' ? '安全提示' : '防诈骗提醒'}第${i + 1}期`,
      body: '近期冒充客服退款诈骗高发。\n\n- 不点陌生链接\n- 不向陌生账户转账\n- 有疑问拨打 96110',
      issuingUnit: '演示省公安厅',
    });
    await http(author, 'POST', `/api/notices/${notice.id}/submit`);
    await http(reviewer, 'POST', `/api/notices/${notice.id}/approve`, {});
    notices.push({ id: notice.id as string, category });
  }
  for (let i = 0; i < 6; i += 1) {
    const deadline = new Date(Date.now() + 20 * 86400_000).toISOString().slice(0, 10);
    // Half the cases are the county's own (its editor's), half the province's.
    const caseAuthor = i < 3 ? countyEditor : author;
    const notice = await http(caseAuthor, 'POST', '/api/notices', {
      category: 'wanted_clue',
      title: `关于征集第${i + 1}号案件线索的通告`,
      body: '2026年某日晚，某商铺被盗现金两万余元，现征集线索。',
      issuingUnit: i < 3 ? '演示县公安局' : '演示省公安厅',
      wanted: {
        caseSummary: '某商铺被盗现金两万余元。',
        suspectDescription: '男，约30岁，身高约175厘米，偏瘦。',
        reward: '提供有效线索者奖励人民币5000元',
        contactName: '李警官',
        contactPhone: '020-12345678',
        deadline,
      },
    });
    await http(caseAuthor, 'POST', `/api/notices/${notice.id}/submit`);
    await http(reviewer, 'POST', `/api/notices/${notice.id}/approve`, {});
    if (i === 0 || i === 3) {
      // Two cases whose deadline passed three days ago (a deadline in the past cannot be submitted).
      const passed = new Date(Date.now() - 3 * 86400_000).toISOString().slice(0, 10);
      await NoticeModel.collection.updateOne(
        { _id: new mongoose.Types.ObjectId(notice.id as string) },
        { $set: { 'content.wanted.deadline': passed, 'versions.0.content.wanted.deadline': passed } },
      );
    }
    wanted.push(notice.id as string);
  }

  log('reading the directory…');
  const groups = await GroupModel.find(
    {},
    { name: 1, regionPath: 1, channelKind: 1, memberCount: 1, officerName: 1, officerPhone: 1 },
  )
    .sort({ _id: 1 })
    .lean();
  const byTownship = new Map<string, typeof groups>();
  for (const group of groups) {
    const township = group.regionPath[4]!;
    const list = byTownship.get(township) ?? [];
    list.push(group);
    byTownship.set(township, list);
  }
  const townships = [...byTownship.keys()].sort();
  const counties = [...new Set(townships.map((t) => t.slice(0, 6)))];

  const marker: Marker = {
    deliveries: 0,
    batches: 0,
    campaigns: 0,
    tasks: 0,
    buildS: 0,
    countyCampaign: '',
    provinceCampaign: '',
    wantedNotice: wanted[2]!,
  };
  const sealed = () => randomBytes(96).toString('base64');
  const authorId = users['bench-province-admin']!;
  const now = Date.now();
  const dayMs = 86400_000;

  type Plan = {
    title: string;
    noticeId: string;
    category: string;
    regionCode: string;
    regionPath: string[];
    townships: string[];
    at: Date;
    priority: 'normal' | 'urgent';
    retracted: boolean;
    followUp: 'retraction' | 'solved' | null;
    followsNotice: string | null;
  };
  const plans: Plan[] = [];
  const provinceDays = Array.from({ length: PROVINCE_CAMPAIGNS }, (_, i) => Math.floor((i * DAYS) / PROVINCE_CAMPAIGNS));
  for (let d = 0; d < DAYS; d += 1) {
    const at = new Date(now - (DAYS - d) * dayMs + 9 * 3600_000);
    for (const [k] of provinceDays.filter((pd) => pd === d).entries()) {
      const notice = notices[(d + k) % notices.length]!;
      plans.push({
        title: `全省推送 ${d + 1}-${k + 1}`,
        noticeId: notice.id,
        category: notice.category,
        regionCode: PROVINCE,
        regionPath: ['000000', PROVINCE],
        townships,
        at: new Date(at.getTime() + k * 3600_000),
        priority: 'normal',
        retracted: plans.length % 17 === 5,
        followUp: null,
        followsNotice: null,
      });
    }
    for (let c = 0; c < COUNTY_CAMPAIGNS_PER_DAY; c += 1) {
      const county = c === 0 ? COUNTY : counties[(d * COUNTY_CAMPAIGNS_PER_DAY + c) % counties.length]!;
      const isWanted = c === 1 && d % 5 === 0;
      const notice = isWanted ? { id: wanted[(d / 5) % wanted.length]!, category: 'wanted_clue' } : notices[(d * 7 + c) % notices.length]!;
      plans.push({
        title: `${county} 推送 ${d + 1}-${c + 1}`,
        noticeId: notice.id,
        category: notice.category,
        regionCode: county,
        regionPath: ['000000', PROVINCE, `${county.slice(0, 4)}00`, county],
        townships: townships.filter((t) => t.startsWith(county)),
        at: new Date(at.getTime() + (c + 1) * 1800_000),
        priority: isWanted ? 'urgent' : 'normal',
        retracted: false,
        followUp: null,
        followsNotice: null,
      });
    }
  }
  // Retraction follow-ups of the retracted campaigns and the "solved" follow-ups of two cases.
  for (const plan of plans.filter((p) => p.retracted)) {
    plans.push({ ...plan, title: `【更正】${plan.title}`, at: new Date(plan.at.getTime() + 2 * 3600_000), retracted: false, followUp: 'retraction', followsNotice: plan.noticeId, priority: 'urgent' });
  }
  for (const noticeId of wanted.slice(3, 5)) {
    const sent = plans.find((p) => p.noticeId === noticeId);
    if (sent) plans.push({ ...sent, title: `【已抓获】${sent.title}`, at: new Date(now - 2 * dayMs), followUp: 'solved', followsNotice: noticeId });
  }

  log(`writing ${plans.length} campaigns with their runs and deliveries…`);
  let lastShown = 0;
  for (const [index, plan] of plans.entries()) {
    const campaignId = new mongoose.Types.ObjectId();
    const id = String(campaignId);
    const occurrenceId = `${id}@${plan.at.toISOString()}`;
    const day = plan.at.toISOString().slice(0, 10);
    const batchDocs: Record<string, unknown>[] = [];
    const tasks: Record<string, unknown>[] = [];
    const confirmations: Record<string, unknown>[] = [];
    const officers = new Map<string, { name: string; groups: string[]; tasks: string[] }>();
    let deliveries = 0;
    let members = 0;
    for (const township of plan.townships) {
      const list = byTownship.get(township)!;
      for (let part = 0; part * BATCH_SIZE < list.length; part += 1) {
        const slice = list.slice(part * BATCH_SIZE, (part + 1) * BATCH_SIZE);
        const items = slice.map((group) => {
          const groupId = String(group._id);
          const roll = chance(`${id}/${groupId}`);
          const manual = group.channelKind === 'manual';
          const recent = now - plan.at.getTime() < 7 * dayMs;
          let status: string;
          if (plan.retracted && roll < 0.1) status = 'skipped';
          else if (manual) status = roll < (recent ? 0.7 : 0.85) ? 'confirmed' : 'awaiting';
          else status = roll < 0.985 ? 'sent' : roll < 0.995 ? 'failed' : 'uncertain';
          members += group.memberCount;
          if (manual && status !== 'skipped') {
            const taskId = new mongoose.Types.ObjectId();
            const taskKey = `${occurrenceId}/${groupId}`;
            const confirmedAt = status === 'confirmed' ? new Date(plan.at.getTime() + roll * 6 * 3600_000) : null;
            tasks.push({
              _id: taskId,
              taskKey,
              groupId,
              groupName: group.name,
              regionPath: group.regionPath,
              officerName: group.officerName,
              officerPhone: group.officerPhone,
              title: plan.title,
              text: `${plan.title}\n近期冒充客服退款诈骗高发。`,
              url: null,
              createdAt: plan.at,
              confirmedAt,
              linkGeneration: confirmedAt ? 1 : 0,
              rotations: confirmedAt ? ['confirmed'] : [],
              toldAt: new Date(plan.at.getTime() + 90_000),
            });
            if (confirmedAt) {
              confirmations.push({ _id: String(taskId), at: confirmedAt });
              confirmations.push({ _id: `reference:${taskKey}`, at: confirmedAt, reference: taskKey, regionPath: group.regionPath });
            }
            const key = group.officerPhone ?? `name:${group.officerName}`;
            const officer = officers.get(key) ?? { name: group.officerName ?? '', groups: [], tasks: [] };
            officer.groups.push(group.name);
            officer.tasks.push(String(taskId));
            officers.set(key, officer);
          }
          const final = status === 'sent' || status === 'confirmed';
          return {
            groupId,
            groupName: group.name,
            channel: group.channelKind,
            robotKey: createHash('sha1').update(groupId).digest('hex').slice(0, 16),
            credentialsSealed: sealed(),
            memberCount: group.memberCount,
            villageCode: group.regionPath[5]!,
            villageName: '',
            townshipName: '',
            officerName: group.officerName ?? null,
            officerPhone: group.officerPhone ?? null,
            status,
            attempts: status === 'skipped' ? 0 : 1,
            nextAt: null,
            lastError: status === 'failed' ? '群机器人已被移除' : null,
            sentAt: final || status === 'awaiting' ? new Date(plan.at.getTime() + 60_000) : null,
          };
        });
        deliveries += items.length;
        const counts: Record<string, number> = { total: items.length, pending: 0, sent: 0, failed: 0, uncertain: 0, awaiting: 0, confirmed: 0, skipped: 0 };
        let reachedMembers = 0;
        const villages = new Set<string>();
        for (const item of items) {
          counts[item.status] = (counts[item.status] ?? 0) + 1;
          if (item.status === 'sent' || item.status === 'confirmed') {
            reachedMembers += item.memberCount;
            villages.add(item.villageCode);
          }
        }
        batchDocs.push({
          _id: `${occurrenceId}|${township}|${part + 1}`,
          occurrenceId,
          campaignId: id,
          noticeId: plan.followsNotice && plan.followUp ? `${plan.noticeId}` : plan.noticeId,
          category: plan.category,
          priority: plan.priority,
          cardStyle: 'rich',
          regionPath: slice[0]!.regionPath.slice(0, 5),
          countyCode: township.slice(0, 6),
          townshipCode: township,
          day,
          month: day.slice(0, 7),
          items,
          dueAt: null,
          lease: { epoch: 1, until: null, owner: null },
          counts: { ...counts, reachedMembers, reachedVillages: villages.size },
          createdAt: plan.at,
          updatedAt: new Date(plan.at.getTime() + 6 * 3600_000),
        });
      }
    }
    await CampaignModel.collection.insertOne({
      _id: campaignId,
      title: plan.title,
      noticeId: plan.noticeId,
      audience: {
        regions: plan.followUp ? [] : [plan.regionCode],
        tags: [],
        near: null,
        groups: [],
        excludeRegions: [],
        excludeTags: [],
        excludeGroups: [],
        recipientsOf: null,
        recipientsOfNotice: plan.followUp ? plan.followsNotice : null,
      },
      schedule: { kind: 'once', at: plan.at, cron: null, startAt: null, endAt: null },
      cardStyle: 'rich',
      priority: plan.priority,
      status: 'completed',
      authorId,
      authorName: 'bench-province-admin',
      regionCode: plan.regionCode,
      regionPath: plan.regionPath,
      reviewerId: users['bench-reviewer'],
      reviewNote: null,
      approvedAt: new Date(plan.at.getTime() - 600_000),
      nextRunAt: null,
      revision: 1,
      editorIds: [authorId],
      submittedBy: authorId,
      stateSeq: 3,
      lastRunAt: plan.at,
      retractionOf: null,
      followUpOfNotice: plan.followUp ? plan.followsNotice : null,
      followUpOutcome: plan.followUp === 'solved' ? 'solved' : plan.followUp === 'retraction' ? 'retracted' : null,
      retractedAt: plan.retracted ? new Date(plan.at.getTime() + 2 * 3600_000) : null,
      paused: false,
      intents: [],
      createdAt: new Date(plan.at.getTime() - 3600_000),
      updatedAt: plan.at,
    });
    await OccurrenceModel.collection.insertOne({
      _id: occurrenceId as never,
      campaignId: id,
      runAt: plan.at,
      dueAt: plan.at,
      noticeId: plan.noticeId,
      priority: plan.priority,
      cardStyle: 'rich',
      regionPath: plan.regionPath,
      revision: 1,
      audience: null,
      status: 'planned',
      skipReason: null,
      lease: { epoch: 1, until: plan.at, owner: null },
      batchCount: batchDocs.length,
      deliveryCount: deliveries,
      memberTotal: members,
      plannedAt: plan.at,
      createdAt: plan.at,
      updatedAt: plan.at,
    });
    // The run lists the planner writes (tracking/run-batches.ts): the campaign's batches by `_id`.
    await listRun(id, occurrenceId);
    await listNoticeRun(plan.noticeId, occurrenceId);
    await listBatches(id, occurrenceId, batchDocs.map((doc) => String(doc._id)));
    for (let i = 0; i < batchDocs.length; i += 50) {
      await DeliveryBatchModel.collection.insertMany(batchDocs.slice(i, i + 50) as never[], { ordered: false });
    }
    for (let i = 0; i < tasks.length; i += 1000) {
      await ManualTaskModel.collection.insertMany(tasks.slice(i, i + 1000) as never[], { ordered: false });
    }
    for (let i = 0; i < confirmations.length; i += 1000) {
      await ManualConfirmationModel.collection.insertMany(confirmations.slice(i, i + 1000) as never[], { ordered: false });
    }
    const steps = [...officers.entries()].map(([officerKey, officer]) => ({
      _id: `digest|${occurrenceId}|${officerKey}`,
      kind: 'digest',
      campaignId: id,
      occurrenceId,
      officerKey,
      officerName: officer.name,
      recipientUserId: null,
      recipientName: officer.name,
      groupNames: officer.groups,
      taskIds: officer.tasks,
      status: 'no_robot',
      detail: null,
      wecomDetail: null,
      at: new Date(plan.at.getTime() + 90_000),
      message: null,
      attempts: 0,
      attemptAt: null,
    }));
    for (let i = 0; i < steps.length; i += 1000) {
      await NotificationStepModel.collection.insertMany(steps.slice(i, i + 1000) as never[], { ordered: false });
    }
    if (plan.retracted) {
      await NoticeModel.collection.updateOne(
        { _id: new mongoose.Types.ObjectId(plan.noticeId) },
        { $set: { retractedAt: new Date(plan.at.getTime() + 2 * 3600_000) } },
      );
    }
    if (plan.followUp === 'solved') {
      await NoticeModel.collection.updateOne(
        { _id: new mongoose.Types.ObjectId(plan.noticeId) },
        {
          $push: {
            caseOutcomes: {
              kind: 'caught',
              at: plan.at,
              by: authorId,
              note: null,
              followUpNoticeId: null,
              followUpCampaignId: id,
            },
          } as never,
        },
      );
    }
    if (plan.regionCode === COUNTY && !marker.countyCampaign && plan.at.getTime() > now - 3 * dayMs) marker.countyCampaign = id;
    if (plan.regionCode === PROVINCE && !plan.followUp) marker.provinceCampaign = id;
    marker.deliveries += deliveries;
    marker.batches += batchDocs.length;
    marker.tasks += tasks.length;
    marker.campaigns += 1;
    if (Date.now() - lastShown > 5_000 || index === plans.length - 1) {
      lastShown = Date.now();
      log(`  ${index + 1}/${plans.length} campaigns, ${marker.deliveries} deliveries, ${marker.batches} batches`);
    }
  }
  if (!marker.countyCampaign) marker.countyCampaign = String((await CampaignModel.findOne({ regionCode: COUNTY }, { _id: 1 }).lean())?._id);

  log('tips and the audit log…');
  const tips = wanted.flatMap((noticeId, n) =>
    Array.from({ length: 20 }, (_, i) => ({
      noticeId,
      regionPath: ['000000', PROVINCE],
      contactUserId: null,
      text: `线索 ${n}-${i}：在村口见过此人。`,
      phone: null,
      photoSha256: null,
      status: i < 3 ? 'new' : 'read',
      note: null,
      notified: null,
      receivedAt: new Date(now - i * 3600_000),
      updatedAt: new Date(now - i * 3600_000),
    })),
  );
  await TipModel.collection.insertMany(tips);
  const audit = Array.from({ length: 5_000 }, (_, i) => ({
    at: new Date(now - (i / 5_000) * DAYS * dayMs),
    actorId: authorId,
    actorName: 'bench-province-admin',
    action: ['campaign.approve', 'notice.approve', 'campaign.create', 'auth.login', 'group.update'][i % 5]!,
    targetKind: 'campaign',
    targetId: null,
    ip: '127.0.0.1',
    regionPath: i % 3 === 0 ? ['000000', PROVINCE] : ['000000', PROVINCE, CITY, counties[i % counties.length]!],
    details: null,
  }));
  for (let i = 0; i < audit.length; i += 1000) await AuditModel.collection.insertMany(audit.slice(i, i + 1000));

  log('folding the roll-ups once…');
  const owner = `bench-${process.pid}`;
  await ctx.tracking.rollups.sweep(owner);
  await ctx.tracking.rollups.refreshAll(owner, (done) => log(`  folded ${done} batches`));
  return marker;
}

/** `find deliverybatches {status,updatedAt}`: a command's name, collection and filter keys (`_id` reads marked). */
function commandShape(event: CommandStartedEvent): string {
  const command = event.command as Record<string, unknown>;
  const target = event.commandName === 'getMore' ? command.collection : command[event.commandName];
  const filter =
    (command.filter as Record<string, unknown> | undefined) ??
    (command.query as Record<string, unknown> | undefined) ??
    (command.updates as { q?: Record<string, unknown> }[] | undefined)?.[0]?.q ??
    (command.deletes as { q?: Record<string, unknown> }[] | undefined)?.[0]?.q;
  const keys = filter ? Object.keys(filter).join(',') : '';
  const byId = keys === '_id' && (typeof filter!._id === 'string' || typeof filter!._id !== 'object' || filter!._id === null);
  return `${event.commandName} ${typeof target === 'string' ? target : ''} {${keys}}${byId ? ' (by _id)' : ''}`;
}

/** CPU seconds of a process so far (utime + stime from /proc), or 0 when unknown. */
function processCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

type Ctx = ReturnType<typeof createContext>;

interface LoopDef {
  name: string;
  start: () => { stop: () => Promise<void> };
  rare?: () => Promise<unknown>;
  rareEveryMin?: number;
  /** The rare pass's catch-up before it is measured (retention's first run over old data). */
  rareWarm?: () => Promise<unknown>;
  settle?: () => Promise<void>;
}

/** What one loop's child process measured: its own CPU and FerretDB's, and its commands. */
interface LoopResult {
  ownMs: number;
  ferretMs: number;
  /** By shape: [shape, commands, ms until answered in all]. */
  commands: [string, number, number][];
  /** From the loop's start until the window opened (its first passes; untilQuiet). */
  startup: { ownMs: number; ferretMs: number; ms: number; quiet: boolean; commands: [string, number, number][] };
  rare?: { ownMs: number; ferretMs: number; commands: [string, number, number][] };
}

/** Every background loop src/main.ts starts in the scheduler and worker roles, as it starts them. */
function loopDefinitions(ctx: Ctx): LoopDef[] {
  const interval = (tick: () => Promise<unknown>, ms: number) => () => {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void tick()
        .catch(() => undefined)
        .finally(() => {
          busy = false;
        });
    }, ms);
    void tick().catch(() => undefined);
    return {
      stop: async () => {
        clearInterval(timer);
        while (busy) await new Promise((r) => setTimeout(r, 50));
      },
    };
  };
  const retention = new Retention(ctx.clock, { keepDays: ctx.config.engineRetentionDays, everyMs: 3_600_000 });
  return [
    {
      name: 'scheduler tick',
      start: () => new Scheduler(engineDeps(ctx)).start(() => undefined),
      // Its stranded-batch sweep runs every 10 minutes: measured on its own, a tenth per minute.
      rare: () => new Scheduler(engineDeps(ctx)).sweep(),
      rareEveryMin: 10,
    },
    {
      name: 'roll-up refresher',
      start: () => {
        const refresher = new RollupRefresher(ctx.tracking.rollups, () => undefined);
        refresher.start();
        return { stop: () => refresher.stop() };
      },
      rare: () => ctx.tracking.rollups.sweep(`bench-sweep-${process.pid}`).finally(() => ctx.tracking.rollups.release(`bench-sweep-${process.pid}`)),
      rareEveryMin: 5,
    },
    {
      name: 'officer notifier',
      // The finishing step kept the notifier up to the present (bench/province-finish.ts, 3);
      // what fell due since (a world finished hours ago) is work, not idle. Passes run back to
      // back until the due marker lies ahead (or PROVINCE_SETTLE_S), then it is watched.
      settle: async () => {
        const started = performance.now();
        let passes = 0;
        let steps = 0;
        while (performance.now() - started < SETTLE_S * 1000) {
          steps += await ctx.notifier.tick();
          passes += 1;
          const marker = await dueMarker();
          if (marker.at && marker.at.getTime() > Date.now()) break;
        }
        log(`  settled its backlog: ${passes} passes, ${steps} steps, ${Math.round(performance.now() - started)} ms`);
      },
      start: interval(() => ctx.notifier.tick(), 15_000),
    },
    { name: 'wecom customer groups', start: interval(() => ctx.wecomGroups.tickWhenDue(), 15_000) },
    {
      name: 'case deadlines',
      start: () => {
        const watchDeadlines = new DeadlineWatch(ctx.cases, () => undefined, () => ctx.tips.purgeExpired());
        watchDeadlines.start();
        void watchDeadlines.tick();
        return { stop: () => watchDeadlines.stop() };
      },
    },
    {
      // The tip alerts that waited for their notice's next slot (main.ts: once a minute).
      name: 'tip alerts',
      start: () => startLoop(() => ctx.tips.tellQueued(), 60_000, () => undefined),
    },
    {
      // Retention (main.ts: every RETENTION_EVERY_MINUTES, default 60): one pass measured after
      // its catch-up (passes of at most 200 batches until it is not behind), counted per minute.
      name: 'retention',
      start: () => ({ stop: async () => undefined }),
      rare: () => retention.runOnce(),
      rareEveryMin: 60,
      rareWarm: async () => {
        const started = performance.now();
        let passes = 0;
        const total: Record<string, number> = {};
        for (;;) {
          const report = await retention.runOnce();
          passes += 1;
          for (const [key, value] of Object.entries(report)) if (typeof value === 'number') total[key] = (total[key] ?? 0) + value;
          if (!report.behind) break;
        }
        return { passes, ms: Math.round(performance.now() - started), ...total };
      },
    },
    {
      name: 'worker lanes',
      start: () => {
        const worker = createWorker(engineDeps(ctx));
        worker.start();
        return { stop: () => worker.stop() };
      },
    },
  ];
}

/** Commands by shape: how many, and their time in FerretDB (started → answered, ms). */
type Shapes = Map<string, { n: number; ms: number }>;

/**
 * Counts this process's commands by shape while `into` is set, with each one's time until its
 * answer; also knows which commands are still unanswered (a phase ends only when none is old).
 */
function watchCommands() {
  const open = new Map<number, { shape: string; at: number; into: Shapes | null }>();
  const watcher = {
    into: null as Shapes | null,
    /** Milliseconds the oldest unanswered command has been waiting (0 when none). */
    oldestOpenMs: () => {
      let oldest = 0;
      const now = performance.now();
      for (const command of open.values()) oldest = Math.max(oldest, now - command.at);
      return oldest;
    },
  };
  const client = mongoose.connection.getClient();
  client.on('commandStarted', (event: CommandStartedEvent) => {
    const shape = commandShape(event);
    open.set(event.requestId, { shape, at: performance.now(), into: watcher.into });
    if (watcher.into) {
      const seen = watcher.into.get(shape) ?? { n: 0, ms: 0 };
      seen.n += 1;
      watcher.into.set(shape, seen);
    }
  });
  const answered = (event: { requestId: number }) => {
    const command = open.get(event.requestId);
    if (!command) return;
    open.delete(event.requestId);
    // Its time is charged to the phase it was sent in (a start-up read answered in the window is start-up).
    const seen = command.into?.get(command.shape);
    if (seen) seen.ms += performance.now() - command.at;
  };
  client.on('commandSucceeded', answered);
  client.on('commandFailed', answered);
  return watcher;
}

/**
 * Waits until the loop's start-up is over: WARMUP_S passed, none of this process's commands
 * has been waiting for more than a second, and FerretDB used under a tenth of a core in each
 * of the last two seconds (or QUIET_MAX_S passed: then the window opens anyway, and says so).
 */
async function untilQuiet(
  watcher: ReturnType<typeof watchCommands>,
  ferretPid: number | undefined,
  atLeastS = WARMUP_S,
): Promise<boolean> {
  const started = performance.now();
  await new Promise((r) => setTimeout(r, atLeastS * 1000));
  let quietSeconds = 0;
  let ferret = processCpuMs(ferretPid);
  while (performance.now() - started < QUIET_MAX_S * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = processCpuMs(ferretPid);
    quietSeconds = now - ferret < 100 && watcher.oldestOpenMs() < 1000 ? quietSeconds + 1 : 0;
    ferret = now;
    if (quietSeconds >= 2) return true;
  }
  return false;
}

/**
 * One loop, measured in this process (a child of the bench, running nothing else): started as
 * main.ts starts it; its start-up (from its start until its first passes are answered and
 * FerretDB is quiet: untilQuiet) measured as its own figure, then watched for IDLE_S: this
 * process's own CPU (the loop's, and nothing of the api's background work) and FerretDB's in
 * the same window; its rare pass after its catch-up, the same way. `none` starts nothing: the
 * baseline.
 */
async function measureLoop(ctx: Ctx, name: string, ferretPid: number | undefined): Promise<LoopResult> {
  const own = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  };
  const watcher = watchCommands();
  const list = (shapes: Shapes) => [...shapes].map(([shape, { n, ms }]) => [shape, n, Math.round(ms)] as [string, number, number]);
  const loop: LoopDef = loopDefinitions(ctx).find((l) => l.name === name) ?? {
    name: 'none',
    start: () => ({ stop: async () => undefined }),
  };
  await loop.settle?.();
  let ownBefore = own();
  let ferretBefore = processCpuMs(ferretPid);
  let startedAt = performance.now();
  let seen: Shapes = new Map();
  watcher.into = seen;
  const running = loop.start();
  const quiet = await untilQuiet(watcher, ferretPid);
  const startup: LoopResult['startup'] = {
    ownMs: own() - ownBefore,
    ferretMs: processCpuMs(ferretPid) - ferretBefore,
    ms: performance.now() - startedAt,
    quiet,
    commands: list(seen),
  };
  ownBefore = own();
  ferretBefore = processCpuMs(ferretPid);
  seen = new Map();
  watcher.into = seen;
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  const result: LoopResult = {
    ownMs: own() - ownBefore,
    ferretMs: processCpuMs(ferretPid) - ferretBefore,
    commands: list(seen),
    startup,
  };
  watcher.into = null;
  await running.stop();
  if (loop.rare) {
    if (loop.rareWarm) log(`  its catch-up (not counted): ${JSON.stringify(await loop.rareWarm())}`);
    ownBefore = own();
    ferretBefore = processCpuMs(ferretPid);
    startedAt = performance.now();
    seen = new Map();
    watcher.into = seen;
    await loop.rare();
    result.rare = { ownMs: own() - ownBefore, ferretMs: processCpuMs(ferretPid) - ferretBefore, commands: list(seen) };
    watcher.into = null;
  }
  return result;
}

/** The child process's part: one loop on the bench's database (PROVINCE_LOOP_CHILD = its name). */
async function loopChild(name: string): Promise<void> {
  const uri = process.env.PROVINCE_LOOP_URI!;
  const config = benchConfig(uri);
  const db = await connectDatabase(uri, { ferret: true, monitorCommands: true });
  try {
    const ctx = createContext(config, db);
    const result = await measureLoop(ctx, name, Number(process.env.PROVINCE_FERRET_PID) || undefined);
    process.stdout.write(`LOOP_RESULT ${JSON.stringify(result)}\n`);
  } finally {
    await db.close();
  }
}

async function finishChild(uri: string): Promise<void> {
  const db = await connectDatabase(uri, { ferret: true });
  try {
    // The notifier's catch-up walks this clock over the month (bench/province-finish.ts, 3).
    const clock = worldClock();
    await finishWorld(createContext(benchConfig(uri), db, clock), log, clock);
  } finally {
    await db.close();
  }
}

/** Finishes the world in a child process of its own (bench/province-finish.ts). */
function finishInChild(uri: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!], {
      env: { ...process.env, PROVINCE_FINISH_URI: uri },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`finishing: child exited ${code}`))));
  });
}

/** Runs one loop in a child process of its own and returns what it measured. */
function inChild(name: string, uri: string, ferretPid: number | undefined): Promise<LoopResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!], {
      env: {
        ...process.env,
        PROVINCE_LOOP_CHILD: name,
        PROVINCE_LOOP_URI: uri,
        PROVINCE_FERRET_PID: String(ferretPid ?? ''),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let result: LoopResult | null = null;
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let end = buffered.indexOf('\n');
      while (end >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        if (line.startsWith('LOOP_RESULT ')) result = JSON.parse(line.slice('LOOP_RESULT '.length)) as LoopResult;
        else process.stdout.write(`${line}\n`);
        end = buffered.indexOf('\n');
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => (result ? resolvePromise(result) : reject(new Error(`loop ${name}: child exited ${code}`))));
  });
}

/**
 * Each background loop of the scheduler and worker roles in a process of its own (issue 25:
 * in the bench's process, the api's background work counted as the loops'), watched for IDLE_S
 * after a warm-up: the child's own CPU (the loop's alone) and FerretDB's, each less the same
 * window of a child running no loop; rare passes (sweeps, retention) counted per minute.
 */
async function idleLoops(ctx: Ctx, ferretPid: number | undefined, uri: string) {
  // The bench's own process (its api part) is another client of the same FerretDB: each child
  // starts only once it is quiet, and what it sent during a child's life is shown with it.
  const parent = watchCommands();
  const child = async (name: string) => {
    const waitFrom = performance.now();
    const ferretFrom = processCpuMs(ferretPid);
    const quiet = await untilQuiet(parent, ferretPid, 0);
    const waited = (performance.now() - waitFrom) / 1000;
    // Two quiet seconds are the least wait: anything longer was another client's work, shown here.
    if (!quiet || waited > 3)
      log(
        `  waited ${Math.round(waited)} s for FerretDB to be quiet before ${name} (${Math.round(processCpuMs(ferretPid) - ferretFrom)} ms of its CPU)${quiet ? '' : `: not quiet within ${QUIET_MAX_S} s`}`,
      );
    const others: Shapes = new Map();
    parent.into = others;
    const measured = await inChild(name, uri, ferretPid);
    parent.into = null;
    const n = [...others.values()].reduce((a, c) => a + c.n, 0);
    if (n > 0) {
      log(`  the bench's own process sent ${n} commands meanwhile (another client of the same FerretDB):`);
      for (const [shape, { n: count, ms }] of [...others].sort((a, b) => b[1].ms - a[1].ms).slice(0, 8))
        log(`    ${String(count).padStart(5)} × ${shape}  (${Math.round(ms)} ms until answered)`);
    }
    return measured;
  };
  const base = await child('none');
  log(
    `baseline (a child with no loop, ${IDLE_S} s): own ${Math.round(base.ownMs)} ms, FerretDB ${Math.round(base.ferretMs)} ms; its start-up ${Math.round(base.startup.ms)} ms: own ${Math.round(base.startup.ownMs)} ms, FerretDB ${Math.round(base.startup.ferretMs)} ms`,
  );
  const out: {
    name: string;
    ownMsPerMin: number;
    ferretMsPerMin: number;
    cpuMsPerMin: number;
    pct: number;
    commandsPerMin: number;
    startup: { s: number; ownMs: number; ferretMs: number; commands: number; quiet: boolean };
  }[] = [];
  const only = process.env.PROVINCE_LOOPS?.split(',').map((name) => name.trim());
  const shapes = (list: [string, number, number][], top = Number.POSITIVE_INFINITY) => {
    const sorted = [...list].sort((a, b) => b[2] - a[2] || b[1] - a[1]);
    for (const [shape, n, ms] of sorted.slice(0, top)) log(`    ${String(n).padStart(5)} × ${shape}  (${ms} ms until answered)`);
    if (sorted.length > top) log(`    … ${sorted.length - top} more shapes`);
  };
  for (const loop of loopDefinitions(ctx).filter((l) => !only || only.includes(l.name))) {
    log(`idle loop: ${loop.name} (its own process, ${IDLE_S} s)…`);
    const measured = await child(loop.name);
    // Its start-up (the first passes after a process start, until they are answered and
    // FerretDB is quiet) is its own figure: what every restart of the process costs.
    const up = measured.startup;
    const startup = {
      s: Math.round(up.ms / 100) / 10,
      ownMs: Math.round(Math.max(0, up.ownMs - base.startup.ownMs)),
      ferretMs: Math.round(up.ferretMs),
      commands: up.commands.reduce((a, c) => a + c[1], 0),
      quiet: up.quiet,
    };
    log(
      `  start-up: ${startup.s} s until quiet${up.quiet ? '' : ` (not quiet within ${QUIET_MAX_S} s)`}, own ${startup.ownMs} ms + FerretDB ${startup.ferretMs} ms CPU, ${startup.commands} commands:`,
    );
    shapes(up.commands, Number(process.env.PROVINCE_STARTUP_SHAPES ?? 8));
    let ownPerMin = (Math.max(0, measured.ownMs - base.ownMs) * 60) / IDLE_S;
    const commands = measured.commands.reduce((a, c) => a + c[1], 0);
    log('  its window:');
    shapes(measured.commands);
    // FerretDB works only for commands: a loop that sent none in its window caused none of
    // FerretDB's CPU there (what it did was another client's, e.g. a screen call the bench
    // gave up on that FerretDB still answers).
    let ferretPerMin = commands === 0 ? 0 : (Math.max(0, measured.ferretMs - base.ferretMs) * 60) / IDLE_S;
    if (commands === 0 && measured.ferretMs - base.ferretMs > 0)
      log(`  no command in its window: FerretDB's ${Math.round(measured.ferretMs - base.ferretMs)} ms above the baseline were another client's`);
    if (measured.rare && loop.rareEveryMin) {
      ownPerMin += measured.rare.ownMs / loop.rareEveryMin;
      ferretPerMin += measured.rare.ferretMs / loop.rareEveryMin;
      log(
        `  its pass every ${loop.rareEveryMin} min: own ${Math.round(measured.rare.ownMs)} ms + FerretDB ${Math.round(measured.rare.ferretMs)} ms CPU`,
      );
      shapes(measured.rare.commands);
    }
    const perMin = ownPerMin + ferretPerMin;
    const row = {
      name: loop.name,
      ownMsPerMin: Math.round(ownPerMin),
      ferretMsPerMin: Math.round(ferretPerMin),
      cpuMsPerMin: Math.round(perMin),
      pct: Math.round((perMin / 60_000) * 1000) / 10,
      commandsPerMin: Math.round((commands * 60) / IDLE_S),
      startup,
    };
    log(
      `  ${row.cpuMsPerMin} ms CPU per minute (own ${row.ownMsPerMin}, FerretDB ${row.ferretMsPerMin}) = ${row.pct} % of a core; ${row.commandsPerMin} commands per minute`,
    );
    out.push(row);
  }
  return out;
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(`bench:province failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });

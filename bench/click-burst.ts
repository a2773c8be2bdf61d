// node --import tsx bench/click-burst.ts --dir=/dev/shm/<copy of a bench:province world>/jingxun-province-<groups>-<campaigns>
//   [--clicks=2000] [--visitors=400] [--links=200] [--concurrency=100] [--old=0]
// A burst of residents' clicks on tracked links (`GET /t/:code` through fastify's inject, each
// visitor with its own address), as after a province push: clicks/s, the commands per click by
// shape (command, collection, filter keys), and whether the monthly tallies equal counts made
// from the raw clicks once the table has been read. `--old=N` first adds N clicks as an
// install counted them before the tallies (no intent) over 60 days and times the one-time
// backfill (`buildClickTallies`). Writes: use a copy of the world. Last line: JSON.
import { readFileSync } from 'node:fs';
import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { buildApp } from '../src/app.js';
import { BackfillModel } from '../src/db/backfills.js';
import { regionDirectory } from '../src/regions/directory.js';
import { buildClickTallies } from '../src/tracking/click-backfill.js';
import { ClickTallyModel, forgetClickTalliesBuilt } from '../src/tracking/click-tally.js';
import { ClickModel } from '../src/tracking/clicks.js';
import { shapeOf } from './command-meter.js';
import { cpuSecondsOf, flag } from './proc.js';
import { openWorldCopy } from './world-copy.js';

const log = (line: string) => process.stdout.write(`[bench:click-burst] ${line}\n`);

async function main() {
  const clicks = flag('clicks', 2000);
  const visitors = flag('visitors', 400);
  const links = flag('links', 200);
  const concurrency = flag('concurrency', 100);
  const old = flag('old', 0);
  const { ctx, ferretPid, close } = await openWorldCopy({ monitorCommands: true });
  const app = await buildApp(ctx);
  const result: Record<string, unknown> = { clicks, visitors, links, concurrency };
  try {
    const shapes = new Map<string, number>();
    let counting = false;
    mongoose.connection.getClient().on('commandStarted', (event: CommandStartedEvent) => {
      if (!counting) return;
      const key = shapeOf(event);
      shapes.set(key, (shapes.get(key) ?? 0) + 1);
    });
    const total = () => [...shapes.values()].reduce((a, b) => a + b, 0);
    const show = (per: number) => {
      for (const [shape, n] of [...shapes].sort((a, b) => b[1] - a[1]).slice(0, 12))
        log(`  ${(n / per).toFixed(2).padStart(8)} per click  ${shape}`);
    };

    const directory = await regionDirectory();
    const villages = directory.villages.slice(0, links);
    const month = new Date().toISOString().slice(0, 7);

    if (old > 0) {
      const started = performance.now();
      const all = directory.villages;
      for (let i = 0; i < old; i += 10_000) {
        await ClickModel.collection.insertMany(
          Array.from({ length: Math.min(10_000, old - i) }, (_, j) => {
            const n = i + j;
            const day = new Date(Date.now() - (n % 60) * 86_400_000).toISOString().slice(0, 10);
            const village = all[n % all.length]!;
            return {
              _id: `old${n}#${n % 3}`,
              campaignId: 'c'.repeat(24),
              groupId: '',
              noticeId: 'n'.repeat(24),
              townshipCode: village.parentCode ?? '',
              day,
              month: day.slice(0, 7),
              first: n % 3 === 0,
              at: new Date(`${day}T04:00:00.000Z`),
            } as never;
          }),
        );
      }
      log(`${old} old clicks inserted in ${Math.round(performance.now() - started)} ms`);
      await BackfillModel.deleteOne({ _id: 'click-tallies' });
      forgetClickTalliesBuilt();
      shapes.clear();
      counting = true;
      const cpu = cpuSecondsOf(ferretPid);
      // FerretDB's resident memory, sampled during the backfill.
      const rss = () =>
        Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${ferretPid}/status`, 'utf8'))?.[1] ?? 0) >> 10;
      const rssBefore = rss();
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, rss());
      }, 250);
      const t = performance.now();
      await buildClickTallies(log);
      const ms = Math.round(performance.now() - t);
      clearInterval(sampler);
      counting = false;
      const ferretMs = Math.round((cpuSecondsOf(ferretPid) - cpu) * 1000);
      log(
        `buildClickTallies over ${old} old clicks: ${ms} ms, FerretDB ${ferretMs} ms CPU, ${total()} commands, FerretDB RSS ${rssBefore} → peak ${rssPeak} MB`,
      );
      show(1);
      Object.assign(result, {
        old,
        backfillMs: ms,
        backfillFerretMs: ferretMs,
        backfillCommands: total(),
        ferretRssBeforeMb: rssBefore,
        ferretRssPeakMb: rssPeak,
      });
    }

    log('world open; storing the links');
    // The links of the push's cards (short codes, stored before the burst as the planner does).
    const codes: string[] = [];
    for (const village of villages) {
      const url = await ctx.tracking.link({
        campaignId: 'b'.repeat(24),
        groupId: `g${village.code}`.padEnd(24, '0').slice(0, 24),
        noticeId: 'n'.repeat(24),
        villageCode: village.code,
      });
      codes.push(url.slice(url.lastIndexOf('/') + 1));
    }
    const before = await ClickModel.countDocuments({ campaignId: 'b'.repeat(24) });
    // Visitor v clicks links v, v+1, … (clicks / visitors each), from its own address.
    const jobs = Array.from({ length: clicks }, (_, i) => {
      const v = i % visitors;
      return {
        ip: `10.${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`,
        code: codes[(v + Math.floor(i / visitors)) % codes.length]!,
      };
    });
    shapes.clear();
    counting = true;
    const cpu = cpuSecondsOf(ferretPid);
    const started = performance.now();
    let next = 0;
    let failed = 0;
    const latencies: number[] = [];
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < jobs.length) {
          const job = jobs[next++]!;
          const t = performance.now();
          const response = await app.inject({
            method: 'GET',
            url: `/t/${job.code}`,
            remoteAddress: job.ip,
            headers: { 'user-agent': 'WeChat/8.0 bench' },
          });
          latencies.push(performance.now() - t);
          if (response.statusCode !== 302) failed += 1;
          if (latencies.length % 100 === 0)
            log(`  ${latencies.length} clicks, ${Math.round(performance.now() - started)} ms`);
        }
      }),
    );
    const burstMs = performance.now() - started;
    const burstCommands = total();
    log(
      `burst: ${clicks} clicks in ${Math.round(burstMs)} ms (${((clicks / burstMs) * 1000).toFixed(0)} clicks/s), ${failed} not redirected`,
    );
    log(`  ${(burstCommands / clicks).toFixed(2)} commands per click during the burst`);
    show(clicks);
    // The table's read: whatever this process has not tallied yet is applied first.
    const t2 = performance.now();
    const tallied = await ctx.tracking.clicks.inRegion([month], directory.villages[0]!.regionPath[0]!);
    const settleMs = Math.round(performance.now() - t2);
    counting = false;
    const ferretMs = Math.round((cpuSecondsOf(ferretPid) - cpu) * 1000);
    const allCommands = total();
    log(
      `table read after the burst: ${settleMs} ms; ${(allCommands / clicks).toFixed(2)} commands per click in all, FerretDB ${ferretMs} ms CPU (${(ferretMs / clicks).toFixed(2)} ms per click)`,
    );
    // Exactness: the root's tallies against the raw clicks of the month.
    const raw = await ClickModel.find({ month, townshipCode: { $ne: '' } }, { townshipCode: 1, first: 1 }).lean();
    const expected = new Map<string, [number, number]>();
    for (const click of raw) {
      const cell = expected.get(click.townshipCode) ?? [0, 0];
      cell[0] += 1;
      if (click.first) cell[1] += 1;
      expected.set(click.townshipCode, cell);
    }
    let mismatches = 0;
    for (const [code, [n, f]] of expected) {
      const got = tallied.get(code);
      if (!got || got.clicks !== n || got.uniqueClicks !== f) mismatches += 1;
    }
    const counted = (await ClickModel.countDocuments({ campaignId: 'b'.repeat(24) })) - before;
    const docs = await ClickTallyModel.find({ _id: new RegExp(`^${month}\\|`) }, { ids: 1 }).lean<
      { ids?: string[] }[]
    >();
    const idsMax = Math.max(0, ...docs.map((doc) => doc.ids?.length ?? 0));
    latencies.sort((a, b) => a - b);
    const p = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
    log(
      `counted ${counted} clicks, townships mismatched ${mismatches}, ids per tally document max ${idsMax}, p50 / p99 ${p(0.5)} / ${p(0.99)} ms`,
    );
    Object.assign(result, {
      clicksPerS: Math.round((clicks / burstMs) * 1000),
      commandsPerClickBurst: Number((burstCommands / clicks).toFixed(2)),
      commandsPerClickAll: Number((allCommands / clicks).toFixed(2)),
      ferretMsPerClick: Number((ferretMs / clicks).toFixed(2)),
      p50: p(0.5),
      p99: p(0.99),
      settleMs,
      counted,
      failed,
      mismatches,
      idsMax,
      load: (await import('node:os')).loadavg()[0]!.toFixed(1),
    });
  } finally {
    await app.close();
    await close();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

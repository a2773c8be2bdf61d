// npm run bench:retention-catchup — retention's first run over a finished bench world (the
// catch-up of an install a month in, docs/retention.md): passes back to back until one is not
// behind, each pass's wall time, CPU (this process and FerretDB, from /proc) and commands by
// collection, then the totals per run and per batch compacted. Runs on a COPY of a world that
// bench/province.ts built and finished (the catch-up changes the world: a second run finds
// nothing to do):
//
//   cp -a /dev/shm/world3000 /dev/shm/x-world   (finished once by PROVINCE_BUILD_ONLY=1 npm run bench:province)
//   PROVINCE_CACHE=/dev/shm/x-world PROVINCE_GROUPS=3000 npm run bench:retention-catchup
//
// Ends with one JSON line.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { connectDatabase } from '../src/db/connection.js';
import { startFerretDb } from '../src/db/ferretdb.js';
import { Retention } from '../src/engine/retention.js';
import { fixedClock, systemClock } from '../src/lib/clock.js';
import { cpuSecondsOf } from './proc.js';

const GROUPS = Number(process.env.PROVINCE_GROUPS ?? 50_000);
const PROVINCE_CAMPAIGNS = Number(process.env.PROVINCE_CAMPAIGNS ?? 40);
const CACHE = resolve(process.env.PROVINCE_CACHE ?? '/dev/shm', `jingxun-province-${GROUPS}-${PROVINCE_CAMPAIGNS}`);
const KEEP_DAYS = Number(process.env.ENGINE_RETENTION_DAYS ?? 7);
/** The clock the passes run at (ISO; default now): a later one makes more of the month due. */
const AT = process.env.RETENTION_AT;
/**
 * RETENTION_EXPIRE_ENTRIES=1: first delete the open-task watch entries expired at that time, as
 * the officer notifier's look at each entry's expiry does (the bench runs no notifier), so the
 * settled runs' officer run lists are due for deletion as in an install whose notifier runs.
 */
const EXPIRE_ENTRIES = process.env.RETENTION_EXPIRE_ENTRIES === '1';

const log = (line: string) => process.stderr.write(`[bench:retention-catchup] ${line}\n`);

async function main() {
  const ferret = await startFerretDb({ binary: resolve('.tools/bin/ferretdb'), dataDir: join(CACHE, 'db') });
  const uri = `${ferret.uri}/province`;
  const db = await connectDatabase(uri, { ferret: true, monitorCommands: true });
  const ferretPid = Number(
    readFileSync(join(CACHE, 'db', 'ferretdb.pid'), 'utf8')
      .trim()
      .split(/\s+/)[0],
  );
  const byCollection = new Map<string, number>();
  mongoose.connection.getClient().on('commandStarted', (event: CommandStartedEvent) => {
    const value = event.command[event.commandName];
    const key = `${event.commandName} ${typeof value === 'string' ? value : ''}`;
    byCollection.set(key, (byCollection.get(key) ?? 0) + 1);
  });
  /** Documents of the lists retention prunes or keeps (a scan each: outside the measured passes). */
  const sizes = async () => {
    const due = mongoose.connection.collection<{ _id: string }>('opentaskdue');
    const ids = (await due.find({}, { projection: { _id: 1 } }).toArray()).map((doc) => String(doc._id));
    const prefix = (p: RegExp) => ids.filter((id) => p.test(id)).length;
    return {
      run_list_docs: prefix(/^r:/),
      campaign_list_docs: prefix(/^c:/),
      slot_docs: prefix(/^s:/),
      walk_markers: prefix(/^[dht]:/),
      delivery_pages: await mongoose.connection.collection('deliverypages').countDocuments(),
      campaign_task_lists: await mongoose.connection
        .collection('taskhistory')
        .countDocuments({ _id: { $regex: '^c:' } as never }),
      run_generations: await mongoose.connection.collection('rungenerations').countDocuments(),
      rank_marks: await mongoose.connection.collection('rankmarks').countDocuments(),
    };
  };
  try {
    if (EXPIRE_ENTRIES) {
      const expired = await mongoose.connection
        .collection('opentasks')
        .deleteMany({ expiresAt: { $lte: AT ? new Date(AT) : new Date() } });
      log(`watch entries expired (as the notifier would): ${expired.deletedCount}`);
    }
    const sizesBefore = await sizes();
    log(`before: ${JSON.stringify(sizesBefore)}`);
    byCollection.clear();
    const clock = AT ? fixedClock(new Date(AT)) : systemClock;
    const retention = new Retention(clock, { keepDays: KEEP_DAYS, everyMs: 3_600_000 });
    const totals: Record<string, number> = {};
    let passes = 0;
    const started = performance.now();
    const cpu0 = { own: process.cpuUsage(), ferret: cpuSecondsOf(ferretPid) };
    for (;;) {
      const t0 = performance.now();
      const own0 = process.cpuUsage();
      const f0 = cpuSecondsOf(ferretPid);
      const report = await retention.runOnce();
      const own = process.cpuUsage(own0);
      passes += 1;
      for (const [key, value] of Object.entries(report))
        if (typeof value === 'number') totals[key] = (totals[key] ?? 0) + value;
      log(
        `pass ${passes}: ${Math.round(performance.now() - t0)} ms wall, CPU ${Math.round((own.user + own.system) / 1000)} ms own + ${Math.round((cpuSecondsOf(ferretPid) - f0) * 1000)} ms FerretDB; ${JSON.stringify(report)}`,
      );
      if (!report.behind) break;
    }
    const ownAll = process.cpuUsage(cpu0.own);
    const measured = new Map(byCollection);
    const ownMs = Math.round((ownAll.user + ownAll.system) / 1000);
    const ferretMs = Math.round((cpuSecondsOf(ferretPid) - cpu0.ferret) * 1000);
    const commands = [...measured.values()].reduce((a, b) => a + b, 0);
    for (const [key, n] of [...measured].sort((a, b) => b[1] - a[1])) log(`  ${String(n).padStart(7)} × ${key}`);
    const sizesAfter = await sizes();
    log(`after: ${JSON.stringify(sizesAfter)}`);
    const batches = totals.batchesCompacted ?? 0;
    const runs = totals.runs ?? 0;
    const result = {
      groups: GROUPS,
      passes,
      wall_s: Math.round(performance.now() - started) / 1000,
      cpu_ms: ownMs + ferretMs,
      own_cpu_ms: ownMs,
      ferret_cpu_ms: ferretMs,
      commands,
      runs,
      batches,
      cpu_ms_per_batch: batches ? Math.round(((ownMs + ferretMs) / batches) * 10) / 10 : null,
      commands_per_batch: batches ? Math.round((commands / batches) * 100) / 100 : null,
      commands_per_run: runs ? Math.round((commands / runs) * 10) / 10 : null,
      load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
      ...totals,
      before: sizesBefore,
      after: sizesAfter,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await db.close();
    await ferret.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

// npm run bench:fanout [-- --groups=50000 --agenda-jobs=5000 --agenda-seconds=300]
// Plans and dispatches one campaign to N demo groups (default: the 50,000-group demo
// province) against the local robot doubles, then runs a subset of the same deliveries as
// one Agenda job each (the established MongoDB job scheduler) on the same database and
// doubles, and compares. Planning runs in this process (the scheduler's tick); dispatch runs
// in a `--role=worker` process of the same build, as deployed, with the doubles here.
// peak_rss_mb is the larger of this process while planning and the worker process's peak.
// Ends with one JSON line.
import { Agenda } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Scheduler } from '../src/engine/runner.js';
import { sendRequestFor } from '../src/engine/worker.js';
import { engineDeps } from '../src/context.js';
import type { SendRequest } from '../src/engine/ports.js';
import { DeliveryBatchModel } from '../src/tracking/model.js';
import { approvedProvinceCampaign, provinceStaff, startWorld } from '../scripts/engine-world.js';

function flag(name: string, fallback: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  return raw ? Number(raw) : fallback;
}

const log = (line: string) => process.stdout.write(`[bench:fanout] ${line}\n`);
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 200);

/** A process's peak resident set so far (VmHWM), in bytes. */
function peakRssOf(pid: number): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function main() {
  const groups = flag('groups', 50_000);
  const agendaJobs = Math.min(flag('agenda-jobs', 5_000), groups);
  const agendaSeconds = flag('agenda-seconds', 300);
  const world = await startWorld({ groups, log, env: { WORKER_CONCURRENCY: '32' } });
  try {
    const staff = await provinceStaff(world);
    const { campaignId } = await approvedProvinceCampaign(world, staff, { title: '全省防诈骗集中推送' });
    const deps = engineDeps(world.ctx);

    log('planning…');
    let started = performance.now();
    await new Scheduler(deps).tick();
    const planS = (performance.now() - started) / 1000;
    const planPeak = peakRss;
    const planned = (await DeliveryBatchModel.find({ campaignId }, { 'counts.total': 1 }).lean()).reduce(
      (sum, b) => sum + (b.counts?.total ?? 0),
      0,
    );
    log(`planned ${planned} deliveries in ${planS.toFixed(1)} s`);

    // Dispatch as deployed: a separate `--role=worker` process of the same build, the robot
    // doubles (like the real platforms) outside it, in this process.
    log('dispatching with one worker process…');
    started = performance.now();
    const worker = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--role=worker'], {
      env: { PATH: process.env.PATH, ...world.processEnv, WORKER_CONCURRENCY: '32' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
    let workerPeak = 0;
    let lastShown = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 1_000));
      if (worker.exitCode !== null) throw new Error(`the worker process exited with code ${worker.exitCode}`);
      workerPeak = Math.max(workerPeak, peakRssOf(worker.pid!));
      if (performance.now() - lastShown > 5_000) {
        lastShown = performance.now();
        log(
          `  ${world.doubles.received().length} robot posts so far (${((performance.now() - started) / 1000).toFixed(0)} s)`,
        );
      }
      const batches = await DeliveryBatchModel.find({ campaignId }, { 'counts.pending': 1 }).lean();
      if (batches.every((b) => (b.counts?.pending ?? 0) === 0)) break;
    }
    const dispatchS = (performance.now() - started) / 1000;
    workerPeak = Math.max(workerPeak, peakRssOf(worker.pid!));
    worker.kill('SIGTERM');
    await exited;
    log(
      `worker process peak RSS ${Math.round(workerPeak / 1024 / 1024)} MB; this process (planner, doubles) ${Math.round(planPeak / 1024 / 1024)} MB while planning`,
    );
    const items = (await DeliveryBatchModel.find({ campaignId }).lean()).flatMap((batch) =>
      batch.items.map((item) => ({ ...item, batch })),
    );
    const received = world.doubles.received();
    const perRobot = new Map<string, number>();
    for (const message of received) perRobot.set(message.robot, (perRobot.get(message.robot) ?? 0) + 1);
    const duplicates = [...perRobot.values()].filter((n) => n > 1).length;
    const finalStatuses = new Set(['sent', 'awaiting']);
    const lost = groups - items.filter((i) => finalStatuses.has(i.status)).length;
    const deliveriesPerS = items.length / dispatchS;
    const byStatus: Record<string, number> = {};
    for (const item of items) byStatus[item.status] = (byStatus[item.status] ?? 0) + 1;
    log(`statuses ${JSON.stringify(byStatus)}`);
    for (const item of items.filter((i) => !finalStatuses.has(i.status)).slice(0, 5)) {
      log(`  not delivered: ${item.channel} ${item.status} attempts=${item.attempts} ${item.lastError ?? ''}`);
    }
    log(
      `dispatched ${items.length} in ${dispatchS.toFixed(1)} s (${deliveriesPerS.toFixed(0)}/s), lost ${lost}, duplicates ${duplicates}`,
    );

    log(`Agenda: ${agendaJobs} jobs, one per delivery, same database and doubles…`);
    world.doubles.reset();
    // Agenda locks each job with one findOneAndUpdate (query + sort over its jobs), ~0.5 s
    // per job on FerretDB at 5,000 jobs. Its default (fill the local queue with every due
    // job before running any, a new fill every processEvery) never starts a job here, and
    // overlapping fills only slow each other down. So: 32 jobs locked at a time (its
    // concurrency, the same as our worker's), a new fill every 20 s, i.e. after the previous
    // one (32 × ~0.5 s) is done. The best setting we found; see README.
    const agenda = new Agenda({
      backend: new MongoBackend({ mongo: world.ctx.db.connection.db as never, collection: 'agendajobs' }),
      processEvery: 20_000,
      maxConcurrency: 32,
      defaultConcurrency: 32,
      lockLimit: 32,
      defaultLockLimit: 32,
    });
    let agendaDone = 0;
    agenda.define('deliver', async (job: { attrs: { data: SendRequest } }) => {
      await deps.ports.send(job.attrs.data, new AbortController().signal);
      agendaDone += 1;
    });
    const subset = items.filter((i) => i.channel !== 'manual').slice(0, agendaJobs);
    for (const item of subset) {
      const request = sendRequestFor(item.batch, item);
      await agenda.now('deliver', { ...request, deliveryId: `agenda-${request.deliveryId}` });
    }
    started = performance.now();
    await agenda.start();
    lastShown = 0;
    while (agendaDone < subset.length) {
      await new Promise((r) => setTimeout(r, 250));
      if (performance.now() - lastShown > 5_000) {
        lastShown = performance.now();
        log(`  agenda ${agendaDone}/${subset.length}`);
      }
      if (performance.now() - started > agendaSeconds * 1000) {
        log(`  Agenda time box of ${agendaSeconds} s reached; its rate is what it did in that time`);
        break;
      }
    }
    const agendaS = (performance.now() - started) / 1000;
    await agenda.stop();
    const agendaPerS = agendaDone / agendaS;
    log(`Agenda delivered ${agendaDone} in ${agendaS.toFixed(1)} s (${agendaPerS.toFixed(1)}/s)`);

    clearInterval(sampler);
    const result = {
      groups,
      plan_s: Number(planS.toFixed(2)),
      dispatch_s: Number(dispatchS.toFixed(2)),
      deliveries_per_s: Number(deliveriesPerS.toFixed(1)),
      agenda_deliveries_per_s: Number(agendaPerS.toFixed(2)),
      ratio_vs_agenda: Number((deliveriesPerS / agendaPerS).toFixed(1)),
      lost,
      duplicates,
      peak_rss_mb: Math.round(Math.max(planPeak, workerPeak) / 1024 / 1024),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await world.close();
  }
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(`bench:fanout failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });

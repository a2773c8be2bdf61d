// npm run bench:fanout [-- --groups=50000 --agenda-jobs=5000 --agenda-seconds=240 --workers=3 --scale-seconds=30
//                          --scale-concurrency=8 --urgent-after-posts=5000]
// Plans and dispatches one normal-priority campaign to N demo groups (default: the
// 50,000-group demo province) against the local robot doubles: a `--role=scheduler` process
// plans and a `--role=worker` process sends, started together, as deployed, so dispatch
// starts with the first batch planned (plan_s: until the run is planned; plan_dispatch_s:
// until its last post). While it dispatches (after --urgent-after-posts posts) an urgent
// province push is approved: urgent_first_post_s is the time from its approval to its first
// post at a robot (then it is cancelled). Then a subset of the same deliveries runs as one
// Agenda job each (the established MongoDB job scheduler) on the same database and doubles.
// peak_rss_mb is the larger of the scheduler's and the worker's peak.
// Then the scaling run: a second province campaign against robots answering each post after
// 200 ms, sent by one worker process for --scale-seconds, then by --workers processes for as
// long; its rates (robot posts per second in each window) are the second-to-last JSON line.
// Its workers send --scale-concurrency posts at once per batch (8): with 32, three workers'
// CPU (render, HTTP, FerretDB) saturates this 2-core machine before their robots' latency
// does, and the run measures the machine rather than how the work spreads over workers.
// Ends with one JSON line.
import { Agenda } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { OccurrenceModel } from '../src/engine/model.js';
import { sendRequestFor } from '../src/engine/worker.js';
import { engineDeps } from '../src/context.js';
import type { SendRequest } from '../src/engine/ports.js';
import { withFixedItemsAll } from '../src/tracking/batch-fixed.js';
import { type BatchDoc, DeliveryBatchModel } from '../src/tracking/model.js';
import { batchIdsOf, mapLimited } from '../src/tracking/run-batches.js';
import { ShortLinkModel } from '../src/tracking/short-links.js';
import { type World, approvedProvinceCampaign, provinceStaff, startWorld } from '../scripts/engine-world.js';

function flag(name: string, fallback: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  return raw ? Number(raw) : fallback;
}

const log = (line: string) => process.stdout.write(`[bench:fanout] ${line}\n`);
/** A process's peak resident set so far (VmHWM), in bytes. */
function peakRssOf(pid: number): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

/** The short link code on a card (`…/t/<code>`), which names its campaign and group. */
function trackedCode(body: unknown): string | null {
  return /\/t\/([A-Za-z0-9_-]{6,})/.exec(JSON.stringify(body))?.[1] ?? null;
}

/** How long a stopped process may take to exit before it is killed (its own grace is 10 s). */
const STOP_WAIT_MS = 60_000;

async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((r) => setTimeout(r, 1_000));
}

/** A Jingxun process of one role joined to the world, with its peak RSS watched. */
function startRole(world: World, role: 'scheduler' | 'worker', env: Record<string, string> = {}) {
  // BENCH_CPU_PROF=<dir>: each role process writes a V8 CPU profile there when it exits.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // Started as `npm start` starts the service (package.json): the young generation's
  // semi-spaces capped at 16 MB (docs/engine.md, *Memory*).
  const node = ['--max-semi-space-size=16', '--import', 'tsx'];
  const child = spawn(process.execPath, [...prof, ...node, 'src/main.ts', `--role=${role}`], {
    env: { PATH: process.env.PATH, ...world.processEnv, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const part = {
    peak: 0,
    sample() {
      if (child.exitCode !== null) throw new Error(`the ${role} process exited with code ${child.exitCode}`);
      part.peak = Math.max(part.peak, peakRssOf(child.pid!));
    },
    /**
     * SIGTERM, as deployed; the process exits within its shutdown grace (src/main.ts). Should
     * it not within STOP_WAIT_MS, it is killed, and the bench says so: it always ends.
     */
    async stop(): Promise<number> {
      if (child.exitCode === null) part.sample();
      const started = performance.now();
      child.kill('SIGTERM');
      const inTime = await Promise.race([
        exited.then(() => true),
        new Promise<false>((r) => setTimeout(r, STOP_WAIT_MS, false)),
      ]);
      if (!inTime) {
        log(`  the ${role} process did not stop within ${STOP_WAIT_MS / 1000} s of SIGTERM: killed`);
        child.kill('SIGKILL');
        await exited;
      }
      log(`  ${role} process stopped in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return part.peak;
    },
  };
  return part;
}

async function main() {
  const groups = flag('groups', 50_000);
  const agendaJobs = Math.min(flag('agenda-jobs', 5_000), groups);
  const agendaSeconds = flag('agenda-seconds', 240);
  const urgentAfterPosts = Math.min(flag('urgent-after-posts', 5_000), Math.floor(groups / 4));
  // The large run is a normal one; quiet hours are moved to one minute at 04:00 Beijing time so
  // that it is not deferred whenever the bench runs.
  const world = await startWorld({ groups, log, env: { WORKER_CONCURRENCY: '32', QUIET_HOURS: '04:00-04:01' } });
  try {
    const staff = await provinceStaff(world);
    const { campaignId } = await approvedProvinceCampaign(world, staff, {
      title: '全省防诈骗集中推送',
      priority: 'normal',
    });
    const deps = engineDeps(world.ctx);

    // The service as deployed: a `--role=scheduler` process plans (its first tick runs at
    // start) and a `--role=worker` process sends, started together: dispatch begins with the
    // first batch planned, while planning goes on. The robot doubles (standing in for the
    // platforms) and this harness stay outside them, in this process.
    log('planning in a scheduler process and dispatching in a worker process, together…');
    const started = performance.now();
    // At info: the planner's line per urgent run (where its first write spent its time).
    const scheduler = startRole(world, 'scheduler', { LOG_LEVEL: 'info' });
    const worker = startRole(world, 'worker');
    let planS: number | null = null;
    let urgent = null as { campaignId: string; approvedAt: number; firstPostS: number | null } | null;
    let checked = 0;
    let lastShown = 0;
    const settled = new Set<string>();
    await until(async () => {
      scheduler.sample();
      worker.sample();
      const seconds = (performance.now() - started) / 1000;
      if (planS === null && (await OccurrenceModel.exists({ campaignId, status: 'planned' })) !== null) {
        planS = seconds;
        log(`  planned (${planS.toFixed(1)} s)`);
      }
      if (performance.now() - lastShown > 5_000) {
        lastShown = performance.now();
        log(`  ${world.doubles.received().length} robot posts so far (${seconds.toFixed(0)} s)`);
      }
      // An urgent province push approved while the large normal run is dispatching: how long
      // until its first post reaches a robot. It is cancelled then (only its first post counts).
      if (!urgent && world.doubles.received().length >= urgentAfterPosts) {
        const pushed = await approvedProvinceCampaign(world, staff, { title: '紧急协查通报', priority: 'urgent' });
        urgent = { campaignId: pushed.campaignId, approvedAt: Date.now(), firstPostS: null };
        checked = world.doubles.received().length;
        log(`  urgent province push approved (${seconds.toFixed(0)} s)`);
      }
      if (urgent && urgent.firstPostS === null) {
        const received = world.doubles.received();
        for (; checked < received.length; checked++) {
          const code = trackedCode(received[checked]!.body);
          const link = code ? await ShortLinkModel.findById(code, { campaignId: 1 }).lean() : null;
          if (link?.campaignId !== urgent.campaignId) continue;
          urgent.firstPostS = (received[checked]!.receivedAt.getTime() - urgent.approvedAt) / 1000;
          log(`  urgent push: first post ${urgent.firstPostS.toFixed(1)} s after approval; cancelling it`);
          await world.app.inject({
            method: 'POST',
            url: `/api/campaigns/${urgent.campaignId}/cancel`,
            headers: { authorization: `Bearer ${staff.editor}` },
          });
          break;
        }
      }
      if (planS === null || (urgent && urgent.firstPostS === null)) return false;
      // Whether the run is done: its batches by `_id` from the run's list (not a scan of the
      // ledger), only those not yet seen settled (a batch with nothing pending stays so), so
      // the harness costs FerretDB little while it sends.
      const open = (await batchIdsOf(campaignId)).filter((id) => !settled.has(id));
      const batches = await mapLimited(open, 8, (id) =>
        DeliveryBatchModel.findById(id, { 'counts.pending': 1 }).lean<{ _id: string; counts?: { pending?: number } }>(),
      );
      // An id listed but absent was never inserted (the run is planned: no insert is to come).
      batches.forEach((batch, i) => {
        if (!batch || (batch.counts?.pending ?? 0) === 0) settled.add(open[i]!);
      });
      return open.every((id) => settled.has(id));
    });
    const totalS = (performance.now() - started) / 1000;
    const dispatchS = totalS;
    const planned = (await DeliveryBatchModel.find({ campaignId }, { 'counts.total': 1 }).lean()).reduce(
      (sum, b) => sum + (b.counts?.total ?? 0),
      0,
    );
    log(`planned ${planned} deliveries in ${(planS ?? 0).toFixed(1)} s; all sent after ${totalS.toFixed(1)} s`);
    const peakRss = Math.max(await scheduler.stop(), await worker.stop());
    log(`peak RSS: scheduler ${mb(scheduler.peak)} MB, worker ${mb(worker.peak)} MB`);
    // Whole items (the packed layout keeps names, robots and credentials beside the batch).
    const items = (await withFixedItemsAll(await DeliveryBatchModel.find({ campaignId }).lean<BatchDoc[]>())).flatMap((batch) =>
      batch.items.map((item) => ({ ...item, batch })),
    );
    // The main run's posts only (the urgent push's first posts went to the same robots).
    const received = [];
    for (const message of world.doubles.received()) {
      const code = trackedCode(message.body);
      const link = code ? await ShortLinkModel.findById(code, { campaignId: 1 }).lean() : null;
      if (!link || link.campaignId === campaignId) received.push(message);
    }
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
      `planned and dispatched ${items.length} in ${dispatchS.toFixed(1)} s (${deliveriesPerS.toFixed(0)}/s), lost ${lost}, duplicates ${duplicates}`,
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
    const agendaStarted = performance.now();
    await agenda.start();
    lastShown = 0;
    while (agendaDone < subset.length) {
      await new Promise((r) => setTimeout(r, 250));
      if (performance.now() - lastShown > 5_000) {
        lastShown = performance.now();
        log(`  agenda ${agendaDone}/${subset.length}`);
      }
      if (performance.now() - agendaStarted > agendaSeconds * 1000) {
        log(`  Agenda time box of ${agendaSeconds} s reached; its rate is what it did in that time`);
        break;
      }
    }
    const agendaS = (performance.now() - agendaStarted) / 1000;
    await agenda.stop();
    const agendaPerS = agendaDone / agendaS;
    log(`Agenda delivered ${agendaDone} in ${agendaS.toFixed(1)} s (${agendaPerS.toFixed(1)}/s)`);

    // The final line is printed whatever happens in the scaling run (it is the last part).
    const scaling = await scalingRun(world, staff, {
      workers: flag('workers', 3),
      seconds: flag('scale-seconds', 30),
      concurrency: flag('scale-concurrency', 8),
    }).catch((error: unknown) => {
      log(`scaling run failed: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    });
    process.stdout.write(`${JSON.stringify(scaling)}\n`);

    const result = {
      groups,
      plan_s: Number((planS ?? 0).toFixed(2)),
      // Planning and dispatch overlap: from the scheduler's and worker's start to the last post.
      plan_dispatch_s: Number(totalS.toFixed(2)),
      urgent_first_post_s: urgent?.firstPostS == null ? null : Number(urgent.firstPostS.toFixed(2)),
      deliveries_per_s: Number(deliveriesPerS.toFixed(1)),
      agenda_deliveries_per_s: Number(agendaPerS.toFixed(2)),
      ratio_vs_agenda: Number((deliveriesPerS / agendaPerS).toFixed(1)),
      lost,
      duplicates,
      peak_rss_mb: mb(peakRss),
      scaling_ratio: scaling?.ratio ?? null,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await world.close();
  }
}

/**
 * Robot posts per second with one worker process, then with `workers` of them, against
 * doubles whose every post takes 200 ms; the campaign is cancelled at the end.
 */
async function scalingRun(
  world: World,
  staff: { editor: string; reviewer: string },
  { workers, seconds, concurrency }: { workers: number; seconds: number; concurrency: number },
) {
  log(`scaling run: 200 ms per post, ${concurrency} at once per batch, 1 worker then ${workers}, ${seconds} s each…`);
  const workerEnv = { WORKER_CONCURRENCY: String(concurrency) };
  world.doubles.reset();
  world.doubles.setLatency(200);
  const { campaignId } = await approvedProvinceCampaign(world, staff, { title: '扩展性测试' });
  const scheduler = startRole(world, 'scheduler', { LOG_LEVEL: 'info' });
  await until(async () => (await OccurrenceModel.exists({ campaignId, status: 'planned' })) !== null);
  const rate = async (windowS: number) => {
    await new Promise((r) => setTimeout(r, 15_000)); // warm-up: new processes start (tsx) and take batches
    const before = world.doubles.received().length;
    const started = performance.now();
    await new Promise((r) => setTimeout(r, windowS * 1000));
    return (world.doubles.received().length - before) / ((performance.now() - started) / 1000);
  };
  const parts = [startRole(world, 'worker', workerEnv)];
  const one = await rate(seconds);
  log(`  1 worker: ${one.toFixed(1)} posts/s`);
  for (let i = 1; i < workers; i++) parts.push(startRole(world, 'worker', workerEnv));
  const many = await rate(seconds);
  log(`  ${workers} workers: ${many.toFixed(1)} posts/s (${(many / one).toFixed(2)}×)`);
  // The measurement is done: the robots answer at once again before the cancel, whose
  // withdrawal messages to officers (one post each, by the scheduler's notifier) would
  // otherwise each wait 200 ms.
  world.doubles.setLatency(0);
  await world.app.inject({
    method: 'POST',
    url: `/api/campaigns/${campaignId}/cancel`,
    headers: { authorization: `Bearer ${staff.editor}` },
  });
  for (const part of parts) await part.stop();
  await scheduler.stop();
  world.doubles.setLatency(0);
  return {
    workers,
    concurrency,
    deliveries_per_s: Number(many.toFixed(1)),
    one_worker_deliveries_per_s: Number(one.toFixed(1)),
    ratio: Number((many / one).toFixed(2)),
  };
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(`bench:fanout failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });

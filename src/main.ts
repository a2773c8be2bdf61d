// Entry point: reads config, opens the database (embedded FerretDB by default) and starts
// the roles asked for: api | scheduler | worker | all (default).
import { buildApp } from './app.js';
import { ConfigError, loadConfig, processRole } from './config.js';
import { createContext, engineDeps, prepareDatabase } from './context.js';
import { Retention } from './engine/retention.js';
import { Scheduler, createWorker } from './engine/runner.js';
import { openDatabase } from './db/connection.js';
import { RollupRefresher } from './tracking/refresher.js';
import { DeadlineWatch } from './cases/deadlines.js';
import { startLoop } from './lib/loop.js';
import { groupListing } from './audience/model.js';
import { warmVillages } from './audience/radius.js';
import { warmRegionNames } from './audience/region-names.js';
import { boundOldGeneration } from './engine/memory.js';
import { flushOpenCounts } from './channels/manual/open-counts.js';

/** A stopper with a name for the shutdown's log. */
function named(name: string, stop: () => Promise<void>): () => Promise<void> {
  Object.defineProperty(stop, 'name', { value: name });
  return stop;
}

function announceGeneratedPassword(username: string, password: string): void {
  // Printed once, straight to the terminal (not through the logger), on the very first start.
  process.stdout.write(
    [
      '',
      '==================================================================',
      ' 首次启动：已创建管理员账号 (first start: admin account created)',
      `   用户名 username: ${username}`,
      `   密码   password: ${password}`,
      ' 请立即登录并修改密码；此密码不会再次显示。',
      '==================================================================',
      '',
    ].join('\n'),
  );
}

/** How long a part may take to stop on SIGTERM/SIGINT before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const role = processRole(process.argv.slice(2));
  // A planning process's old generation is collected at 1.5x its live size, not 4x
  // (engine/memory.ts; docs/engine.md, Memory).
  if (role === 'all' || role === 'scheduler') boundOldGeneration();
  const config = loadConfig();
  const db = await openDatabase(config);
  const ctx = createContext(config, db);
  const stoppers: Array<() => Promise<void>> = [];
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\nreceived ${signal}, shutting down…\n`);
    // Each part may finish what it is doing, the loops for at most SHUTDOWN_GRACE_MS: a pass
    // can take minutes (the notifier telling a thousand officers of a cancelled push, one
    // post each), and every pass is safe to abandon (the kill -9 scenarios): its next holder
    // or pass finishes it. The parts are stopped together, so the grace is paid at most once.
    await Promise.all(
      stoppers.reverse().map(async (stop) => {
        const started = Date.now();
        const finished = stop().then(
          () => true,
          () => true,
        );
        // The worker is waited for: its sends are bounded by the channel time-out, and one cut
        // short would be recorded uncertain by the next holder.
        const grace =
          stop.name === 'worker' ? null : new Promise<false>((r) => setTimeout(r, SHUTDOWN_GRACE_MS, false).unref());
        const inTime = await Promise.race(grace ? [finished, grace] : [finished]);
        if (!inTime)
          process.stderr.write(
            `[shutdown] ${stop.name || 'a part'} still busy after ${Date.now() - started} ms; left to its next run\n`,
          );
      }),
    );
    await db.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  const generated = await prepareDatabase(ctx);
  if (generated) announceGeneratedPassword(config.adminUsername, generated);

  const log = (part: string) => (error: unknown) =>
    process.stderr.write(`[${part}] ${error instanceof Error ? error.message : String(error)}\n`);
  // Every region read by code (radius targeting, region names and scopes) comes from the
  // process's copy of the regions (regions/directory.ts): read now rather than in the first
  // person's request.
  if (role !== 'worker') void warmVillages().catch(log('villages'));
  // The planner's region names (audience/region-names.ts): an urgent run's first batch does
  // not wait for a scan of the regions.
  if (role === 'all' || role === 'scheduler') void warmRegionNames().catch(log('region names'));
  // The workbench's tallies (workbench/tallies.ts) are read whole once per process: now, not in
  // the first person's navigation (later writes are applied from the change log by `_id`).
  if (role === 'all' || role === 'api') void ctx.workbench.warm(ctx.regions.rootScope()).catch(log('workbench tallies'));
  // The groups list's per-county listings (audience/group-listing.ts): the list's opening page
  // comes from a kept head without them, its filters and sorts need them all.
  if (role === 'all' || role === 'api') void groupListing.warm().catch(log('group listings'));
  if (role === 'all' || role === 'scheduler') {
    const scheduler = new Scheduler(engineDeps(ctx));
    stoppers.push(named('scheduler', scheduler.start(log('scheduler')).stop));
    // Folds changed delivery batches into the reach statistics. In the scheduler role (one
    // or two processes) rather than in every worker: the lease lets one fold at a time anyway,
    // and a fold's long passes stay out of the processes that send (docs/tracking.md).
    const rollups = new RollupRefresher(ctx.tracking.rollups, log('rollups'));
    rollups.start();
    stoppers.push(named('rollups', () => rollups.stop()));
    // Officers' task digests, reminders and escalations; each step is claimed by a unique key.
    // Every loop waits for its pass to end before the next is scheduled (lib/loop.ts).
    const notifying = startLoop(() => ctx.notifier.tick(), 15_000, log('notifier'));
    // At shutdown the pass under way stops after the officer run it is handling (its cursor
    // keeps the rest for the next pass), instead of running through its due runs.
    stoppers.push(
      named('notifier', () => {
        ctx.notifier.stop();
        return notifying.stop();
      }),
    );
    // WeCom customer groups: owners' tasks created once a run settles, their results polled, stops applied.
    const wecomGroups = startLoop(() => ctx.wecomGroups.tickWhenDue(), 15_000, log('wecom-groups'));
    stoppers.push(named('wecom-groups', () => wecomGroups.stop()));
    // Drafts the "已过期" follow-up of wanted notices whose deadline has passed.
    const deadlines = new DeadlineWatch(ctx.cases, log('deadlines'), () => ctx.tips.purgeExpired());
    deadlines.start();
    stoppers.push(named('deadlines', () => deadlines.stop()));
    // Prunes and compacts settled runs' engine internals (docs/retention.md).
    const retention = new Retention(ctx.clock, {
      keepDays: config.engineRetentionDays,
      everyMs: config.retentionEveryMinutes * 60_000,
    }).start(log('retention'));
    stoppers.push(named('retention', () => retention.stop()));
    // Tip alerts that waited for their notice's next 5-minute slot (tips/service.ts).
    const tipAlerts = startLoop(() => ctx.tips.tellQueued(), 60_000, log('tip-alerts'));
    stoppers.push(named('tip-alerts', () => tipAlerts.stop()));
  }
  if (role === 'all' || role === 'worker') {
    const worker = createWorker(engineDeps(ctx));
    worker.start();
    // The open-task counts' log of its last waves (written within a second anyway; left, its
    // intent would have the notifier re-count those counties).
    stoppers.push(named('worker', () => worker.stop().then(() => flushOpenCounts())));
  }

  if (role === 'all' || role === 'api') {
    const app = await buildApp(ctx);
    stoppers.push(named('api', () => app.close()));
    await app.listen({ host: config.host, port: config.port });
    app.log.info(
      { role, database: db.embedded ? `embedded FerretDB (${config.dataDir})` : 'MONGODB_URI' },
      `Jingxun listening on http://${config.host}:${config.port} (API docs at /docs)`,
    );
  }
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`Jingxun failed to start: ${message}\n`);
  process.exit(1);
});

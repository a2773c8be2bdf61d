// node --import tsx bench/plan-cost.ts [--groups=3000 --refresher --world=/dev/shm/<dir>]
// What planning a province run costs per planned group, independent of the machine's load:
// approves one normal-priority campaign to every demo group, then plans it with one Scheduler
// (as a `--role=scheduler` process does: ticks until the run is planned) and counts every
// command the driver sends meanwhile, by collection and command, with FerretDB's and this
// process's CPU (/proc). --refresher: the roll-up refresher runs beside it, as in a scheduler
// process (a refresh every 2 s folding the planner's batch markers); its commands are counted
// apart (by collection: reach*, rollup*). --seed-only with --world: builds the world only. --world=DIR: a world kept in DIR (seeded on the first
// run; each run plans one more campaign there, so copy it per run to compare runs). Planning
// time is printed too, but depends on the load; give the load with it.
import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { approvedProvinceCampaign, provinceStaff, startWorld } from '../scripts/engine-world.js';
import { engineDeps } from '../src/context.js';
import { OccurrenceModel } from '../src/engine/model.js';
import { Scheduler } from '../src/engine/runner.js';
import { RollupRefresher } from '../src/tracking/refresher.js';
import { cpuSecondsOf, ferretPidOf, flag } from './proc.js';

const log = (line: string) => process.stdout.write(`[bench:plan-cost] ${line}\n`);

function collectionOf(event: CommandStartedEvent): string {
  if (event.commandName === 'getMore') return String(event.command.collection ?? '');
  const value = event.command[event.commandName];
  return typeof value === 'string' ? value : '';
}

async function main() {
  const groups = flag('groups', 3_000);
  const keepDir = process.argv.find((a) => a.startsWith('--world='))?.slice(8);
  const withRefresher = process.argv.includes('--refresher');
  const world = await startWorld({
    groups,
    log,
    monitorCommands: true,
    env: { QUIET_HOURS: '04:00-04:01' },
    ...(keepDir ? { keep: { dir: keepDir, doublesPort: 47_311 } } : {}),
  });
  try {
    // --seed-only: builds the kept world and stops (copy it per run to compare runs).
    if (process.argv.includes('--seed-only')) return;
    const staff = await provinceStaff(world);
    const { campaignId } = await approvedProvinceCampaign(world, staff, { title: '计划成本', priority: 'normal' });
    const deps = engineDeps(world.ctx);
    const scheduler = new Scheduler(deps);
    // Markers of earlier work folded first: only the planning's refreshes are counted.
    if (withRefresher) await world.ctx.tracking.rollups.refreshAll('plan-cost');
    const commands = new Map<string, number>();
    const refresherCommands = new Map<string, number>();
    const client = mongoose.connection.getClient();
    client.on('commandStarted', (event: CommandStartedEvent) => {
      const collection = collectionOf(event);
      const key = `${collection}.${event.commandName}`;
      const mine = withRefresher && /^(reach|rollup)/.test(collection) && key !== 'rollupmarkers.insert';
      if (process.env.PLAN_COST_SHOW && /group/.test(collection)) log(JSON.stringify(event.command).slice(0, 300));
      const into = mine ? refresherCommands : commands;
      into.set(key, (into.get(key) ?? 0) + 1);
    });
    const refresher = withRefresher
      ? new RollupRefresher(world.ctx.tracking.rollups, (error) => log(`refresh failed: ${String(error)}`))
      : null;
    const ferretPid = ferretPidOf(world.dir);
    const ferretBefore = cpuSecondsOf(ferretPid);
    const selfBefore = process.cpuUsage();
    const started = performance.now();
    refresher?.start();
    while ((await OccurrenceModel.exists({ campaignId, status: 'planned' })) === null) await scheduler.tick();
    const seconds = (performance.now() - started) / 1000;
    await refresher?.stop();
    const ferretCpu = cpuSecondsOf(ferretPid) - ferretBefore;
    const used = process.cpuUsage(selfBefore);
    const selfCpu = (used.user + used.system) / 1e6;
    const run = await OccurrenceModel.findOne({ campaignId }, { deliveryCount: 1, batchCount: 1 }).lean<{
      deliveryCount: number;
      batchCount: number;
    }>();
    const planned = run?.deliveryCount ?? groups;
    const total = [...commands.values()].reduce((a, b) => a + b, 0);
    const refresherTotal = [...refresherCommands.values()].reduce((a, b) => a + b, 0);
    const perGroup = (n: number) => (n / planned).toFixed(3);
    log(`planned ${planned} groups in ${run?.batchCount} batches in ${seconds.toFixed(1)} s`);
    log(
      `CPU: FerretDB ${ferretCpu.toFixed(1)} s (${((ferretCpu / planned) * 1000).toFixed(2)} ms per group), scheduler ${selfCpu.toFixed(1)} s (${((selfCpu / planned) * 1000).toFixed(2)} ms per group)`,
    );
    log(`planner commands: ${total} (${perGroup(total)} per group)`);
    for (const [key, n] of [...commands].sort((a, b) => b[1] - a[1]))
      log(`  ${key.padEnd(40)} ${String(n).padStart(7)}  ${perGroup(n)}/group`);
    if (withRefresher) {
      log(`refresher commands: ${refresherTotal} (${perGroup(refresherTotal)} per group)`);
      for (const [key, n] of [...refresherCommands].sort((a, b) => b[1] - a[1]))
        log(`  ${key.padEnd(40)} ${String(n).padStart(7)}`);
    }
    process.stdout.write(
      `${JSON.stringify({ groups: planned, batches: run?.batchCount, plan_s: Number(seconds.toFixed(1)), commands_per_group: Number((total / planned).toFixed(3)), refresher_commands: refresherTotal, ferret_cpu_ms_per_group: Number(((ferretCpu / planned) * 1000).toFixed(3)), scheduler_cpu_ms_per_group: Number(((selfCpu / planned) * 1000).toFixed(3)) })}\n`,
    );
  } finally {
    await world.close();
  }
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(`bench:plan-cost failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });

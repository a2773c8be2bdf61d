// node --import tsx bench/plan-memory.ts [--groups=10000] [--snapshot=DIR]
// The scheduler's side of bench:fanout, in one process: builds the demo province of N groups,
// then plans one normal province run and one urgent province push with the engine's planner
// (as the scheduler role does, its region names warmed at start), sampling the process's
// memory every 200 ms. Prints the RSS and heap before, the peak during each plan, the time to
// the urgent push's first batch and the commands read before it; with --snapshot a V8 heap
// snapshot is written at the normal plan's largest heap (read it in Chrome's DevTools, or with
// the retainers summary this script prints). Ends with one JSON line.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import { warmRegionNames } from '../src/audience/region-names.js';
import { engineDeps } from '../src/context.js';
import { OccurrenceModel } from '../src/engine/model.js';
import { Planner } from '../src/engine/planner.js';
import { createDueOccurrences } from '../src/engine/tick.js';
import { approvedProvinceCampaign, provinceStaff, startWorld } from '../scripts/engine-world.js';

function flag(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const log = (line: string) => process.stdout.write(`[bench:plan-memory] ${line}\n`);
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

/** Samples RSS and heap while `work` runs; writes a heap snapshot at the largest heap when asked. */
async function sampled<T>(what: string, work: () => Promise<T>, snapshotDir?: string) {
  let peakRss = 0;
  let peakHeap = 0;
  let peakExternal = 0;
  let snapshotAt = 0;
  let snapshot: string | null = null;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakExternal = Math.max(peakExternal, m.external + m.arrayBuffers);
    if (m.heapUsed > peakHeap) {
      peakHeap = m.heapUsed;
      // One snapshot, once the heap has grown by 20 % over the last one (it stops the process).
      if (snapshotDir && m.heapUsed > snapshotAt * 1.2 && m.heapUsed > 400 * 1024 * 1024) {
        snapshotAt = m.heapUsed;
        snapshot = v8.writeHeapSnapshot(join(snapshotDir, `${what}-${mb(m.heapUsed)}mb.heapsnapshot`));
      }
    }
  }, 200);
  const started = performance.now();
  try {
    const result = await work();
    return { result, seconds: Math.round(performance.now() - started) / 1000, peakRss, peakHeap, peakExternal, snapshot };
  } finally {
    clearInterval(timer);
  }
}

async function main() {
  const groups = Number(flag('groups') ?? 10_000);
  const snapshotDir = flag('snapshot');
  if (snapshotDir) mkdirSync(snapshotDir, { recursive: true });
  const world = await startWorld({ groups, log, env: { QUIET_HOURS: '04:00-04:01' } });
  try {
    const staff = await provinceStaff(world);
    const deps = engineDeps(world.ctx);
    await warmRegionNames();
    global.gc?.();
    const base = process.memoryUsage();
    log(`world ready: rss ${mb(base.rss)} MB, heap ${mb(base.heapUsed)} MB`);

    const normal = await approvedProvinceCampaign(world, staff, { title: '内存测量（普通）', priority: 'normal' });
    await createDueOccurrences(world.ctx.campaigns, deps, world.ctx.clock.now());
    const normalRun = (await OccurrenceModel.findOne({ campaignId: normal.campaignId }).lean())!;
    const planned = await sampled('normal', () => new Planner(deps).plan(normalRun, 'bench-normal'), snapshotDir);
    log(
      `normal run: ${planned.result} in ${planned.seconds} s, peak rss ${mb(planned.peakRss)} MB, peak heap ${mb(planned.peakHeap)} MB${planned.snapshot ? `, snapshot ${planned.snapshot}` : ''}`,
    );

    global.gc?.();
    const urgent = await approvedProvinceCampaign(world, staff, { title: '内存测量（紧急）', priority: 'urgent' });
    await createDueOccurrences(world.ctx.campaigns, deps, world.ctx.clock.now());
    const urgentRun = (await OccurrenceModel.findOne({ campaignId: urgent.campaignId }).lean())!;
    let firstWriteS: number | null = null;
    const urgentStarted = performance.now();
    const ports = Object.assign(Object.create(deps.ports), {
      batchesWritten(batchIds: string[]) {
        firstWriteS ??= Math.round(performance.now() - urgentStarted) / 1000;
        return deps.ports.batchesWritten(batchIds);
      },
    });
    const urgentPlan = await sampled('urgent', () => new Planner({ ...deps, ports }).plan(urgentRun, 'bench-urgent'));
    log(
      `urgent run: first batch insert after ${firstWriteS} s planned in ${urgentPlan.seconds} s, peak rss ${mb(urgentPlan.peakRss)} MB`,
    );
    process.stdout.write(
      `${JSON.stringify({
        groups,
        base_rss_mb: mb(base.rss),
        plan_s: planned.seconds,
        plan_peak_rss_mb: mb(planned.peakRss),
        plan_peak_heap_mb: mb(planned.peakHeap),
        plan_peak_external_mb: mb(planned.peakExternal),
        urgent_first_write_s: firstWriteS,
        urgent_plan_s: urgentPlan.seconds,
        urgent_peak_rss_mb: mb(urgentPlan.peakRss),
        urgent_peak_heap_mb: mb(urgentPlan.peakHeap),
        load: (await import('node:os')).loadavg().map((x) => Math.round(x * 10) / 10),
      })}\n`,
    );
  } finally {
    await world.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

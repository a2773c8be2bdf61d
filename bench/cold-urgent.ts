// node --import tsx bench/cold-urgent.ts [--groups=50000] [--dir=/dev/shm/planner2] [--approve-after=5]
//                                        [--doubles-port=18777] [--runs=1]
// A cold scheduler's urgent push: a freshly started `--role=scheduler` process (as after a
// deploy or a crash: none of its per-process caches read yet) and an urgent province push
// approved --approve-after seconds after its start. Times approval -> its first batch written
// -> its first post at a robot (a warm worker process sends), then cancels the push and stops
// the scheduler; --runs repeats that with a new scheduler each time. The world (FerretDB files
// and the demo province) is built once into --dir and reused (the robot doubles listen on
// --doubles-port, the port sealed into the groups' credentials). BENCH_CPU_PROF=<dir>: the
// scheduler writes a V8 CPU profile there when it stops. Ends with one JSON line.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { DeliveryBatchModel } from '../src/tracking/model.js';
import { batchIdsOf } from '../src/tracking/run-batches.js';
import { ShortLinkModel } from '../src/tracking/short-links.js';
import { type World, approvedProvinceCampaign, provinceStaff, startWorld } from '../scripts/engine-world.js';

function flag(name: string, fallback: string): string {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

const log = (line: string) => process.stdout.write(`[bench:cold-urgent] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A role process joined to the world; its planner lines (LOG_LEVEL=info) are kept. */
function startRole(world: World, role: 'scheduler' | 'worker') {
  const prof =
    role === 'scheduler' && process.env.BENCH_CPU_PROF
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
      : [];
  const child = spawn(
    process.execPath,
    [...prof, '--max-semi-space-size=16', '--import', 'tsx', 'src/main.ts', `--role=${role}`],
    {
      env: { PATH: process.env.PATH, ...world.processEnv, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const lines: string[] = [];
  // The service's own log lines go to stderr (lib/log.ts): the planner's are kept, the rest shown.
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (line.includes('planner: urgent run')) lines.push(line);
    else process.stderr.write(`[${role}] ${line}\n`);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    lines,
    async stop() {
      child.kill('SIGTERM');
      const inTime = await Promise.race([exited.then(() => true), sleep(60_000).then(() => false)]);
      if (!inTime) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

async function firstWritten(campaignId: string): Promise<boolean> {
  for (const id of await batchIdsOf(campaignId)) if (await DeliveryBatchModel.exists({ _id: id })) return true;
  return false;
}

async function main() {
  const groups = Number(flag('groups', '50000'));
  const dir = flag('dir', '/dev/shm/planner2');
  const approveAfterS = Number(flag('approve-after', '5'));
  const runs = Number(flag('runs', '1'));
  const world = await startWorld({
    groups,
    log,
    env: { WORKER_CONCURRENCY: '32', QUIET_HOURS: '04:00-04:01' },
    keep: { dir, doublesPort: Number(flag('doubles-port', '18777')) },
  });
  const results = [];
  try {
    const staff = await provinceStaff(world);
    // The worker is warm: what is measured is the scheduler's cold start.
    const worker = startRole(world, 'worker');
    await sleep(10_000);
    for (let run = 0; run < runs; run++) {
      const load = (await import('node:os')).loadavg()[0]!;
      const scheduler = startRole(world, 'scheduler');
      await sleep(approveAfterS * 1000);
      const pushed = await approvedProvinceCampaign(world, staff, { title: '紧急协查通报', priority: 'urgent' });
      const approvedAt = Date.now();
      const seen = world.doubles.received().length;
      log(`run ${run + 1}: urgent push approved ${approveAfterS} s after the scheduler's start (load ${load.toFixed(1)})`);
      let writtenS: number | null = null;
      let postS: number | null = null;
      for (let checked = seen; postS === null && Date.now() - approvedAt < 300_000; ) {
        if (writtenS === null && (await firstWritten(pushed.campaignId))) writtenS = (Date.now() - approvedAt) / 1000;
        const received = world.doubles.received();
        for (; checked < received.length && postS === null; checked++) {
          const code = /\/t\/([A-Za-z0-9_-]{6,})/.exec(JSON.stringify(received[checked]!.body))?.[1];
          const link = code ? await ShortLinkModel.findById(code, { campaignId: 1 }).lean() : null;
          if (link?.campaignId === pushed.campaignId)
            postS = (received[checked]!.receivedAt.getTime() - approvedAt) / 1000;
        }
        if (postS === null) await sleep(100);
      }
      log(`  first batch written ${writtenS} s, first post ${postS} s after approval`);
      await world.app.inject({
        method: 'POST',
        url: `/api/campaigns/${pushed.campaignId}/cancel`,
        headers: { authorization: `Bearer ${staff.editor}` },
      });
      await sleep(2_000);
      await scheduler.stop();
      for (const line of scheduler.lines) log(`  ${line.slice(0, 400)}`);
      const phases = scheduler.lines
        .map((line) => {
          try {
            return (JSON.parse(line) as { phases?: Record<string, number> }).phases ?? null;
          } catch {
            return null;
          }
        })
        .find(Boolean);
      results.push({ first_write_s: writtenS, first_post_s: postS, load_1m: Number(load.toFixed(1)), phases });
    }
    await worker.stop();
  } finally {
    await world.close();
  }
  process.stdout.write(`${JSON.stringify({ groups, approve_after_s: approveAfterS, runs: results })}\n`);
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(`bench:cold-urgent failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });

// Reliability with real processes: worker and scheduler processes (the same `src/main.ts`
// a deployment runs) against a real FerretDB and the robot doubles, killed and restarted
// for real. One 3,000-group demo directory; each scenario sends a fresh campaign.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OccurrenceModel } from '../../src/engine/model.js';
import { Scheduler } from '../../src/engine/runner.js';
import { engineDeps } from '../../src/context.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { type World, approvedProvinceCampaign, provinceStaff, startWorld } from '../../scripts/engine-world.js';

const GROUPS = 3_000;
const CONCURRENCY = 16;
const NODE_ARGS = ['--import', 'tsx', 'src/main.ts'];

let world: World;
let staff: { editor: string; reviewer: string };
const children = new Set<ChildProcess>();

function startProcess(role: 'worker' | 'scheduler'): ChildProcess {
  const child = spawn(process.execPath, [...NODE_ARGS, `--role=${role}`], {
    env: {
      PATH: process.env.PATH,
      ...world.processEnv,
      // Short enough that a killed worker's batches are taken over within the test, long
      // enough that a live worker on a loaded 2-core machine never loses its lease.
      LEASE_SECONDS: '10',
      RETRY_BASE_MS: '200',
      WORKER_CONCURRENCY: String(CONCURRENCY),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr!.on('data', (chunk) => {
    errors = (errors + chunk).slice(-2000);
  });
  child.once('exit', () => children.delete(child));
  children.add(child);
  return child;
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  return exited;
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function items(campaignId: string) {
  return (await DeliveryBatchModel.find({ campaignId }).lean()).flatMap((b) => b.items);
}

async function settled(campaignId: string): Promise<boolean> {
  const batches = await DeliveryBatchModel.find({ campaignId }, { counts: 1 }).lean();
  return batches.length > 0 && batches.every((b) => (b.counts?.pending ?? 1) === 0);
}

/** Posts each robot received (manual groups post nothing: the officer gets a task). */
function postsPerRobot(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const message of world.doubles.received()) counts.set(message.robot, (counts.get(message.robot) ?? 0) + 1);
  return counts;
}

/** Every delivery final; nothing posted twice; every `sent` posted exactly once. */
async function expectExactlyOnce(campaignId: string, options: { maxUncertain: number }) {
  const all = await items(campaignId);
  expect(all).toHaveLength(GROUPS);
  const byStatus: Record<string, number> = {};
  for (const item of all) byStatus[item.status] = (byStatus[item.status] ?? 0) + 1;
  expect(byStatus.pending ?? 0, JSON.stringify(byStatus)).toBe(0);
  expect(byStatus.failed ?? 0, JSON.stringify(byStatus)).toBe(0);
  expect(byStatus.uncertain ?? 0, JSON.stringify(byStatus)).toBeLessThanOrEqual(options.maxUncertain);
  const posts = postsPerRobot();
  expect([...posts.values()].filter((n) => n > 1)).toEqual([]);
  const robotOf = new Map(world.doubles.received().map((m) => [m.robot, m]));
  let sentWithoutPost = 0;
  for (const item of all) {
    if (item.status !== 'sent') continue;
    const creds = world.ctx.groups.openCredentials(item.credentialsSealed);
    const robot =
      creds.kind === 'wecom'
        ? creds.key
        : creds.kind === 'dingtalk'
          ? creds.accessToken
          : creds.kind === 'feishu'
            ? creds.hookId
            : creds.kind === 'webhook'
              ? creds.url.split('/').pop()!
              : null;
    if (robot && !robotOf.has(robot)) sentWithoutPost += 1;
  }
  expect(sentWithoutPost).toBe(0);
  return byStatus;
}

async function newCampaign(title: string, schedule?: unknown): Promise<string> {
  world.doubles.reset();
  world.doubles.clearFaults();
  const { campaignId } = await approvedProvinceCampaign(world, staff, { title, schedule });
  return campaignId;
}

describe('the engine with real processes, crashes and faults', () => {
  beforeAll(async () => {
    world = await startWorld({ groups: GROUPS });
    staff = await provinceStaff(world);
  }, 300_000);
  afterEach(async () => {
    await Promise.all([...children].map((child) => stop(child, 'SIGKILL')));
  });
  afterAll(async () => {
    await world?.close();
  });

  it('(a) three worker processes share a 3,000-group run: every delivery exactly once', async () => {
    const id = await newCampaign('三进程');
    await new Scheduler(engineDeps(world.ctx)).tick();
    for (let i = 0; i < 3; i++) startProcess('worker');
    await until(() => settled(id), 240_000, 'the run to settle');
    const statuses = await expectExactlyOnce(id, { maxUncertain: 0 });
    expect((statuses.sent ?? 0) + (statuses.awaiting ?? 0)).toBe(GROUPS);
  }, 300_000);

  it('(b) a worker SIGKILLed at random points and restarted loses nothing; only its in-flight sends become uncertain', async () => {
    const id = await newCampaign('强杀');
    await new Scheduler(engineDeps(world.ctx)).tick();
    let kills = 0;
    for (const threshold of [200 + Math.floor(Math.random() * 300), 1_200 + Math.floor(Math.random() * 500)]) {
      const worker = startProcess('worker');
      await until(() => world.doubles.received().length >= threshold, 240_000, `${threshold} posts`);
      await stop(worker, 'SIGKILL');
      kills += 1;
    }
    startProcess('worker');
    await until(() => settled(id), 240_000, 'the run to settle');
    // At most the attempts a dead worker had claimed: per batch it held (2 at once), the
    // wave being sent and the next wave claimed, CONCURRENCY each.
    await expectExactlyOnce(id, { maxUncertain: kills * 2 * 2 * CONCURRENCY });
  }, 300_000);

  it('(c) the database restarted mid-run: the run completes', async () => {
    const id = await newCampaign('数据库重启');
    await new Scheduler(engineDeps(world.ctx)).tick();
    startProcess('worker');
    startProcess('worker');
    await until(() => world.doubles.received().length >= 500, 240_000, '500 posts');
    await world.restartDatabase(1_500);
    await until(() => settled(id).catch(() => false), 240_000, 'the run to settle');
    // Sends in flight when the database went away cannot be recorded: at most what two workers had claimed.
    await expectExactlyOnce(id, { maxUncertain: 2 * 2 * 2 * CONCURRENCY });
  }, 300_000);

  it('(d) robots answering 5xx and throttle codes for a stretch: everything is delivered within the retry policy', async () => {
    const id = await newCampaign('故障');
    await new Scheduler(engineDeps(world.ctx)).tick();
    world.doubles.fault({ fault: { type: 'http-error', status: 503 }, rate: 0.3, seed: 11, times: 800 });
    world.doubles.fault({ fault: { type: 'throttle' }, platform: 'feishu', rate: 0.5, seed: 12, times: 200 });
    world.doubles.fault({ fault: { type: 'throttle' }, platform: 'webhook', rate: 0.5, seed: 13, times: 100 });
    startProcess('worker');
    startProcess('worker');
    await until(() => settled(id), 240_000, 'the run to settle');
    const statuses = await expectExactlyOnce(id, { maxUncertain: 0 });
    expect((statuses.sent ?? 0) + (statuses.awaiting ?? 0)).toBe(GROUPS);
    const retried = (await items(id)).filter((i) => i.attempts > 1).length;
    expect(retried).toBeGreaterThan(100);
  }, 300_000);

  it('(e) two scheduler processes and double ticks make one occurrence per run', async () => {
    const runAt = new Date(Date.now() + 6_000);
    const id = await newCampaign('双调度', { kind: 'once', at: runAt.toISOString() });
    startProcess('scheduler');
    startProcess('scheduler');
    const inTest = new Scheduler(engineDeps(world.ctx));
    await until(
      async () => (await OccurrenceModel.countDocuments({ campaignId: id, status: 'planned' })) > 0,
      60_000,
      'planning',
    );
    await Promise.all([inTest.tick(), inTest.tick()]);
    expect(await OccurrenceModel.countDocuments({ campaignId: id })).toBe(1);
    startProcess('worker');
    await until(() => settled(id), 240_000, 'the run to settle');
    await expectExactlyOnce(id, { maxUncertain: 0 });
  }, 300_000);
});

// In-process CPU of the monthly table's 待民警转发 per call (tracking/open-tasks.ts) on a
// synthetic province shape, without a database: 84 counties × 12 townships × 3 villages,
// ~36,000 open entries held (the 50,000-group province's), 12 province runs of the month.
// The real KeptOpenCounts (its `held` stubbed with the synthetic documents), OpenTaskRows (its
// county list stubbed) and the runs' campaigns and notices stubbed as kept. `--module=` takes
// another build of open-tasks.ts (an `openTasks` list is counted as exports.ts did before).
//
//   node --import tsx bench/open-count-cpu.ts [--entries=36000] [--rounds=30] [--module=<path>]
import { KeptOpenCounts } from '../src/channels/manual/kept-open-counts.js';
import type { CountValue } from '../src/channels/manual/open-counts.js';
import { Scope } from '../src/regions/scope.js';

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const ENTRIES = Number(arg('entries', '36000'));
const ROUNDS = Number(arg('rounds', '30'));
const MODULE = arg('module', '../src/tracking/open-tasks.js');

const now = new Date('2026-06-20T04:00:00.000Z');
const runs = Array.from({ length: 12 }, (_, i) => ({
  campaignId: (i + 1).toString(16).padStart(24, 'a'),
  runAt: new Date(Date.UTC(2026, 5, 14 + (i % 5), 2 + i)).toISOString(),
}));
const counties = Array.from({ length: 84 }, (_, i) => `99${String(1000 + i).slice(1)}`);
let seed = 7;
const random = (n: number) => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed % n;
};
const docs = new Map<string, [string, CountValue][]>(counties.map((c) => [c, []]));
for (let i = 0; i < ENTRIES; i++) {
  const county = counties[random(counties.length)]!;
  const township = `${county}${String(100 + random(12)).slice(1)}`;
  const village = `${township}${String(100 + random(3)).slice(1)}`;
  const run = runs[random(runs.length)]!;
  const expiresAt = now.getTime() + 3600_000 + random(6 * 24) * 3600_000;
  docs
    .get(county)!
    .push([`t${i}`, [expiresAt, '13800000000', '民警', `${township}/${village}`, `${run.campaignId}@${run.runAt}`]]);
}

const kept = new KeptOpenCounts();
// The held documents, as a warm process holds them (arrays kept across calls).
const lists = counties.map((county) => ({ county, entries: docs.get(county)! }));
(kept as unknown as { held: () => Promise<unknown> }).held = async () => ({ lists });

const { OpenTaskCounter } = await import(MODULE);
const counter = new OpenTaskCounter({ now: () => now }, 'Asia/Shanghai', kept);
const inner = counter as unknown as {
  rows: { counties: unknown };
  runs: { of: (ids: string[]) => Promise<unknown> };
};
inner.rows.counties = { ofRegion: async () => ({ counties }) };
const campaigns = new Map(
  runs.map((r) => [r.campaignId, { _id: r.campaignId, status: 'active', noticeId: 'n', retractedAt: null }]),
);
const notices = new Map([
  ['n', { _id: 'n', status: 'approved', retractedAt: null, content: { category: 'anti_fraud' } }],
]);
inner.runs.of = async () => ({ campaigns, notices });

type Task = { townshipCode: string; category: string };
async function call(): Promise<number> {
  const scope = new Scope('990000');
  if (typeof counter.counts === 'function') return (await counter.counts(scope, '990000', '2026-06', '2026-06')).total;
  // Before: the list of tasks, counted per township and category as exports.ts did.
  const open: Task[] = await counter.openTasks(scope, '990000', '2026-06', '2026-06');
  const by = (key: (t: Task) => string) => {
    const m = new Map<string, number>();
    for (const t of open) m.set(key(t), (m.get(key(t)) ?? 0) + 1);
    return m;
  };
  by((t) => t.townshipCode);
  by((t) => t.category);
  return open.length;
}

const cpu = async () => {
  const start = process.cpuUsage();
  const total = await call();
  const used = process.cpuUsage(start);
  return { ms: (used.user + used.system) / 1000, total };
};
const first = await cpu();
const times: number[] = [];
for (let i = 0; i < ROUNDS; i++) times.push((await cpu()).ms);
times.sort((a, b) => a - b);
const load = (await import('node:os')).loadavg().map((l) => l.toFixed(1));
console.log(
  JSON.stringify({
    bench: 'open-count-cpu',
    module: MODULE,
    entries: ENTRIES,
    counted: first.total,
    first_call_cpu_ms: Number(first.ms.toFixed(2)),
    p50_cpu_ms: Number(times[Math.floor(times.length / 2)]!.toFixed(2)),
    max_cpu_ms: Number(times[times.length - 1]!.toFixed(2)),
    load: load.join(' '),
  }),
);
process.exit(0);

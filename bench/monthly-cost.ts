// The monthly table's reach part for a province admin and a city coordinator on a copy of a
// bench:province world (`--dir=`, a copy: the start-up steps write): bytes of the documents a
// call needs and the in-process time of the reach reports, from the month summary
// (tracking/reach-months.ts) and from the county-years (the backfill's mark hidden for the
// run, then put back), one after the other in one process. Load-independent figures first:
// bytes; the times are this machine's at the moment.
//
//   node --import tsx bench/monthly-cost.ts --dir=/dev/shm/<copy>/jingxun-province-3000-40 [--rounds=20]
import mongoose from 'mongoose';
import { BackfillModel } from '../src/db/backfills.js';
import { Scope } from '../src/regions/scope.js';
import { forgetMonthsReady, MONTHS_BACKFILL, monthDocId } from '../src/tracking/reach-months.js';
import { ReachStats } from '../src/tracking/stats.js';
import { openWorldCopy } from './world-copy.js';

const ROUNDS = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 20);
const PROVINCE = '990000';
const CITY = '990100';

const world = await openWorldCopy();
try {
  const db = mongoose.connection.db!;
  const month = new Date().toISOString().slice(0, 7);
  const size = (doc: unknown) => Buffer.byteLength(JSON.stringify(doc));
  const out: Record<string, unknown> = { bench: 'monthly-cost', month, rounds: ROUNDS };
  for (const [who, region] of [
    ['province_admin', PROVINCE],
    ['city_coordinator', CITY],
  ] as const) {
    const counties = ((await db.collection('reachscopes').findOne({ _id: region as never }))?.counties ??
      []) as string[];
    const years = await db
      .collection('reachcountyyears')
      .find({ _id: { $in: counties.map((c) => `${c}|${month.slice(0, 4)}`) as never[] } })
      .toArray();
    const summary = await db.collection('reachmonths').findOne({ _id: monthDocId(region, month) as never });
    const time = async (stats: ReachStats) => {
      const scope = new Scope(region);
      const call = () => stats.reports(scope, { from: month, to: month }, [['township'], ['category']]);
      await call(); // first call: reads (and keeps) what it needs
      const ms: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const started = performance.now();
        await call();
        ms.push(performance.now() - started);
      }
      ms.sort((a, b) => a - b);
      return { p50: Math.round(ms[Math.floor(ms.length / 2)]! * 10) / 10, max: Math.round(ms.at(-1)! * 10) / 10 };
    };
    const fromSummary = await time(new ReachStats(world.ctx.regions));
    // The county-years' path: the summaries not marked built (a fresh ReachStats, no kept copies).
    await BackfillModel.deleteOne({ _id: MONTHS_BACKFILL });
    forgetMonthsReady();
    let fromCountyYears: { p50: number; max: number };
    try {
      fromCountyYears = await time(new ReachStats(world.ctx.regions));
    } finally {
      await BackfillModel.updateOne({ _id: MONTHS_BACKFILL }, { $set: { at: new Date() } }, { upsert: true });
      forgetMonthsReady();
    }
    out[who] = {
      counties: counties.length,
      county_years: years.length,
      county_years_bytes: years.reduce((n, d) => n + size(d), 0),
      summary_bytes: summary ? size(summary) : 0,
      reports_ms_from_county_years: fromCountyYears,
      reports_ms_from_summary: fromSummary,
    };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await world.close();
}

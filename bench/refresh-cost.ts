// node --import tsx bench/refresh-cost.ts --dir=/dev/shm/<copy of a bench:province world> [--refreshes=20 --batches=5]
// What a roll-up refresh costs while a run is sent, on a month-old world: the refresher folds a
// few changed batches every 2 s during dispatch, each in a different county. This marks
// `--batches` batches of the fullest month (each of another county; one delivery of each
// changed) and refreshes, `--refreshes` times, and prints per refresh: the commands by collection, the bytes written to each roll-up
// collection, FerretDB's CPU and this process's CPU, and the sizes of the largest day documents.
// Works on a copy: the world's roll-ups are rewritten with the values they already hold.
import { BSON } from 'mongodb';
import mongoose from 'mongoose';
import { DeliveryBatchModel } from '../src/tracking/model.js';
import { cpuSecondsOf, flag } from './proc.js';
import { openWorldCopy } from './world-copy.js';

const log = (line: string) => process.stdout.write(`[bench:refresh-cost] ${line}\n`);

async function main() {
  const refreshes = flag('refreshes', 20);
  const perRefresh = flag('batches', 5);
  const world = await openWorldCopy();
  const { ctx, ferretPid } = world;
  try {
    const rollups = ctx.tracking.rollups;
    await rollups.refreshAll('refresh-cost');
    const days = mongoose.connection.db!.collection('reachdays');
    const sized = (await days.find({}).toArray())
      .map((doc) => ({ id: String(doc._id), kb: BSON.calculateObjectSize(doc) / 1024 }))
      .sort((a, b) => b.kb - a.kb);
    for (const { id, kb } of sized.slice(0, 6)) log(`day document ${id.padEnd(20)} ${kb.toFixed(1)} KB`);
    const month = sized[0]!.id.split('|')[1]!;
    // Batches of that month, one county each per refresh.
    const byCounty = new Map<string, string[]>();
    for await (const b of DeliveryBatchModel.find({ month }, { _id: 1, countyCode: 1 }).lean().cursor()) {
      const doc = b as unknown as { _id: string; countyCode: string };
      const county = doc.countyCode;
      byCounty.set(county, [...(byCounty.get(county) ?? []), String(doc._id)]);
    }
    const counties = [...byCounty.keys()];
    log(`month ${month}: batches in ${counties.length} counties`);
    const commands = new Map<string, number>();
    const bytes = new Map<string, number>();
    const sizeOf = (value: unknown) => (value && typeof value === 'object' ? BSON.calculateObjectSize(value) : 0);
    mongoose.set('debug', (collection: string, method: string, ...args: unknown[]) => {
      const key = `${collection}.${method}`;
      commands.set(key, (commands.get(key) ?? 0) + 1);
      let n = 0;
      if (method === 'insertMany') for (const doc of args[0] as object[]) n += sizeOf(doc);
      if (method === 'bulkWrite')
        for (const op of args[0] as Array<{ replaceOne?: { replacement: object } }>)
          n += sizeOf(op.replaceOne?.replacement);
      if (method === 'updateOne' || method === 'replaceOne') n += sizeOf(args[1]);
      bytes.set(collection, (bytes.get(collection) ?? 0) + n);
    });
    const ferretBefore = cpuSecondsOf(ferretPid);
    const selfBefore = process.cpuUsage();
    const started = performance.now();
    for (let r = 0; r < refreshes; r++) {
      const ids = Array.from({ length: perRefresh }, (_, k) => {
        const list = byCounty.get(counties[(r * perRefresh + k) % counties.length]!)!;
        return list[(r * 7 + k) % list.length]!;
      });
      // Each batch changed as a dispatch changes it (one more member reached), then marked.
      for (const id of ids) {
        await DeliveryBatchModel.collection.updateOne(
          { _id: id as never },
          { $set: { 'items.0.status': 'sent' }, $inc: { 'items.0.memberCount': 1 } },
        );
      }
      await rollups.batchesWritten(ids);
      if ((await rollups.refresh('refresh-cost')) === null) throw new Error('lease not held');
    }
    const wall = performance.now() - started;
    const ferretCpu = cpuSecondsOf(ferretPid) - ferretBefore;
    const used = process.cpuUsage(selfBefore);
    mongoose.set('debug', false);
    await rollups.release('refresh-cost');
    log(
      `${refreshes} refreshes of ${perRefresh} batches: ${(wall / refreshes).toFixed(0)} ms each, FerretDB CPU ${((ferretCpu / refreshes) * 1000).toFixed(0)} ms, this process ${(((used.user + used.system) / 1e6 / refreshes) * 1000).toFixed(0)} ms per refresh`,
    );
    for (const [key, n] of [...commands].sort((a, b) => b[1] - a[1]))
      log(`  ${key.padEnd(36)} ${(n / refreshes).toFixed(1)} per refresh`);
    for (const [collection, n] of [...bytes].sort((a, b) => b[1] - a[1]).filter(([, n]) => n > 0))
      log(`  written to ${collection.padEnd(24)} ${(n / refreshes / 1024).toFixed(1)} KB per refresh`);
    process.stdout.write(
      `${JSON.stringify({ refreshes, batches_per_refresh: perRefresh, ms_per_refresh: Math.round(wall / refreshes), ferret_cpu_ms_per_refresh: Math.round((ferretCpu / refreshes) * 1000), process_cpu_ms_per_refresh: Math.round((used.user + used.system) / 1e3 / refreshes), reachdays_kb_per_refresh: Math.round((bytes.get('reachdays') ?? 0) / refreshes / 1024) })}\n`,
    );
  } finally {
    await world.close();
  }
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(`bench:refresh-cost failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });

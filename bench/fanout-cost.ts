// npm run bench:fanout-cost [-- --groups=5000]
// What one post costs the database, independent of the machine's load: plans one
// normal-priority campaign to N demo groups (planning first, not counted), then sends it with
// one in-process worker (the bench:fanout settings) and counts every database command the
// worker makes by collection and kind, and the bytes of the batch writes. Prints the batch
// shape (batches, groups per batch, bytes per batch document), the commands and bytes per
// post, and the dispatch time (which does depend on the load; give it with the figures).
// --refresher: the roll-up refresher runs beside the worker (as in a scheduler process during
// dispatch: a refresh every 2 s); its commands and the bytes it writes are counted apart.
import { writeFileSync } from 'node:fs';
import { BSON } from 'mongodb';
import mongoose from 'mongoose';
import { engineDeps } from '../src/context.js';
import { OccurrenceModel, QueueEntryModel } from '../src/engine/model.js';
import { Scheduler, createWorker } from '../src/engine/runner.js';
import { DeliveryBatchModel } from '../src/tracking/model.js';
import { RollupRefresher } from '../src/tracking/refresher.js';
import { approvedProvinceCampaign, provinceStaff, startWorld } from '../scripts/engine-world.js';
import { cpuSecondsOf, ferretPidOf, flag } from './proc.js';

const log = (line: string) => process.stdout.write(`[bench:fanout-cost] ${line}\n`);

async function main() {
  const groups = flag('groups', 5_000);
  const world = await startWorld({ groups, log, env: { WORKER_CONCURRENCY: '32', QUIET_HOURS: '04:00-04:01' } });
  try {
    const staff = await provinceStaff(world);
    const { campaignId } = await approvedProvinceCampaign(world, staff, { title: '成本测量', priority: 'normal' });
    const deps = engineDeps(world.ctx);
    const scheduler = new Scheduler(deps);
    const planStarted = performance.now();
    while ((await OccurrenceModel.exists({ campaignId, status: 'planned' })) === null) await scheduler.tick();
    log(`planned in ${((performance.now() - planStarted) / 1000).toFixed(1)} s`);
    const shape = await DeliveryBatchModel.collection.find({ campaignId }).toArray();
    const sizes = shape.map((doc) => BSON.calculateObjectSize(doc));
    const groupsPer = shape.map((doc) => (doc.items as unknown[] | undefined)?.length ?? 0);
    const packed = await mongoose.connection.db!.listCollections({ name: 'deliverybatchfixeds' }).toArray();
    log(
      `batches ${shape.length}, groups per batch mean ${(groups / shape.length).toFixed(1)} (min ${Math.min(...groupsPer)}, max ${Math.max(...groupsPer)}), batch document mean ${(sizes.reduce((a, b) => a + b, 0) / sizes.length / 1024).toFixed(1)} KB${packed.length ? ' (+ packed fixed part)' : ''}`,
    );

    const withRefresher = process.argv.includes('--refresher');
    // The planner's batch markers folded first: only the dispatch's refreshes are counted.
    if (withRefresher) await world.ctx.tracking.rollups.refreshAll('fanout-cost');
    const commands = new Map<string, number>();
    const refresherCommands = new Map<string, number>();
    const refresherBytes = new Map<string, number>();
    const refresherCollections = /^(reach|rollup)/;
    const sizeOf = (value: unknown) => (value && typeof value === 'object' ? BSON.calculateObjectSize(value) : 0);
    let batchWriteBytes = 0;
    let batchWrites = 0;
    mongoose.set('debug', (collection: string, method: string, ...args: unknown[]) => {
      const key = `${collection}.${method}`;
      // The fold's batch reads name the fields they read; the worker's read whole batches.
      const foldRead =
        key === 'deliverybatches.findOne' && args[1] !== undefined && Object.keys(args[1] as object).length > 0;
      if (withRefresher && ((refresherCollections.test(collection) && key !== 'rollupmarkers.insertOne') || foldRead)) {
        refresherCommands.set(key, (refresherCommands.get(key) ?? 0) + 1);
        let bytes = 0;
        if (method === 'insertMany') for (const doc of args[0] as object[]) bytes += sizeOf(doc);
        if (method === 'bulkWrite')
          for (const op of args[0] as Array<{ replaceOne?: { replacement: object } }>)
            bytes += sizeOf(op.replaceOne?.replacement);
        if (method === 'updateOne' || method === 'replaceOne') bytes += sizeOf(args[1]);
        refresherBytes.set(collection, (refresherBytes.get(collection) ?? 0) + bytes);
        return;
      }
      commands.set(key, (commands.get(key) ?? 0) + 1);
      if (collection === 'deliverybatches' && method === 'updateOne') {
        batchWrites += 1;
        batchWriteBytes += BSON.calculateObjectSize(args[1] as object);
      }
    });
    const worker = createWorker(deps);
    const ferretPid = ferretPidOf(world.dir);
    const ferretBefore = cpuSecondsOf(ferretPid);
    const selfBefore = process.cpuUsage();
    const started = performance.now();
    worker.start();
    const refresher = withRefresher
      ? new RollupRefresher(world.ctx.tracking.rollups, (error) => log(`refresh failed: ${String(error)}`))
      : null;
    refresher?.start();
    // --ferret-profile=FILE (with FERRETDB_DEBUG_ADDR set): a Go CPU profile of FerretDB over the dispatch.
    const ferretProfile = process.argv.find((a) => a.startsWith('--ferret-profile='))?.slice(17);
    const profiled =
      ferretProfile && process.env.FERRETDB_DEBUG_ADDR
        ? fetch(`http://${process.env.FERRETDB_DEBUG_ADDR}/debug/pprof/profile?seconds=${flag('ferret-profile-s', 10)}`)
            .then(async (response) => writeFileSync(ferretProfile, Buffer.from(await response.arrayBuffer())))
            .catch((error: unknown) => log(`FerretDB profile failed: ${String(error)}`))
        : null;
    // Done when the work list is empty (one entry per batch with work due; nothing else in this
    // world): a small collection. Counting the batches instead (a FerretDB scan of every batch
    // document each second) was a third of FerretDB's CPU in the window measured.
    // Through the driver's own collection, which mongoose's debug hook does not see: the
    // harness's polls are not the worker's commands (they were counted, more under load).
    const queue = mongoose.connection.db!.collection(QueueEntryModel.collection.collectionName);
    while ((await queue.countDocuments({})) > 0) await new Promise((r) => setTimeout(r, 500));
    const seconds = (performance.now() - started) / 1000;
    const ferretCpu = cpuSecondsOf(ferretPid) - ferretBefore;
    const used = process.cpuUsage(selfBefore);
    const selfCpu = (used.user + used.system) / 1e6;
    await refresher?.stop();
    mongoose.set('debug', false);
    await profiled;
    await worker.stop();
    const posts = world.doubles.received().length;
    const total = [...commands.values()].reduce((a, b) => a + b, 0);
    log(`dispatched ${groups} (${posts} robot posts) in ${seconds.toFixed(1)} s (${(groups / seconds).toFixed(0)}/s)`);
    log(
      `CPU: FerretDB ${ferretCpu.toFixed(1)} s (${((ferretCpu / groups) * 1000).toFixed(2)} ms per delivery), worker + doubles ${selfCpu.toFixed(1)} s (${((selfCpu / groups) * 1000).toFixed(2)} ms per delivery)`,
    );
    log(`worker commands: ${total} (${(total / groups).toFixed(2)} per delivery)`);
    for (const [key, n] of [...commands].sort((a, b) => b[1] - a[1]))
      log(`  ${key.padEnd(40)} ${String(n).padStart(7)}  ${(n / groups).toFixed(3)}/delivery`);
    if (withRefresher) {
      const refreshes = refresherCommands.get('rollupmarkers.deleteMany') ?? 0;
      log(`refresher: ${refreshes} refreshes that folded something`);
      for (const [key, n] of [...refresherCommands].sort((a, b) => b[1] - a[1]))
        log(`  ${key.padEnd(40)} ${String(n).padStart(7)}`);
      for (const [collection, bytes] of [...refresherBytes].sort((a, b) => b[1] - a[1]))
        log(
          `  written to ${collection.padEnd(28)} ${(bytes / 1024 / 1024).toFixed(2)} MB (${(bytes / groups / 1024).toFixed(2)} KB per delivery)`,
        );
      const days = await mongoose.connection.db!.collection('reachdays').find({}).toArray();
      for (const doc of days.sort((a, b) => BSON.calculateObjectSize(b) - BSON.calculateObjectSize(a)).slice(0, 4))
        log(`  day document ${String(doc._id).padEnd(24)} ${(BSON.calculateObjectSize(doc) / 1024).toFixed(1)} KB`);
    }
    log(
      `batch writes ${batchWrites}, ${(batchWriteBytes / 1024 / 1024).toFixed(1)} MB (${(batchWriteBytes / groups / 1024).toFixed(2)} KB per delivery)`,
    );
    process.stdout.write(
      `${JSON.stringify({ groups, batches: shape.length, dispatch_s: Number(seconds.toFixed(1)), commands_per_delivery: Number((total / groups).toFixed(2)), batch_write_kb_per_delivery: Number((batchWriteBytes / groups / 1024).toFixed(2)), ferret_cpu_ms_per_delivery: Number(((ferretCpu / groups) * 1000).toFixed(2)), worker_cpu_ms_per_delivery: Number(((selfCpu / groups) * 1000).toFixed(2)) })}\n`,
    );
  } finally {
    await world.close();
  }
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(`bench:fanout-cost failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });

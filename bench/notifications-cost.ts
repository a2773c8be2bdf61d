// node --import tsx bench/notifications-cost.ts --dir=/dev/shm/<copy of a bench:province world>/jingxun-province-<groups>-<campaigns> [--repeat=N] [--relist=1]
// The province campaign's 民警通知 (issue 25, eleventh session): the commands and wall time of
// - the whole list as the tenth session read it (every slot, then every step by `_id`: the
//   former `stepsOfCampaign`, rebuilt here from the same slots),
// - one page of 11 rows oldest first, the same newest first, one page deep into the list,
// - the per-kind counts (notifications/step-counts.ts),
// each repeated N times (p50/p99), back to back on the same world. The first open of a world
// written before the counts runs their backfill inside `prepareDatabase` (its time printed).
// Writes (the backfill): use a copy of the world.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { prepareDatabase } from '../src/context.js';
import { BackfillModel } from '../src/db/backfills.js';
import { mapLimit } from '../src/lib/concurrency.js';
import { NotificationStepModel, StepSlotModel } from '../src/notifications/model.js';
import { BACKFILL } from '../src/notifications/step-counts.js';
import { stepIdsOf } from '../src/notifications/step-list.js';
import { flag } from './proc.js';
import { openWorldCopy } from './world-copy.js';

const log = (line: string) => process.stdout.write(`[bench:notifications-cost] ${line}\n`);

async function main() {
  const repeat = flag('repeat', 20);
  const { dir, ctx, prepareMs, close } = await openWorldCopy({ monitorCommands: true });
  if (flag('relist', 0)) {
    // A world whose steps were inserted after its lists were marked built (the 3,000-group cache):
    // list them (notifications/step-list.ts `buildStepLists`) and count them again, as an upgrade does.
    await StepSlotModel.deleteOne({ _id: 'built' });
    await BackfillModel.deleteOne({ _id: BACKFILL });
    const started = performance.now();
    await prepareDatabase(ctx);
    log(`steps listed and counted again (--relist): prepareDatabase ${Math.round(performance.now() - started)} ms`);
  }
  const built = JSON.parse(readFileSync(join(dir, 'built.json'), 'utf8')) as { provinceCampaign: string };
  // The province campaign, or the campaign with the most steps when it has none (a smaller world).
  const perCampaign = new Map<string, number>();
  const cursor = NotificationStepModel.find({}, { campaignId: 1 }).lean<{ campaignId: string }[]>().cursor();
  for await (const step of cursor) perCampaign.set(step.campaignId, (perCampaign.get(step.campaignId) ?? 0) + 1);
  const most = [...perCampaign].sort((a, b) => b[1] - a[1])[0];
  const provinceCampaign = perCampaign.get(built.provinceCampaign)
    ? built.provinceCampaign
    : (most?.[0] ?? built.provinceCampaign);
  log(`${perCampaign.size} campaigns with steps; the most: ${most?.[1] ?? 0}`);
  let commands = 0;
  mongoose.connection.getClient().on('commandStarted', () => {
    commands++;
  });
  try {
    log(`prepareDatabase ${prepareMs} ms (includes the counts' backfill on a world's first open)`);
    const whole = async () => {
      const ids = await stepIdsOf(provinceCampaign);
      return mapLimit(ids, 8, (id) => NotificationStepModel.findById(id).lean());
    };
    const steps = (await whole()).filter(Boolean).length;
    log(
      `campaign ${provinceCampaign}${provinceCampaign === built.provinceCampaign ? ' (province)' : ''}: ${steps} steps`,
    );
    const probes: [string, () => Promise<unknown>][] = [
      ['whole list (tenth session)', whole],
      ['page of 11, oldest first', () => ctx.notifier.stepsOf(provinceCampaign, { sort: 'oldest', limit: 11 })],
      ['page of 11, newest first', () => ctx.notifier.stepsOf(provinceCampaign, { sort: 'newest', limit: 11 })],
      [
        'page of 11 after row 1000',
        () => ctx.notifier.stepsOf(provinceCampaign, { sort: 'oldest', cursor: 1000, limit: 11 }),
      ],
      ['counts (summary)', () => ctx.notifier.countsOf(provinceCampaign)],
    ];
    const result: Record<string, { commands: number; p50_ms: number; p99_ms: number }> = {};
    for (const [name, probe] of probes) {
      const times: number[] = [];
      let sent = 0;
      for (let i = 0; i < repeat; i++) {
        const before = commands;
        const started = performance.now();
        await probe();
        times.push(performance.now() - started);
        sent = commands - before;
      }
      times.sort((a, b) => a - b);
      const at = (q: number) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]!);
      result[name] = { commands: sent, p50_ms: at(0.5), p99_ms: at(0.99) };
      log(`${name}: ${sent} commands, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`);
    }
    log(`counts ${JSON.stringify(await ctx.notifier.countsOf(provinceCampaign))}`);
    process.stdout.write(`${JSON.stringify({ steps, prepareMs, ...result })}\n`);
  } finally {
    await close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

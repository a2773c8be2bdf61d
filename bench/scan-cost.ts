// node --import tsx bench/scan-cost.ts --dir=/dev/shm/<copy of a bench:province world>/jingxun-province-<groups>-<campaigns> [--others=N] [--stopped=M]
// The three operations the tenth session made bounded, on a month-old world, each with its wall
// time, FerretDB's CPU and its commands by shape (command, collection, filter keys):
// - a stop's watch-list part (`markCampaignWithdrawn`) of a campaign with M open entries while
//   N entries of other campaigns are open (synthetic WeCom entries listed through `watchTasks`,
//   as the ninth session's notifier probe did: the world's own open tasks have expired);
// - the notifier's `markTold` of a digest of 10 tasks of the world;
// - the scheduler's case-outcome intent sweep (`cases.sweepIntentsLeft`, once per full tick).
// Writes: use a copy of the world.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { ManualTaskModel } from '../src/channels/manual/model.js';
import { markCampaignWithdrawn, watchTasks } from '../src/channels/manual/watch.js';
import { flag } from './proc.js';
import { commandMeter } from './command-meter.js';
import { openWorldCopy } from './world-copy.js';

const log = (line: string) => process.stdout.write(`[bench:scan-cost] ${line}\n`);

async function main() {
  const others = flag('others', 10_000);
  const stopped = flag('stopped', 450);
  const { dir, ctx, ferretPid, prepareMs, close } = await openWorldCopy({ monitorCommands: true });
  const marker = JSON.parse(readFileSync(join(dir, 'built.json'), 'utf8')) as { provinceCampaign: string };
  try {
    log(`prepareDatabase ${prepareMs} ms`);
    const measure = commandMeter(ferretPid, log);

    // Open entries: N of other campaigns (WeCom customer groups, due in hours), M of the stopped campaign.
    const now = new Date();
    const entry = (campaign: string, i: number, officer: number) => ({
      id: `wecom:bench-${campaign.slice(-6)}-${i}`,
      kind: 'wecom' as const,
      reference: `${campaign}@${now.toISOString()}/bench-${i}`,
      regionPath: ['000000'],
      officerName: `群主${officer}`,
      officerPhone: `1590000${String(officer).padStart(4, '0')}`,
      createdAt: now,
      dueAt: new Date(now.getTime() + 5 * 3600_000),
    });
    const started = performance.now();
    const otherCampaigns = Array.from({ length: 50 }, () => new mongoose.Types.ObjectId().toHexString());
    for (let i = 0; i < others; i += 500)
      await watchTasks(
        Array.from({ length: Math.min(500, others - i) }, (_, j) =>
          entry(otherCampaigns[(i + j) % 50]!, i + j, (i + j) % 37),
        ),
      );
    const stop = marker.provinceCampaign;
    for (let i = 0; i < stopped; i += 500)
      await watchTasks(Array.from({ length: Math.min(500, stopped - i) }, (_, j) => entry(stop, i + j, (i + j) % 20)));
    log(`listed ${others} + ${stopped} open entries in ${Math.round(performance.now() - started)} ms`);

    await measure(`stop's watch part (${stopped} entries of the campaign, ${others} others)`, () =>
      markCampaignWithdrawn(stop, new Date()),
    );
    await measure('the same stop again', () => markCampaignWithdrawn(stop, new Date()));

    const ids = (await ManualTaskModel.find({}, { _id: 1 }).limit(10).lean()).map((t) => String(t._id));
    await measure('markTold of a 10-task digest', () => ctx.manualTasks.markTold(ids));
    await measure('markTold again', () => ctx.manualTasks.markTold(ids));

    for (let i = 1; i <= 3; i++) await measure(`case-outcome intent sweep #${i}`, () => ctx.cases.sweepIntentsLeft());
  } finally {
    await close();
  }
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(`bench:scan-cost failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });

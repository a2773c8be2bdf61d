// node --import tsx bench/withdraw-cost.ts --dir=/dev/shm/<copy of a bench:province world>/jingxun-province-<groups>-<campaigns>
// What a stop costs its officer tasks on a month-old world: `withdrawCampaignTasks` of the
// world's province campaign, of its county campaign, and the province campaign again (nothing
// left), each with its wall time, FerretDB's CPU and its commands by shape (command,
// collection, filter keys). Writes: use a copy of the world (the tasks are withdrawn).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { cpuSecondsOf } from './proc.js';
import { openWorldCopy } from './world-copy.js';

const log = (line: string) => process.stdout.write(`[bench:withdraw-cost] ${line}\n`);

async function main() {
  const world = await openWorldCopy({ monitorCommands: true });
  const { ctx, ferretPid } = world;
  try {
    const marker = JSON.parse(readFileSync(join(world.dir, 'built.json'), 'utf8')) as {
      provinceCampaign: string;
      countyCampaign: string;
    };
    log(`prepareDatabase ${world.prepareMs} ms`); // an older world's campaign lists are made there, once
    const shapes = new Map<string, number>();
    mongoose.connection.getClient().on('commandStarted', (event: CommandStartedEvent) => {
      const command = event.command as Record<string, unknown>;
      const filter = (command.filter ??
        command.query ??
        (command.updates as { q?: unknown }[] | undefined)?.[0]?.q ??
        null) as Record<string, unknown> | null;
      const key = `${event.commandName} ${String(command[event.commandName] ?? command.collection)} {${filter ? Object.keys(filter).join(',') : ''}}`;
      shapes.set(key, (shapes.get(key) ?? 0) + 1);
    });
    for (const [label, id] of [
      ['province campaign', marker.provinceCampaign],
      ['county campaign', marker.countyCampaign],
      ['province campaign again', marker.provinceCampaign],
    ] as const) {
      shapes.clear();
      const ferretBefore = cpuSecondsOf(ferretPid);
      const t = performance.now();
      const withdrawn = await ctx.manualTasks.withdrawCampaignTasks(id, 'cancelled');
      const ms = Math.round(performance.now() - t);
      const ferretMs = Math.round((cpuSecondsOf(ferretPid) - ferretBefore) * 1000);
      const total = [...shapes.values()].reduce((a, b) => a + b, 0);
      log(`${label} ${id}: ${withdrawn} withdrawn, ${ms} ms, FerretDB ${ferretMs} ms CPU, ${total} commands`);
      for (const [shape, n] of [...shapes].sort((a, b) => b[1] - a[1])) log(`  ${String(n).padStart(5)} × ${shape}`);
    }
  } finally {
    await world.close();
  }
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(`bench:withdraw-cost failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });

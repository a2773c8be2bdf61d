// node --import tsx bench/withdraw-cost.ts --dir=/dev/shm/<copy of a bench:province world>/jingxun-province-<groups>-<campaigns>
// What a stop costs its officer tasks on a month-old world: `withdrawCampaignTasks` of the
// world's province campaign, of its county campaign, and the province campaign again (nothing
// left), each with its wall time, FerretDB's CPU and its commands by shape (command,
// collection, filter keys). Writes: use a copy of the world (the tasks are withdrawn).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { loadConfig } from '../src/config.js';
import { createContext, prepareDatabase } from '../src/context.js';
import { connectDatabase } from '../src/db/connection.js';
import { startFerretDb } from '../src/db/ferretdb.js';
import { cpuSecondsOf, ferretPidOf } from './proc.js';

const log = (line: string) => process.stdout.write(`[bench:withdraw-cost] ${line}\n`);

async function main() {
  const dir = resolve(process.argv.find((a) => a.startsWith('--dir='))?.slice(6) ?? '');
  const marker = JSON.parse(readFileSync(join(dir, 'built.json'), 'utf8')) as {
    provinceCampaign: string;
    countyCampaign: string;
  };
  const ferret = await startFerretDb({ binary: resolve('.tools/bin/ferretdb'), dataDir: join(dir, 'db') });
  const uri = `${ferret.uri}/province`;
  const config = loadConfig({
    MONGODB_URI: uri,
    DATA_DIR: dir,
    ADMIN_PASSWORD: 'province-admin-password',
    CREDENTIALS_KEY: 'c'.repeat(64),
    OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
    LOG_LEVEL: 'silent',
  });
  const db = await connectDatabase(uri, { ferret: true, monitorCommands: true });
  const ctx = createContext(config, db);
  try {
    const started = performance.now();
    await prepareDatabase(ctx); // an older world's campaign lists are made here, once
    log(`prepareDatabase ${Math.round(performance.now() - started)} ms`);
    const ferretPid = ferretPidOf(dir);
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
    await db.close();
    await ferret.stop();
  }
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(`bench:withdraw-cost failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });

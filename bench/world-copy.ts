// A copy of a built bench:province world opened for a cost bench (bench/withdraw-cost.ts,
// bench/refresh-cost.ts, bench/scan-cost.ts): the copy named by `--dir=`, FerretDB started on its data, the app's
// context over it and the start-up steps run (an older world's one-time conversions are done
// here, timed apart). The cost benches write: point them at a copy, never at the cached world.
import { join, resolve } from 'node:path';
import { type Config, loadConfig } from '../src/config.js';
import { type Context, createContext, prepareDatabase } from '../src/context.js';
import { connectDatabase } from '../src/db/connection.js';
import { startFerretDb } from '../src/db/ferretdb.js';
import { ferretPidOf } from './proc.js';

export interface WorldCopy {
  /** The copy's directory (`--dir=`). */
  dir: string;
  config: Config;
  ctx: Context;
  /** The copy's FerretDB process, for its CPU (bench/proc.ts). */
  ferretPid: number;
  /** How long `prepareDatabase` took. */
  prepareMs: number;
  close(): Promise<void>;
}

/** Opens the world copy named by `--dir=`; `monitorCommands` lets a bench listen for every command. */
export async function openWorldCopy(options: { monitorCommands?: boolean } = {}): Promise<WorldCopy> {
  const dir = resolve(process.argv.find((a) => a.startsWith('--dir='))?.slice(6) ?? '');
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
  const db = await connectDatabase(uri, { ferret: true, monitorCommands: options.monitorCommands ?? false });
  const close = async () => {
    await db.close();
    await ferret.stop();
  };
  try {
    const ctx = createContext(config, db);
    const started = performance.now();
    await prepareDatabase(ctx);
    const prepareMs = Math.round(performance.now() - started);
    return { dir, config, ctx, ferretPid: ferretPidOf(join(dir, 'db')), prepareMs, close };
  } catch (error) {
    await close();
    throw error;
  }
}

// Connects mongoose to MONGODB_URI, or to the embedded FerretDB when it is unset.
import { join } from 'node:path';
import mongoose from 'mongoose';
import type { Config } from '../config.js';
import { startFerretDb } from './ferretdb.js';

export interface Database {
  uri: string;
  embedded: boolean;
  connection: mongoose.Connection;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export const EMBEDDED_DB_NAME = 'jingxun';

// Options that keep the same code valid on FerretDB and MongoDB: no retryable writes
// (FerretDB 1.x has no sessions for them), indexes created explicitly at start.
const CONNECT_OPTIONS: mongoose.ConnectOptions = {
  autoIndex: false,
  autoCreate: true,
  serverSelectionTimeoutMS: 10_000,
};

export interface ConnectOptions {
  /** The server is FerretDB (no retryable writes: it has no sessions for them). */
  ferret: boolean;
  /** Runs after disconnecting, e.g. to stop the embedded server. */
  onClose?: () => Promise<void>;
  /** The driver emits commandStarted/Succeeded events (tests count what a read sends). */
  monitorCommands?: boolean;
}

export async function connectDatabase(uri: string, options: ConnectOptions): Promise<Database> {
  mongoose.set('strictQuery', true);
  // Every query otherwise captures `new Error().stack` for a "query was already executed"
  // message; with source maps on (tsx) that was 3 % of a sending worker's CPU.
  mongoose.set('skipOriginalStackTraces', true);
  await mongoose.connect(uri, {
    ...CONNECT_OPTIONS,
    ...(options.ferret ? { retryWrites: false } : {}),
    ...(options.monitorCommands ? { monitorCommands: true } : {}),
  });
  const connection = mongoose.connection;
  return {
    uri,
    embedded: Boolean(options.onClose),
    connection,
    async ping() {
      try {
        await connection.db?.admin().command({ ping: 1 });
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await mongoose.disconnect();
      await options.onClose?.();
    },
  };
}

/** MONGODB_URI when set; otherwise starts the embedded FerretDB under DATA_DIR. */
export async function openDatabase(config: Config): Promise<Database> {
  if (config.mongodbUri) return connectDatabase(config.mongodbUri, { ferret: false });
  const ferret = await startFerretDb({ binary: config.ferretdbBin, dataDir: join(config.dataDir, 'db') });
  try {
    return await connectDatabase(`${ferret.uri}/${EMBEDDED_DB_NAME}`, { ferret: true, onClose: () => ferret.stop() });
  } catch (error) {
    await ferret.stop();
    throw error;
  }
}

/** Creates every registered model's indexes; run once at start, after all models load. */
export async function syncIndexes(connection: mongoose.Connection): Promise<void> {
  for (const name of connection.modelNames()) {
    await connection.model(name).createIndexes();
  }
}

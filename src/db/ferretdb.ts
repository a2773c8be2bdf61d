// The embedded default database: a FerretDB 1.24 child process (SQLite storage) on a free
// loopback port. Only db/ knows how the database is started.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';

export interface FerretDbOptions {
  binary: string;
  /** SQLite files live here; unset: in-memory storage (tests). */
  dataDir?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** A fixed port (a restart on the same address); default a free one. */
  port?: number;
  /** FerretDB's debug handler with Go's pprof (e.g. 127.0.0.1:8089), for profiling; default off. */
  debugAddr?: string;
}

export interface RunningFerretDb {
  uri: string;
  port: number;
  stop(): Promise<void>;
}

export class FerretDbMissing extends Error {
  constructor(binary: string) {
    super(
      `FerretDB binary not found at ${binary}. Run "npm start" (its set-up step builds it with Go), ` +
        'or set MONGODB_URI to a MongoDB server.',
    );
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A live FerretDB process with this pid (a zombie waiting to be reaped counts as gone). */
function isFerretRunning(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return cmdline.includes('ferretdb') && state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export class EmbeddedDatabaseInUse extends Error {
  constructor(dataDir: string, owner: number) {
    super(
      `The embedded database under ${dataDir} is in use by process ${owner}. Only one process may own it: ` +
        'to run several role processes (--role=api|scheduler|worker) against one database, set MONGODB_URI ' +
        'to a MongoDB (or a separately started FerretDB) that all of them connect to.',
    );
  }
}

/** A running process (a zombie — killed, not yet reaped by its parent — owns nothing). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc (not Linux): believe kill(0)
  }
}

// The pid file holds "<ferretdb pid> <owner pid>". A parent killed with SIGKILL cannot stop
// its child, so the next start stops that orphan before it opens the same SQLite files; but
// a FerretDB whose owner is alive belongs to another running process: refuse, never kill it.
async function stopOrphan(pidFile: string, dataDir: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const [pid, owner] = readFileSync(pidFile, 'utf8').trim().split(/\s+/).map(Number);
  if (!pid || !Number.isInteger(pid) || pid <= 0 || !isFerretRunning(pid)) {
    rmSync(pidFile, { force: true });
    return;
  }
  if (owner && owner !== process.pid && processAlive(owner)) throw new EmbeddedDatabaseInUse(dataDir, owner);
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; isFerretRunning(pid); waited += 50) {
    if (waited === 5000) process.kill(pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  rmSync(pidFile, { force: true });
}

async function waitForPing(uri: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`FerretDB exited with code ${child.exitCode} before it was ready:\n${output()}`);
    }
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 500, directConnection: true });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.close().catch(() => undefined);
    }
  }
  throw new Error(`FerretDB did not answer ping within 30 s:\n${output()}`);
}

export async function startFerretDb(options: FerretDbOptions): Promise<RunningFerretDb> {
  if (!existsSync(options.binary)) throw new FerretDbMissing(options.binary);
  const stateDir = options.dataDir ?? join(process.cwd(), '.tools', 'ferretdb-state');
  mkdirSync(stateDir, { recursive: true });
  const pidFile = options.dataDir ? join(options.dataDir, 'ferretdb.pid') : undefined;
  if (pidFile) await stopOrphan(pidFile, options.dataDir!);

  const port = options.port ?? (await freePort());
  const sqliteUrl = options.dataDir ? `file:${options.dataDir}/` : 'file:./?mode=memory';
  const child = spawn(
    options.binary,
    [
      '--handler=sqlite',
      `--sqlite-url=${sqliteUrl}`,
      `--listen-addr=127.0.0.1:${port}`,
      `--debug-addr=${options.debugAddr ?? '-'}`,
      '--telemetry=disable',
      `--state-dir=${stateDir}`,
      `--log-level=${options.logLevel ?? 'error'}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: stateDir },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  if (pidFile && child.pid) writeFileSync(pidFile, `${child.pid} ${process.pid}`);

  const uri = `mongodb://127.0.0.1:${port}`;
  try {
    await waitForPing(uri, child, () => output);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    uri,
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (pidFile) rmSync(pidFile, { force: true });
    },
  };
}

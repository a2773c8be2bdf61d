// The real entry point as a newcomer runs it: a child process on the embedded FerretDB,
// stopped with a signal, started again on the same data directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/db/ferretdb.js';

// The same command line as `npm start`: one node process with tsx as a loader.
const NODE_ARGS = ['--import', 'tsx', 'src/main.ts'];

interface Running {
  child: ChildProcess;
  output: () => string;
  base: string;
}

async function startService(dataDir: string, env: Record<string, string> = {}): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, NODE_ARGS, {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`service exited: ${output}`);
    const ok = await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, output: () => output, base };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`service did not become ready: ${output}`);
}

/** The pid file holds "<ferretdb pid> <owner pid>". */
function ferretPidOf(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'db', 'ferretdb.pid'), 'utf8').trim().split(/\s+/)[0]);
}

async function stopService(running: Running, signal: NodeJS.Signals): Promise<number | null> {
  const exited = new Promise<number | null>((r) => running.child.once('exit', (code) => r(code)));
  running.child.kill(signal);
  return exited;
}

/** Running, and not a zombie waiting for a parent to reap it. */
function isAlive(pid: number): boolean {
  try {
    return !/^[ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '');
  } catch {
    return false;
  }
}

async function post(base: string, path: string, body: unknown, token?: string) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

describe('the service process on its embedded database', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'jingxun-process-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts with nothing configured, serves health, stops cleanly, and keeps its data across a restart', async () => {
    const first = await startService(dataDir);
    expect((await fetch(`${first.base}/healthz`)).status).toBe(200);
    expect((await fetch(`${first.base}/readyz`)).status).toBe(200);

    const printed = /密码 {3}password: (\S+)/.exec(first.output());
    expect(printed, first.output()).not.toBeNull();
    const password = printed![1]!;
    const firstLogin = await post(first.base, '/api/auth/login', { username: 'admin', password });
    expect(firstLogin.status).toBe(200);
    // A generated password must be replaced before anything else (the console asks at once).
    const changed = await post(
      first.base,
      '/api/auth/password',
      { currentPassword: password, newPassword: 'a-new-admin-password' },
      firstLogin.body.token,
    );
    expect(changed.status, JSON.stringify(changed.body)).toBeLessThan(300);
    const login = await post(first.base, '/api/auth/login', { username: 'admin', password: 'a-new-admin-password' });
    expect(login.status).toBe(200);
    const region = await post(
      first.base,
      '/api/regions',
      { code: '330000', name: '浙江省', parentCode: '000000' },
      login.body.token,
    );
    expect(region.status).toBe(201);

    const ferretPid = ferretPidOf(dataDir);
    expect(isAlive(ferretPid)).toBe(true);
    expect(await stopService(first, 'SIGTERM')).toBe(0);
    expect(isAlive(ferretPid)).toBe(false);
    expect(existsSync(join(dataDir, 'db', 'ferretdb.pid'))).toBe(false);

    const second = await startService(dataDir);
    try {
      expect(second.output()).not.toContain(password);
      expect(second.output()).not.toContain('password:');
      const again = await post(second.base, '/api/auth/login', { username: 'admin', password: 'a-new-admin-password' });
      expect(again.status).toBe(200);
      const kept = await fetch(`${second.base}/api/regions/330000`, {
        headers: { authorization: `Bearer ${again.body.token}` },
      });
      expect((await kept.json()).name).toBe('浙江省');
    } finally {
      expect(await stopService(second, 'SIGINT')).toBe(0);
    }
  }, 120_000);

  it('stops a FerretDB left behind by a killed service before starting its own', async () => {
    const killed = await startService(dataDir);
    const orphan = ferretPidOf(dataDir);
    await stopService(killed, 'SIGKILL');
    expect(isAlive(orphan)).toBe(true);
    const next = await startService(dataDir);
    try {
      expect(isAlive(orphan)).toBe(false);
    } finally {
      await stopService(next, 'SIGTERM');
    }
  }, 120_000);

  it('refuses to start with a bad variable and names it', async () => {
    const child = spawn(process.execPath, NODE_ARGS, {
      env: { PATH: process.env.PATH, DATA_DIR: dataDir, PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr!.on('data', (chunk) => (output += chunk));
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(output).toContain('PORT');
  });
});

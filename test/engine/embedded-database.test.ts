// One process owns the embedded FerretDB; a second one on the same files is refused with a
// message naming MONGODB_URI, and the first keeps running (it used to be killed as an orphan).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { startFerretDb } from '../../src/db/ferretdb.js';

const binary = process.env.FERRETDB_BIN ?? resolve('.tools/bin/ferretdb');

describe('the embedded database and several processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jingxun-embedded-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a second owner of the embedded database, naming MONGODB_URI, and leaves the first running', async () => {
    const first = await startFerretDb({ binary, dataDir: dir });
    try {
      // The pid file as another live process (a child that stays alive) would have written it.
      const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
      const [ferretPid] = readFileSync(join(dir, 'ferretdb.pid'), 'utf8').split(' ');
      writeFileSync(join(dir, 'ferretdb.pid'), `${ferretPid} ${other.pid}`);
      try {
        await expect(startFerretDb({ binary, dataDir: dir })).rejects.toThrow(/MONGODB_URI/);
      } finally {
        other.kill('SIGKILL');
      }
      const client = new MongoClient(first.uri, { directConnection: true, serverSelectionTimeoutMS: 2000 });
      await client.connect();
      expect((await client.db('admin').command({ ping: 1 })).ok).toBe(1);
      await client.close();
    } finally {
      await first.stop();
    }
  });
});

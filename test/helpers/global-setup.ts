// One database server for the whole run: MONGODB_URI when set (real MongoDB), otherwise a
// FerretDB on SQLite files in a scratch directory (RAM-backed /dev/shm where there is one).
// Its in-memory mode is not used: there an update never returns (SQLite's shared-cache
// locking). Each test file then uses a database of its own.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startFerretDb } from '../../src/db/ferretdb.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoServerUri: string;
    mongoIsFerret: boolean;
  }
}

export default async function setup(project: TestProject) {
  const external = process.env.MONGODB_URI;
  if (external) {
    project.provide('mongoServerUri', external);
    project.provide('mongoIsFerret', false);
    return;
  }
  const scratch = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'jingxun-test-db-'));
  const ferret = await startFerretDb({
    binary: process.env.FERRETDB_BIN ?? resolve('.tools/bin/ferretdb'),
    dataDir: scratch,
  });
  project.provide('mongoServerUri', ferret.uri);
  project.provide('mongoIsFerret', true);
  return async () => {
    await ferret.stop();
    rmSync(scratch, { recursive: true, force: true });
  };
}

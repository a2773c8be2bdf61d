#!/usr/bin/env node
// Brings a fresh clone to a runnable state; runs before `npm start` and `npm test`.
// Plain Node (no dependencies) because it runs before `npm ci`.
//   0. Node.js 24 LTS into .tools/node when the system's node is older (scripts/node.sh runs
//      the service and the tests with it); the official binary from the npm registry
//   1. npm packages, when node_modules is missing or older than package-lock.json
//   2. FerretDB 1.24 (embedded database) into .tools/bin, unless MONGODB_URI is set
//   3. with --for-tests: Debian's chromium for browser tests
//   4. with --fuzz (npm run fuzz): Schemathesis from PyPI in a venv under .tools/fuzz-venv
//   4. the web console (console/ → console/dist) when its sources changed (scripts/build-console.mjs)
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureConsole } from './build-console.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const forTests = process.argv.includes('--for-tests');
const forFuzz = process.argv.includes('--fuzz');
const FERRETDB_VERSION = '1.24.2';
const ferretBin = process.env.FERRETDB_BIN || join(root, '.tools', 'bin', 'ferretdb');

const step = (msg) => console.log(`[setup] ${msg}`);

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
  }
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// The runtime: Node.js 24 LTS. An older system node (20 reached its end of life on
// 2026-04-30) only launches npm and this script; the registry's `node-<platform>-<arch>`
// package is the official build (its bin/node), pinned and checked against the registry's
// sha512 before it is unpacked. Keep NODE_LTS's major in step with scripts/node.sh.
const NODE_LTS = '24.22.3';
const NODE_MAJOR = Number(NODE_LTS.split('.')[0]);
const nodeHome = join(root, '.tools', 'node');
const nodeBin = join(nodeHome, 'bin', 'node');

function nodeVersionOf(bin) {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : null;
}

async function ensureNode() {
  if (Number(process.versions.node.split('.')[0]) >= NODE_MAJOR) return;
  if (nodeVersionOf(nodeBin) === `v${NODE_LTS}`) return;
  const pkg = `node-${process.platform}-${process.arch}@${NODE_LTS}`;
  step(`system Node.js ${process.version} is older than ${NODE_MAJOR}: fetching Node.js ${NODE_LTS} (${pkg}) into .tools/node…`);
  const dist = JSON.parse(
    execFileSync('npm', ['view', pkg, 'dist', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  if (!dist?.tarball || !dist.integrity?.startsWith('sha512-')) throw new Error(`npm view ${pkg}: no tarball or sha512`);
  const response = await fetch(dist.tarball);
  if (!response.ok || !response.body) throw new Error(`${dist.tarball}: HTTP ${response.status}`);
  const total = Number(response.headers.get('content-length')) || 0;
  const chunks = [];
  const hash = createHash('sha512');
  let got = 0;
  let shown = -1;
  for await (const chunk of response.body) {
    chunks.push(chunk);
    hash.update(chunk);
    got += chunk.length;
    const mb = Math.floor(got / 1048576);
    if (mb !== shown && (mb % 5 === 0 || got === total)) {
      shown = mb;
      const of = total ? ` of ${(total / 1048576).toFixed(0)} MB (${Math.floor((got / total) * 100)}%)` : ' MB';
      step(`  downloaded ${mb}${of}`);
    }
  }
  if (`sha512-${hash.digest('base64')}` !== dist.integrity) throw new Error(`${dist.tarball}: sha512 does not match the registry's`);
  mkdirSync(join(root, '.tools'), { recursive: true });
  const work = mkdtempSync(join(root, '.tools', 'node-download-'));
  try {
    const tgz = join(work, 'node.tgz');
    writeFileSync(tgz, Buffer.concat(chunks));
    run('tar', ['-xzf', tgz, '-C', work, 'package/bin/node']);
    const unpacked = join(work, 'package', 'bin', 'node');
    if (nodeVersionOf(unpacked) !== `v${NODE_LTS}`) throw new Error(`the unpacked ${pkg} does not run here`);
    mkdirSync(join(nodeHome, 'bin'), { recursive: true });
    renameSync(unpacked, nodeBin);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  step(`Node.js ${NODE_LTS} ready at ${nodeBin}`);
}

// npm and the packages' install steps run on the LTS too (some packages need >= 22.12).
function withLtsPath() {
  if (!existsSync(nodeBin) || Number(process.versions.node.split('.')[0]) >= NODE_MAJOR) return process.env;
  return { ...process.env, PATH: `${dirname(nodeBin)}:${process.env.PATH ?? ''}` };
}

// Whether node_modules holds what package-lock.json asks for: by versions, not by file times
// (a checkout or a merge makes the lock newer without changing a package).
function installMatchesLock(marker, lock) {
  if (statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return true;
  try {
    const want = JSON.parse(readFileSync(lock, 'utf8')).packages ?? {};
    const have = JSON.parse(readFileSync(marker, 'utf8')).packages ?? {};
    return Object.entries(want).every(
      ([path, pkg]) => path === '' || pkg.optional || pkg.link || have[path]?.version === pkg.version,
    );
  } catch {
    return false;
  }
}

function ensureNodeModules() {
  const dir = join(root, 'node_modules');
  const marker = join(dir, '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && installMatchesLock(marker, lock)) return;
  // A node_modules that is a link to a shared install (git worktrees) is never reinstalled
  // through the link: npm ci would first empty the folder every other checkout uses.
  if (existsSync(dir) && lstatSync(dir).isSymbolicLink()) {
    step('warning: node_modules links to a shared install that differs from package-lock.json; not reinstalling it');
    return;
  }
  step('installing npm packages (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund'], { env: withLtsPath() });
}

// Source fixes applied before building (docs/ferretdb.md). FerretDB 1.24's SQLite backend
// creates its _id index on `_ferretdb_sjson->"_id"` but looks documents up by
// `_ferretdb_sjson->'$._id'`; SQLite only uses an expression index for the same expression,
// so every find, update and delete by _id scanned the whole table (upstream #2340, #4646).
// Written the index's way, the same lookups use the index; results are unchanged.
const FERRETDB_PATCHES = [
  {
    id: 'sqlite-id-index',
    file: 'internal/backends/sqlite/metadata/metadata.go',
    from: `IDColumn = DefaultColumn + "->'$._id'"`,
    to: `IDColumn = DefaultColumn + "->'_id'"`,
  },
  {
    // The backend looks a document up by _id only when the filter is `{_id}` alone; with any
    // other condition beside it (`{_id, 'lease.epoch': {$lte: n}}`) it read the whole table.
    // Every caller filters the documents it gets back by the whole filter again, so taking
    // the one row with that _id first returns the same result.
    id: 'sqlite-id-pushdown-with-conditions',
    file: 'internal/backends/sqlite/collection.go',
    from: 'if params.Filter.Len() == 1 {',
    to: 'if params.Filter.Len() > 0 && params.Filter.Has("_id") {',
  },
];
const patchStamp = `${ferretBin}.patches`;
const patchIds = FERRETDB_PATCHES.map((p) => p.id).join(',');

function applyFerretPatches(src) {
  for (const patch of FERRETDB_PATCHES) {
    const file = join(src, patch.file);
    const text = readFileSync(file, 'utf8');
    if (!text.includes(patch.from))
      throw new Error(`FerretDB patch ${patch.id}: "${patch.from}" not found in ${patch.file}`);
    writeFileSync(file, text.replaceAll(patch.from, patch.to));
    step(`  patched ${patch.file} (${patch.id})`);
  }
}

function ferretInstalled() {
  if (!existsSync(ferretBin)) return false;
  // A custom FERRETDB_BIN is the operator's own build: take it as it is.
  if (!process.env.FERRETDB_BIN && (!existsSync(patchStamp) || readFileSync(patchStamp, 'utf8').trim() !== patchIds))
    return false;
  const out = spawnSync(ferretBin, ['--version'], { encoding: 'utf8' });
  return out.status === 0 && out.stdout.includes(`v${FERRETDB_VERSION}`);
}

// `go install …@v1.24.2` builds a binary that panics at start (its version.txt is
// generated in FerretDB's own release process), so build from a copy of the module
// source with that file written.
function ensureFerretDb() {
  if (process.env.MONGODB_URI) return;
  if (ferretInstalled()) return;
  if (!has('go')) {
    throw new Error(
      'FerretDB (the embedded database) is not installed and Go (>= 1.24) was not found to build it.\n' +
        'Install Go, or set MONGODB_URI to a MongoDB server (see .env.example).',
    );
  }
  step(`building FerretDB ${FERRETDB_VERSION} with Go (first run only; a few minutes on 2 cores)…`);
  step('  downloading module source from the Go module proxy…');
  const info = JSON.parse(
    execFileSync('go', ['mod', 'download', '-json', `github.com/FerretDB/FerretDB@v${FERRETDB_VERSION}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const src = join(root, '.tools', 'src', 'ferretdb');
  rmSync(src, { recursive: true, force: true });
  mkdirSync(dirname(src), { recursive: true });
  cpSync(info.Dir, src, { recursive: true });
  run('chmod', ['-R', 'u+w', src]);
  writeFileSync(join(src, 'build', 'version', 'version.txt'), `v${FERRETDB_VERSION}\n`);
  applyFerretPatches(src);
  step('  compiling (go build ./cmd/ferretdb)…');
  mkdirSync(dirname(ferretBin), { recursive: true });
  run('go', ['build', '-o', ferretBin, './cmd/ferretdb'], { cwd: src });
  chmodSync(ferretBin, 0o755);
  writeFileSync(patchStamp, `${patchIds}\n`);
  if (!ferretInstalled()) throw new Error(`FerretDB build finished but ${ferretBin} does not run`);
  step(`FerretDB ready at ${ferretBin}`);
}

function ensureChromium() {
  if (existsSync('/usr/bin/chromium')) return;
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    step("warning: /usr/bin/chromium is missing; browser tests need Debian's chromium package");
    return;
  }
  step('installing Debian chromium for browser tests (apt-get)…');
  run('apt-get', ['update', '-q']);
  run('apt-get', ['install', '-y', '-q', 'chromium'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

// Pinned: a new Schemathesis release adds checks, and a fuzz run should fail only when the
// API changed. Only `npm run fuzz` asks for it; `npm start` and `npm test` never wait for pip.
const SCHEMATHESIS_VERSION = '4.32.5';

function ensureFuzzVenv() {
  const venv = join(root, '.tools', 'fuzz-venv');
  const bin = join(venv, 'bin', 'schemathesis');
  if (existsSync(bin)) {
    const out = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (out.status === 0 && out.stdout.includes(SCHEMATHESIS_VERSION)) return;
  }
  const python = ['python3', 'python'].find(has);
  if (!python) throw new Error('npm run fuzz needs Python 3.9+ (python3) to install Schemathesis');
  step(`installing Schemathesis ${SCHEMATHESIS_VERSION} into .tools/fuzz-venv (first fuzz run only)…`);
  step('  creating the virtual environment…');
  run(python, ['-m', 'venv', venv]);
  step('  pip install (about a minute)…');
  run(join(venv, 'bin', 'pip'), [
    'install',
    '--disable-pip-version-check',
    '--progress-bar',
    'on',
    `schemathesis==${SCHEMATHESIS_VERSION}`,
  ]);
  step(`Schemathesis ready at ${bin}`);
}

try {
  await ensureNode();
  ensureNodeModules();
  ensureFerretDb();
  if (forTests) ensureChromium();
  if (forFuzz) ensureFuzzVenv();
  ensureConsole({ log: step });
} catch (error) {
  console.error(`[setup] ${error.message}`);
  process.exit(1);
}

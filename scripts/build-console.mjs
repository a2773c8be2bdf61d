#!/usr/bin/env node
// Builds the web console (console/ → console/dist) with the project's own Vite, only when
// console/ or package-lock.json changed since the stamp the last build left. Run by
// scripts/setup.mjs (so `npm start` and `npm test`), by the browser tests' set-up, and by
// hand: `node scripts/build-console.mjs [--force]`. Plain Node, no dependencies.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// The first load (index.html's script and the modules it preloads) must stay under this,
// gzipped: police intranets are slow, and each screen brings its own code.
export const CONSOLE_FIRST_LOAD_MAX_BYTES = 1024 * 1024;

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of readdirSync(path)) {
    if (name === 'dist' || name === 'node_modules' || name === '.generated') continue;
    newest = Math.max(newest, newestMtime(join(path, name)));
  }
  return newest;
}

/** Gzipped bytes of the JavaScript a browser fetches before the first screen shows. */
export function consoleFirstLoadBytes(dist) {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = new Set();
  for (const match of html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="([^"]+\.js)"/g)) {
    files.add(match[1]);
  }
  let total = 0;
  for (const file of files) total += gzipSync(readFileSync(join(dist, file.replace(/^\//, '')))).length;
  return { total, files: files.size };
}

// The console shows Chinese on machines without a CJK system font (a bare Debian chromium)
// with the project's own WenQuanYi Micro Hei. Browsers take single fonts, not the .ttc
// collection media/fonts ships, so its first font (the regular face) is copied out into a
// standalone .ttf: the offset table and the table records of that font, tables re-placed.
const FONT_COLLECTION = join(root, 'media', 'fonts', 'wqy-microhei.ttc');
export const CONSOLE_FONT = join(root, 'console', '.generated', 'wqy-microhei.ttf');

export function extractFirstFont(collection) {
  if (collection.toString('latin1', 0, 4) !== 'ttcf') throw new Error('not a TrueType collection');
  const start = collection.readUInt32BE(12);
  const numTables = collection.readUInt16BE(start + 4);
  const tables = [];
  for (let i = 0; i < numTables; i++) {
    const record = start + 12 + i * 16;
    tables.push({
      tag: collection.subarray(record, record + 4),
      checksum: collection.readUInt32BE(record + 4),
      data: collection.subarray(collection.readUInt32BE(record + 8), collection.readUInt32BE(record + 8) + collection.readUInt32BE(record + 12)),
    });
  }
  const headerSize = 12 + numTables * 16;
  const size = tables.reduce((sum, t) => sum + Math.ceil(t.data.length / 4) * 4, headerSize);
  const out = Buffer.alloc(size);
  collection.copy(out, 0, start, start + 12); // sfnt version, numTables, search fields
  let offset = headerSize;
  tables.forEach((table, i) => {
    const record = 12 + i * 16;
    table.tag.copy(out, record);
    out.writeUInt32BE(table.checksum, record + 4);
    out.writeUInt32BE(offset, record + 8);
    out.writeUInt32BE(table.data.length, record + 12);
    table.data.copy(out, offset);
    offset += Math.ceil(table.data.length / 4) * 4;
  });
  return out;
}

function ensureConsoleFont() {
  if (existsSync(CONSOLE_FONT) && statSync(CONSOLE_FONT).mtimeMs >= statSync(FONT_COLLECTION).mtimeMs) return;
  mkdirSync(dirname(CONSOLE_FONT), { recursive: true });
  writeFileSync(CONSOLE_FONT, extractFirstFont(readFileSync(FONT_COLLECTION)));
}

/** True when console/dist is missing or older than its sources. */
export function consoleIsStale() {
  const source = join(root, 'console');
  const stamp = join(source, 'dist', '.build-stamp');
  if (!existsSync(stamp) || !existsSync(join(source, 'dist', 'index.html'))) return true;
  const newest = Math.max(newestMtime(source), statSync(join(root, 'package-lock.json')).mtimeMs);
  return statSync(stamp).mtimeMs < newest;
}

export function ensureConsole({ force = false, log = (msg) => console.log(`[setup] ${msg}`) } = {}) {
  ensureConsoleFont();
  if (!force && !consoleIsStale()) return;
  const dist = join(root, 'console', 'dist');
  log('building the web console (vite build console/)…');
  const started = Date.now();
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', 'console/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error(`vite build failed (exit ${result.status ?? result.signal})`);
  const { total, files } = consoleFirstLoadBytes(dist);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  log(
    `  console built in ${seconds} s; first load ${(total / 1024).toFixed(1)} KB of JavaScript gzipped ` +
      `(${files} files; limit ${CONSOLE_FIRST_LOAD_MAX_BYTES / 1024} KB)`,
  );
  if (total > CONSOLE_FIRST_LOAD_MAX_BYTES) {
    throw new Error(`the console's first load is ${total} bytes gzipped, over ${CONSOLE_FIRST_LOAD_MAX_BYTES}: split it by route`);
  }
  writeFileSync(join(dist, '.build-stamp'), `${new Date().toISOString()}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    ensureConsole({ force: process.argv.includes('--force') });
  } catch (error) {
    console.error(`[build-console] ${error.message}`);
    process.exit(1);
  }
}

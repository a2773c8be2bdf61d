#!/usr/bin/env node
// npm run check: the static checks, side by side. Each is one CPU-bound process, and run one
// after another they left the second core idle (tsc 22 s of CPU, vue-tsc 20 s, api:types 5 s,
// depcruise 4 s, biome 2 s on the 2-core machine). The chains run at once; within a chain the
// steps keep their order: vue-tsc reads the console's API types that api:types writes.
// Each step's output is printed whole when it ends (not interleaved with the others'); the
// exit code is non-zero when any step failed, and every step runs to its end either way, so
// one run reports every kind of fault. Plain Node: no dependency of its own.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Chains, the longest first (they start in this order). */
const CHAINS = [
  ['npm run --silent api:types', 'vue-tsc --noEmit -p console/tsconfig.json'],
  ['tsc --noEmit'],
  ['depcruise src --config .dependency-cruiser.cjs'],
  ['biome lint src test scripts bench console/src'],
];

function step(command) {
  return new Promise((done) => {
    const started = Date.now();
    // npm puts node_modules/.bin first on PATH for `npm run check`; sh finds the tools there.
    const child = spawn('sh', ['-c', command], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code, signal) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const ok = code === 0;
      process.stdout.write(
        `[check] ${ok ? 'ok  ' : 'FAIL'} ${command} (${seconds} s)${ok ? '' : ` exit ${code ?? signal}`}\n`,
      );
      if (output.trim()) process.stdout.write(`${output.replace(/\s+$/, '')}\n`);
      done(ok);
    });
  });
}

async function chain(commands) {
  for (const command of commands) {
    if (!(await step(command))) return false;
  }
  return true;
}

const results = await Promise.all(CHAINS.map(chain));
if (results.includes(false)) {
  process.stdout.write('[check] failed\n');
  process.exit(1);
}

// Regenerates the screenshots of the console's part-2 screens under docs/console/
// (1440×900; the officer's task page and the residents' page at 390×844). The browser test
// test/console/part2.test.ts drives every screen against the real service; with
// CONSOLE_SCREENSHOTS=1 it also writes each screen it checked. Usage:
//   node scripts/console-screenshots-part2.mjs
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const result = spawnSync('npx', ['vitest', 'run', 'test/console/part2.test.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, CONSOLE_SCREENSHOTS: '1' },
});
process.exit(result.status ?? 1);

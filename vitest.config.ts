import { defineConfig } from 'vitest/config';
import SlowFirstSequencer from './test/helpers/sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/reliability (real processes, ~3 minutes) runs with the rest; `npm run test:reliability` runs only it.
    exclude: ['**/node_modules/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // In each file's process: passwords hashed at a test cost (test/helpers/setup.ts).
    setupFiles: ['test/helpers/setup.ts'],
    pool: 'forks',
    // Three on the CI machine's two cores: a fifth of the files' time is waiting (docs/testing.md).
    maxWorkers: 3,
    // Longest first, so the workers end together (test/helpers/sequencer.ts, docs/testing.md).
    sequence: { sequencer: SlowFirstSequencer },
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});

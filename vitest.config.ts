import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real-process reliability scenarios run with `npm run test:reliability` (not yet stable
    // enough on a loaded 2-core machine to gate CI; see README).
    exclude: process.env.JINGXUN_RELIABILITY ? ['**/node_modules/**'] : ['**/node_modules/**', 'test/reliability/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});

// The scheduler's memory (issue 25): what set its peak RSS at 50,000 groups was garbage
// promoted into the old generation (each chunk of groups outlives a few young collections
// while its batches are written), left there until V8's growing factor (up to 4x the live
// size on a large machine) was reached. A planning process bounds that factor
// (engine/memory.ts): its old generation is collected at ~1.5x what is live.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** The fixture in a fresh node, the maximum heap pinned at 4 GB (V8's factor is then 4 on any machine). */
async function oldGeneration(bound: boolean): Promise<{ peak: number; live: number }> {
  const { stdout } = await run(
    process.execPath,
    [
      '--expose-gc',
      '--max-semi-space-size=16',
      '--max-old-space-size=4096',
      '--import',
      'tsx',
      resolve('test/engine/fixtures/promoted-garbage.mjs'),
    ],
    {
      env: { ...process.env, MEMORY_MODULE: resolve('src/engine/memory.ts'), BOUND: bound ? '1' : '' },
      timeout: 120_000,
    },
  );
  return JSON.parse(stdout) as { peak: number; live: number };
}

describe('a planning process old generation', () => {
  it('is collected within a small multiple of its live size, not at four times it', async () => {
    const bounded = await oldGeneration(true);
    // Factor 1.5, plus the chunks still held and the collector's own lag.
    expect(bounded.peak).toBeLessThan(3 * bounded.live);
    // The same process without the bound: the old generation grows well past it.
    const unbounded = await oldGeneration(false);
    expect(unbounded.peak).toBeGreaterThan(3.5 * unbounded.live);
  }, 240_000);
});

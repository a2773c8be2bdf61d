// The order in which the workers take the test files. Each worker takes the next file of one
// list when it finishes one, so the suite ends when the last of them is done: a long file
// started last keeps one worker busy minutes after the others ran out of files. Longest first
// keeps the ends together.
//
// With a result cache from an earlier run (node_modules/.vite/vitest/results.json) vitest's own
// order is that: longest first, by the durations it recorded. On a clean checkout (CI) there is
// no cache and vitest orders by file size, which starts the minutes-long real-process and
// browser files anywhere. Then the kinds known to be slow go first, by directory (not by file
// name, which would rot): real processes (test/reliability), then the browser (test/console),
// then the rest; by size within each.
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Directories of the slow kinds, slowest kind first. */
export const SLOW_FIRST = ['test/reliability/', 'test/console/'];

/** The file's place by kind: the index of its directory in SLOW_FIRST, then everything else. */
export function tier(path: string): number {
  const index = SLOW_FIRST.findIndex((dir) => path.startsWith(dir));
  return index === -1 ? SLOW_FIRST.length : index;
}

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const key = (spec: TestSpecification) => relative(this.ctx.config.root, spec.moduleId).replaceAll('\\', '/');
    const timed = sorted.every((spec) => this.ctx.cache.getFileTestResults(`${spec.project.name}:${key(spec)}`));
    if (timed) return sorted;
    // Array.prototype.sort is stable: within a kind, vitest's order (larger files first) stays.
    return sorted.sort((a, b) => tier(key(a)) - tier(key(b)));
  }
}

// How far V8 lets a process's old generation grow past what it holds live.
//
// Contract: `boundOldGeneration()` sets V8's heap growing factor for the rest of the process's
// life to 1 + HEAP_GROWING_PERCENT / 100: after each full collection the old generation may
// grow to that multiple of what survived it before the next full collection starts. Called
// once at the start of a process that plans (the scheduler role, and `all`).
//
// Why (measured at 50,000 groups, docs/scale.md *Fan-out*, seventh session): a planning
// scheduler holds ~60 MB live (regions, names, code) and its heap after a full collection
// stays there, but each chunk of groups read, built into batches and written outlives a few
// young-generation collections while its writes are awaited, so it is promoted and dies in
// the old generation. On a machine with a large memory V8 lets the old generation grow to
// up to four times the live size before collecting it (its growing factor is 4 when the heap
// may reach 1 GB or more): the scheduler's RSS peaked at 500-590 MB with less than 100 MB of
// it live. A factor of 1.5 collects that garbage earlier, for a full collection every few
// seconds of planning (marked concurrently; little of the old generation is live).
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;

export function boundOldGeneration(percent: number = HEAP_GROWING_PERCENT): void {
  v8.setFlagsFromString(`--heap-growing-percent=${Math.max(1, Math.round(percent))}`);
}

// One county's open tasks summed for the monthly table's 待民警转发 (issue 25, eleventh session):
// per run (`<campaignId>@<runAt ISO>`), the tasks' expiry times per township and per path
// below the county, computed once from a county document as the process holds it
// (channels/manual/kept-open-counts.ts) and kept with that array (a WeakMap on it: held arrays are
// replaced when the county is re-read, never changed), so a call sums a few groups per county
// instead of walking every open task (~36,000 for a province admin at 50,000 groups).
//
// Exactness: a summary is a pure function of the document's entries; the figures code applies
// what depends on the call (now, the months, the runs' withdrawal) per run and counts a group's
// tasks live at `now` from its sorted expiry times, as `KeptOpenCounts.rows` filters entries.
// Entries the document does not place (written before runs were kept, or on a county itself)
// are listed as they are and read by `_id` per call, as before.
import type { CountedRow } from '../channels/manual/kept-open-counts.js';
import type { CountValue } from '../channels/manual/open-counts.js';

/** Tasks of one run under one path below the county (or one township): expiry times ascending. */
export interface TaskGroup {
  /** The township: the task path's second last (the county itself for a path of one). */
  township: string;
  /** The path below the county, split (for a region below the county: `includes`). */
  tail: string[];
  expiries: number[];
}

export interface CountySummary {
  /** Per run: its tasks per township (for a whole county) and per path (for a region inside it). */
  runs: Map<string, { townships: TaskGroup[]; paths: TaskGroup[] }>;
  /** Entries without a run and path in the document: read by `_id` per call. */
  odd: CountedRow[];
}

const summaries = new WeakMap<readonly [string, CountValue][], CountySummary>();

function groupsOf(byKey: Map<string, TaskGroup>): TaskGroup[] {
  const groups = [...byKey.values()];
  for (const group of groups) group.expiries.sort((a, b) => a - b);
  return groups;
}

/** The summary of a county's held entries (computed once per held array). */
export function summaryOf(county: string, entries: readonly [string, CountValue][]): CountySummary {
  const kept = summaries.get(entries);
  if (kept) return kept;
  const runs = new Map<string, { townships: Map<string, TaskGroup>; paths: Map<string, TaskGroup> }>();
  const odd: CountedRow[] = [];
  for (const [id, value] of entries) {
    const tail = value[3];
    if (value.length < 5 || !tail) {
      odd.push({ id, county, value });
      continue;
    }
    const occurrence = value[4];
    // Not a run's task: never counted (open-tasks.ts `runOf`).
    if (!occurrence) continue;
    const run = runs.get(occurrence) ?? { townships: new Map(), paths: new Map() };
    runs.set(occurrence, run);
    let path = run.paths.get(tail);
    if (!path) {
      const parts = tail.split('/');
      // [country, province, city, county, …parts]: the township is the path's second last.
      path = { township: parts.length >= 2 ? parts[parts.length - 2]! : county, tail: parts, expiries: [] };
      run.paths.set(tail, path);
    }
    path.expiries.push(value[0]);
    const township = run.townships.get(path.township) ?? { township: path.township, tail: [], expiries: [] };
    run.townships.set(path.township, township);
    township.expiries.push(value[0]);
  }
  const summary: CountySummary = {
    runs: new Map(
      [...runs].map(([key, run]) => [key, { townships: groupsOf(run.townships), paths: groupsOf(run.paths) }]),
    ),
    odd,
  };
  summaries.set(entries, summary);
  return summary;
}

/** How many of the ascending expiry times lie after `at` (the tasks still open then). */
export function liveAfter(expiries: readonly number[], at: number): number {
  if (expiries.length === 0 || expiries[0]! > at) return expiries.length;
  let lo = 0;
  let hi = expiries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (expiries[mid]! > at) hi = mid;
    else lo = mid + 1;
  }
  return expiries.length - lo;
}

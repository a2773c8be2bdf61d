// The per-county open-task counts (channels/manual/open-counts.ts) kept in the process (issue
// 25): a province admin's workbench read one document per county on every call (84 at 50,000
// groups). Every count writer logs the counties it wrote on the counts' change log
// (db/versions.ts, COUNTS_LOG) after its write; a call reads the counts' token and, when it
// moved, the log's new records by `_id`, forgets the counties they name, and reads only the
// counties it needs that it does not hold. Expiry is applied when answering, as before.
//
// Exactness: the log position is read before any document it then reads, and a writer's record
// follows its document write, so a document read before a write is forgotten at the first call
// that reads the write's record. A writer killed between its count write and its record leaves
// its intent; the notifier's repair re-counts those counties and logs them. A record naming
// `*`, a pruned log or a missing token forgets every county. A write whose record waits for its
// process's flush (the worker's waves, up to FLUSH_MS) is heard of at once by the readers of
// that process (`onLocalCountWrite`): they forget its counties, and keep none read meanwhile.
//
// The open-task list (channels/manual/tasks.ts, open=true) and the monthly table's 待民警转发
// (tracking/open-tasks.ts) read the same kept documents through `newest` and `lists` (the
// table keeps a summary per held array, tracking/open-task-summary.ts), then only the tasks they
// show by `_id`: no read of the watch list.
//
// One instance per process (context.ts hands it to the workbench, the open list and the monthly
// table; eleventh session): the api role's warm-up at start reads the province's documents once
// for all three, and a county written is re-read once, not once per screen (the list's own copy
// was read whole by a province admin's first call: 75 documents, ~36,000 entries, 456 ms at
// 50,000 groups). Each county's entries are held newest first (expiresAt, then task id,
// descending; sorted once when read), so the list takes its page by merging the counties'
// heads (`newest`) instead of sorting every open task of the scope on every call.

import { ALL_IDS, changeLogEnd, changesSince, collectionVersion } from '../../db/versions.js';
import { mapLimit } from '../../lib/concurrency.js';
import { COUNTS_LOG, type CountedTask, type CountValue, OpenCountModel, onLocalCountWrite } from './open-counts.js';
import type { ScopeCounties } from './scope-counties.js';

/** One open task as its county's document holds it. */
export interface CountedRow {
  id: string;
  county: string;
  value: CountValue;
}

type Entries = [string, CountValue][];

/** What a call holds: each county's entries (newest first), and the region to keep inside one county. */
interface Held {
  lists: { county: string; entries: Entries }[];
  below?: string;
}

/** Newest first: later `expiresAt` (so later made), then the larger task id (the list's order). */
function newer(a: [string, CountValue], b: [string, CountValue]): boolean {
  return a[1][0] > b[1][0] || (a[1][0] === b[1][0] && a[0] > b[0]);
}

function newestFirst(entries: Entries): Entries {
  return entries.sort((a, b) => (newer(a, b) ? -1 : newer(b, a) ? 1 : 0));
}

/**
 * The counties' open entries newest first, merged lazily: each step compares the counties'
 * heads (expired entries end a county's list), so a page of k costs about k × counties
 * comparisons, not a sort of every open task. The lists are a snapshot (held arrays are
 * replaced when re-read, never changed), so a caller may walk it across its own awaits.
 */
function* mergeNewest({ lists, below }: Held, at: number): Generator<CountedRow> {
  const heads = lists.map(() => 0);
  for (;;) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      const entry = lists[i]!.entries[heads[i]!];
      if (!entry || entry[1][0] <= at) continue;
      if (best < 0 || newer(entry, lists[best]!.entries[heads[best]!]!)) best = i;
    }
    if (best < 0) return;
    const [id, value] = lists[best]!.entries[heads[best]!]!;
    heads[best]! += 1;
    if (below && !value[3].split('/').includes(below)) continue;
    yield { id, county: lists[best]!.county, value };
  }
}

export class KeptOpenCounts {
  private token: string | null = null;
  private seq = 0;
  /** Each county's entries, newest first (never changed once held: replaced or dropped). */
  private readonly docs = new Map<string, Entries>();
  /** Calls one after another (each may change what is held). */
  private turn: Promise<unknown> = Promise.resolve();
  /** Counties this process wrote since the call in progress began: not kept from its reads. */
  private readonly writtenHere = new Set<string>();

  constructor() {
    // A count write of this process (the worker's wave) logs its counties at its flush, up to
    // a second later; readers here forget those counties at once.
    onLocalCountWrite(this);
  }

  countsWritten(counties: readonly string[]): void {
    for (const county of counties) {
      this.docs.delete(county);
      this.writtenHere.add(county);
    }
  }

  /**
   * The open tasks (not past `expiresAt` at `now`) of the scope's counties; `below`: only under
   * that region. The counts' token is asked for at once, so it is read in one command with the
   * tallies' tokens (db/versions.ts).
   */
  async tasks(scope: Promise<ScopeCounties>, now: Date): Promise<CountedTask[]> {
    return (await this.rows(scope, now)).map(({ value }) => ({ officerPhone: value[1], officerName: value[2] }));
  }

  /** The same open tasks with their ids, counties and whole values. */
  async rows(scope: Promise<ScopeCounties>, now: Date): Promise<CountedRow[]> {
    const { lists, below } = await this.held(scope);
    const at = now.getTime();
    const rows: CountedRow[] = [];
    for (const { county, entries } of lists) {
      for (const [id, value] of entries) {
        if (value[0] <= at) continue;
        if (below && !value[3].split('/').includes(below)) continue;
        rows.push({ id, county, value });
      }
    }
    return rows;
  }

  /**
   * The scope's counties' held entries as they are (expired ones too; arrays never changed), for
   * a reader that keeps what it derives from each array (tracking/open-task-summary.ts).
   */
  async lists(scope: Promise<ScopeCounties>): Promise<{ county: string; entries: readonly [string, CountValue][] }[]> {
    return (await this.held(scope)).lists;
  }

  /** The same open tasks newest first (expiresAt, then id, descending), walked lazily (`mergeNewest`). */
  async newest(scope: Promise<ScopeCounties>, now: Date): Promise<Iterable<CountedRow>> {
    const held = await this.held(scope);
    return { [Symbol.iterator]: () => mergeNewest(held, now.getTime()) };
  }

  private held(scope: Promise<ScopeCounties>): Promise<Held> {
    const version = collectionVersion(COUNTS_LOG);
    const run = this.turn.then(async () => {
      const { counties, below } = await scope;
      return { lists: await this.read(await version, counties), below };
    });
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async read(
    version: Awaited<ReturnType<typeof collectionVersion>>,
    counties: string[],
  ): Promise<Held['lists']> {
    if (version === null) {
      // No token yet: nothing is kept.
      this.docs.clear();
      this.token = null;
    } else if (this.token === null) {
      this.docs.clear();
      this.seq = await changeLogEnd(COUNTS_LOG);
      this.token = version.token;
    } else if (version.token !== this.token) {
      const changes = await changesSince(COUNTS_LOG, this.seq, version.n);
      if (changes.ids === ALL_IDS) this.docs.clear();
      else for (const county of changes.ids) this.docs.delete(county);
      this.seq = changes.seq;
      this.token = version.token;
    }
    this.writtenHere.clear();
    const missing = counties.filter((county) => !this.docs.has(county));
    const read = await mapLimit(missing, 16, (county) =>
      OpenCountModel.findById(county, { e: 1 }).lean<{ e?: Record<string, CountValue> }>(),
    );
    const fresh = new Map(missing.map((county, i) => [county, newestFirst(Object.entries(read[i]?.e ?? {}))]));
    // A county written here during the reads may have been read before the write: not kept.
    if (this.token !== null)
      for (const [county, values] of fresh) if (!this.writtenHere.has(county)) this.docs.set(county, values);
    return counties.map((county) => ({ county, entries: this.docs.get(county) ?? fresh.get(county) ?? [] }));
  }
}

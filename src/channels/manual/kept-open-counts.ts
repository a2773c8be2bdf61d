// The per-county open-task counts (channels/manual/open-counts.ts) kept in the process (issue
// 25): a province admin's workbench read one document per county on every call (84 at 50,000
// groups). Every count writer logs the counties it wrote on the counts' change log
// (db/versions.ts, COUNTS_LOG) after its write, with the task ids it set or unset in each; a
// call reads the counts' token and, when it moved, the log's new records by `_id`, and reads
// the counties it needs that it does not hold whole, and of those it holds only the entries
// named since (`findById(county, { 'e.<id>': 1, … })`: bytes in proportion to the write, not to
// the county; eleventh session, countlog: a province-wide send re-read up to 84 whole county
// documents, ~6 MB at 50,000 groups, on one workbench call). Expiry is applied when answering.
//
// Exactness: the log position is read before any document it then reads, and a writer's record
// follows its document write, so an entry read before a write is re-read at the first call that
// reads the write's record. Writer order (open-counts.ts): intent → entries → county document →
// record (counties and ids) → token → intent deleted. A writer killed before its record leaves
// its intent; the notifier's repair re-counts those counties and logs them without ids, so they
// are read whole (as is a county named by any record without ids, or with more than MAX_PENDING
// ids pending). A record naming `*`, a pruned log (a gap: the hint above the records found) or a
// missing token forgets every county. A write whose record waits for its process's flush (the
// worker's waves, up to FLUSH_MS) is heard of at once by the readers of that process
// (`onLocalCountWrite`) with its ids: they re-read them at the next call (and ids written
// during a call's reads stay pending for the next one); a failed re-read forgets the county.
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
import {
  COUNTS_LOG,
  type CountedTask,
  type CountValue,
  OpenCountModel,
  onLocalCountWrite,
  type WrittenIds,
} from './open-counts.js';
import type { ScopeCounties } from './scope-counties.js';

/** One open task as its county's document holds it. */
export interface CountedRow {
  id: string;
  county: string;
  value: CountValue;
}

type Entries = [string, CountValue][];

/** Ids of one county written since it was read beyond which it is read whole again. */
const MAX_PENDING = 1_000;

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
  /** Task ids of held counties (or counties being read) written since held: re-read by id. */
  private readonly pending = new Map<string, Set<string>>();
  /** Counties read whole by the call in progress. */
  private readonly reading = new Set<string>();
  /** Calls one after another (each may change what is held). */
  private turn: Promise<unknown> = Promise.resolve();
  /** Counties this process wrote whole since the call in progress began: not kept from its reads. */
  private readonly writtenHere = new Set<string>();

  constructor() {
    // A count write of this process (the worker's wave) logs its counties at its flush, up to
    // a second later; readers here re-read its ids at once.
    onLocalCountWrite(this);
  }

  countsWritten(counties: readonly string[], ids?: WrittenIds): void {
    for (const county of counties) {
      const written = ids?.get(county);
      if (written) this.stale(county, written);
      else this.forget(county);
    }
  }

  /** A county changed whole (or beyond MAX_PENDING ids): read whole when next needed. */
  private forget(county: string): void {
    this.docs.delete(county);
    this.pending.delete(county);
    this.writtenHere.add(county);
  }

  /** These task ids of the county changed: re-read by id when next needed (if it is held). */
  private stale(county: string, ids: Iterable<string>): void {
    if (!this.docs.has(county) && !this.reading.has(county)) return;
    const pending = this.pending.get(county) ?? new Set<string>();
    for (const id of ids) pending.add(id);
    if (pending.size > MAX_PENDING) this.forget(county);
    else this.pending.set(county, pending);
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
      this.pending.clear();
      this.token = null;
    } else if (this.token === null) {
      this.docs.clear();
      this.pending.clear();
      this.seq = await changeLogEnd(COUNTS_LOG);
      this.token = version.token;
    } else if (version.token !== this.token) {
      const changes = await changesSince(COUNTS_LOG, this.seq, version.n);
      if (changes.ids === ALL_IDS) {
        this.docs.clear();
        this.pending.clear();
      } else
        for (const county of changes.ids) {
          const ids = changes.entries.get(county);
          if (ids === undefined || ids === ALL_IDS) this.forget(county);
          else this.stale(county, ids);
        }
      this.seq = changes.seq;
      this.token = version.token;
    }
    this.writtenHere.clear();
    // Counties not held are read whole; held ones with ids written since, those ids only.
    const missing = counties.filter((county) => !this.docs.has(county));
    const partial: [string, Entries, string[]][] = [];
    for (const county of counties) {
      const ids = this.pending.get(county);
      const held = this.docs.get(county);
      if (!ids || !held) continue;
      this.pending.delete(county);
      partial.push([county, held, [...ids]]);
    }
    for (const county of missing) {
      this.pending.delete(county);
      this.reading.add(county);
    }
    const answer = new Map<string, Entries>();
    try {
      const [read, reread] = await Promise.all([
        mapLimit(missing, 16, (county) =>
          OpenCountModel.findById(county, { e: 1 }).lean<{ e?: Record<string, CountValue> }>(),
        ),
        mapLimit(partial, 16, ([county, , ids]) =>
          OpenCountModel.findById(county, Object.fromEntries(ids.map((id) => [`e.${id}`, 1]))).lean<{
            e?: Record<string, CountValue>;
          }>(),
        ),
      ]);
      for (const [i, county] of missing.entries()) answer.set(county, newestFirst(Object.entries(read[i]?.e ?? {})));
      for (const [i, [county, held, ids]] of partial.entries()) {
        const changed = new Set(ids);
        const now = reread[i]?.e ?? {};
        const kept = held.filter(([id]) => !changed.has(id));
        for (const id of ids) if (now[id]) kept.push([id, now[id]]);
        answer.set(county, newestFirst(kept));
      }
    } catch (error) {
      // The ids taken from `pending` were not re-read: those counties are read whole next time.
      for (const [county] of partial) this.forget(county);
      throw error;
    } finally {
      this.reading.clear();
    }
    // A county written whole here during the reads may have been read before the write: not
    // kept. Ids written here meanwhile stay pending (re-read at the next call).
    if (this.token !== null)
      for (const [county, entries] of answer) if (!this.writtenHere.has(county)) this.docs.set(county, entries);
    return counties.map((county) => ({ county, entries: answer.get(county) ?? this.docs.get(county) ?? [] }));
  }
}

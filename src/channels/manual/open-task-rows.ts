// The open tasks of a region as the screens that list them read them (issue 25): the open-task
// list (channels/manual/tasks.ts, open=true) and the monthly table's 待民警转发
// (tracking/open-tasks.ts). From the per-county open-task documents kept in the process
// (kept-open-counts.ts, under the counts' version token), never the watch list, which FerretDB reads
// whole for any filter but `_id`: a call reads the counts' token, the documents of counties
// written since, and then only the tasks it shows by `_id`.
//
// Exactness (the write order is the counts' own, channels/manual/open-counts.ts): a task is made,
// its watch entry written, then its county's document, then the log record; confirmed or
// withdrawn: the entry changed, then the document, then the record. A reader keeps a document
// until it reads a record naming its county, so it sees every write finished before its call.
// A writer killed between its entry write and its document write leaves its intent, and the
// notifier's repair re-counts the county from the entries (INTENT_STALE_MS later) and logs it.
// The readers check what they show against the task (list) or the campaign and notice
// (monthly table) read live, so a document not yet updated after a confirmation or withdrawal
// shows nothing wrong on the list; the table follows the watch list as before.

import type { Scope } from '../../regions/scope.js';
import { type CountedRow, KeptOpenCounts } from './kept-open-counts.js';
import { CountyList, type ScopeCounties } from './scope-counties.js';
import { OPEN_TASK_HORIZON_MS } from './watch.js';

export interface OpenTaskRow {
  id: string;
  createdAt: Date;
  expiresAt: Date;
  officerPhone: string | null;
  officerName: string | null;
  county: string;
  /** The path below the county (township, village, …). */
  tail: string[];
  /** `<campaignId>@<runAt ISO>` (null: not a run's task). */
  occurrenceId: string | null;
  /** Written before the documents kept runs (four elements; re-counted once at start): run unknown. */
  legacy: boolean;
}

function rowOf({ id, county, value }: CountedRow): OpenTaskRow {
  const [expiresAt, officerPhone, officerName, tail, occurrenceId] = value;
  return {
    id,
    // watch.ts: an entry expires OPEN_TASK_HORIZON_MS after its task was made.
    createdAt: new Date(expiresAt - OPEN_TASK_HORIZON_MS),
    expiresAt: new Date(expiresAt),
    officerPhone,
    officerName,
    county,
    tail: tail ? tail.split('/') : [],
    occurrenceId: occurrenceId ?? null,
    legacy: value.length < 5,
  };
}

export class OpenTaskRows {
  private readonly counties = new CountyList();

  /**
   * `kept`: the process's one copy of the county documents (context.ts hands the same one to
   * the workbench, the open list and the monthly table, so the api role's warm-up at start
   * serves all three and a write is re-read once per process, not once per screen).
   */
  constructor(private readonly kept: KeptOpenCounts = new KeptOpenCounts()) {}

  /** Open tasks (not withdrawn, not expired at `now`) inside the scope and, if given, under `within`. */
  async of(scope: Scope, now: Date, within?: string): Promise<OpenTaskRow[]> {
    const { lists, belows } = await this.scoped(scope, within, (wanted) => this.kept.rows(wanted, now));
    return lists.map(rowOf).filter((row) => belows.every((below) => row.tail.includes(below)));
  }

  /**
   * The held entries of the counties inside the scope and `within` (expired ones too), and the
   * regions below a county every task shown must lie under (its path `includes` each).
   */
  held(scope: Scope, within?: string) {
    return this.scoped(scope, within, (wanted) => this.kept.lists(wanted));
  }

  private async scoped<T>(
    scope: Scope,
    within: string | undefined,
    read: (wanted: Promise<ScopeCounties>) => Promise<T>,
  ): Promise<{ lists: T; belows: string[] }> {
    const codes = [scope.regionCode, ...(within !== undefined && within !== scope.regionCode ? [within] : [])];
    const parts = Promise.all(codes.map((code) => this.counties.ofRegion(code)));
    const wanted = parts.then((list) => {
      const [first, ...rest] = list;
      const counties = (first?.counties ?? []).filter((county) => rest.every((part) => part.counties.includes(county)));
      return { counties };
    });
    const lists = await read(wanted);
    const belows = (await parts).flatMap((part) => (part.below ? [part.below] : []));
    return { lists, belows };
  }

  /**
   * The open tasks inside the scope newest first (made, then id, descending), made into rows as
   * the caller walks them: a page costs about its own rows, not every open task of the scope.
   */
  async newest(scope: Scope, now: Date): Promise<Iterable<OpenTaskRow>> {
    const rows = await this.kept.newest(this.counties.of(scope), now);
    return {
      *[Symbol.iterator]() {
        for (const row of rows) yield rowOf(row);
      },
    };
  }
}

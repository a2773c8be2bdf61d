// The county-year documents and region scopes (rollup-model.ts, reach-scopes.ts) kept in the
// process (issue 25): a province admin's workbench counts and monthly table read one county-year
// per county on every call (84 at 50,000 groups) and the scope's counties. The roll-up fold
// logs what it wrote on the county-years' change log (db/versions.ts, COUNTY_YEARS_LOG, the
// mechanism of the open-task counts' log, channels/manual/kept-open-counts.ts): a reader reads the log's
// token (in one command with whatever other tokens its call asks for in the same turn) and,
// when it moved, the log's new records by `_id`, forgets the documents they name, and reads by
// `_id` only what it needs and does not hold. A document found missing is kept as missing.
//
// Write order (fold.ts), and why a writer killed anywhere leaves no reader stale:
//   scopes written → record naming every scope the fold noted (`scope:<code>`) → … →
//   county-years written → record naming the county-years (`<county>|<year>`) → token
//   (collectionChanged: record, then token) → the refresh deletes its markers (rollups.ts).
// The markers are the intent: a fold killed before its records leaves its markers, and the next
// refresh (whoever holds the lease) folds the same batches again, writes the same county-years
// (recomputed, equal) and logs them. The scope record follows the scope write directly, before
// the county-years that hold the new cells: a fold killed between the two finds the cells still
// absent when folded again, notes the same scopes (written already, unchanged) and logs them.
//
// Exactness: the log position is read before any document it then reads, and a writer's record
// follows its document write, so a document read before a write is forgotten at the first call
// that reads the write's record. A record naming `*` (a fold of more than MAX_LOGGED_IDS
// documents), a pruned log, or no token at all forgets everything. Calls of one process run one
// after another (each may change what is held), like KeptOpenCounts.
import type * as mongo from 'mongodb';
import { ALL_IDS, changeLogEnd, changesSince, collectionChanged, collectionVersion } from '../db/versions.js';
import { mapLimit } from '../lib/concurrency.js';
import type { Counts } from './counts.js';
import { unpackCellCounts } from './packed.js';
import { countyYearId, ReachCountyYearModel, ReachScopeModel } from './rollup-model.js';

/** The change log (and token) of the county-years and region scopes. */
export const COUNTY_YEARS_LOG = 'reachcountyyears';
/** A record's id naming a region's scope document (reach-scopes.ts) rather than a county-year. */
const SCOPE = 'scope:';
/** A record's id naming a month summary above a county (reach-months.ts), logged with the county-years. */
export const MONTH_SUMMARY = 'month:';
/** Month summaries kept at most (a few regions' months); past it all are forgotten. */
const MAX_KEPT_MONTHS = 100;

/** Parallel `_id` lookups; more only queue on a small server. */
const LOOKUPS_AT_ONCE = 8;
/**
 * County-years kept at most (a province's counties over a few years); past it everything is
 * forgotten and read again (a long range of years asked once must not stay in memory).
 */
const MAX_KEPT = 600;

export interface CountyYearDoc {
  _id: string;
  countyCode: string;
  year: string;
  regionPath: string[];
  cells: string;
}

/** A kept county-year: the document and, once asked for, its cells' counts (no reached set). */
export interface KeptYear {
  doc: CountyYearDoc;
  counts?: ReturnType<typeof unpackCellCounts>;
}

/** Fold side: the scopes noted by a fold were written (before the county-years holding their cells). */
export async function scopesWritten(codes: readonly string[]): Promise<void> {
  if (codes.length > 0)
    await collectionChanged(
      COUNTY_YEARS_LOG,
      codes.map((code) => `${SCOPE}${code}`),
    );
}

/**
 * Fold side: these county-years (and month summaries, `month:<id>`) were written (after their
 * write, before the markers go).
 */
export async function countyYearsWritten(ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await collectionChanged(COUNTY_YEARS_LOG, ids);
}

export class KeptCountyYears {
  private token: string | null = null;
  private seq = 0;
  private readonly years = new Map<string, KeptYear | null>();
  private readonly scopes = new Map<string, string[]>();
  private readonly months = new Map<string, unknown>();
  /** Calls one after another (each may change what is held). */
  private turn: Promise<unknown> = Promise.resolve();

  /**
   * The county-years of `years` of the counties below `base` (`counties`: when the caller knows
   * them), missing ones left out. The token is asked for at once (synchronously), so a caller
   * asking for other tokens in the same turn reads them in one command (db/versions.ts).
   */
  read(base: string, years: readonly string[], counties?: readonly string[]): Promise<KeptYear[]> {
    const version = collectionVersion(COUNTY_YEARS_LOG);
    const run = this.turn.then(async () => {
      await this.follow(await version);
      const scope = counties ?? (await this.scopeOf(base));
      const ids = scope.flatMap((county) => years.map((year) => countyYearId(county, year)));
      let missing = ids.filter((id) => !this.years.has(id));
      if (this.years.size + missing.length > MAX_KEPT) {
        this.years.clear();
        missing = ids;
      }
      const collection = ReachCountyYearModel.collection as unknown as mongo.Collection<CountyYearDoc>;
      // The driver's findOne: plain strings and arrays, no query machinery (reach-read.ts).
      const read = await mapLimit(missing, LOOKUPS_AT_ONCE, (id) => collection.findOne({ _id: id }));
      const fresh = new Map(missing.map((id, i) => [id, read[i] ? { doc: read[i]! } : null]));
      if (this.token !== null) for (const [id, kept] of fresh) this.years.set(id, kept);
      const out: KeptYear[] = [];
      for (const id of ids) {
        const kept = this.token !== null ? this.years.get(id) : fresh.get(id);
        if (kept) out.push(kept);
      }
      return out;
    });
    this.turn = run.catch(() => undefined);
    return run;
  }

  /**
   * A month summary (reach-months.ts) by its `_id`, kept like the county-years: `load` reads and
   * parses it; it is called again only after the log names `month:<id>` (the fold logs the
   * summaries it wrote in the county-years' record, after writing both).
   */
  month<T>(id: string, load: () => Promise<T>): Promise<T> {
    const version = collectionVersion(COUNTY_YEARS_LOG);
    const run = this.turn.then(async () => {
      await this.follow(await version);
      if (this.months.has(id)) return this.months.get(id) as T;
      const loaded = await load();
      if (this.token !== null) {
        if (this.months.size >= MAX_KEPT_MONTHS) this.months.clear();
        this.months.set(id, loaded);
      }
      return loaded;
    });
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** The cells' counts of a kept county-year, parsed once per document read. */
  static countsOf(kept: KeptYear): { month: string; townshipCode: string; category: string; counts: Counts }[] {
    kept.counts ??= unpackCellCounts(kept.doc.cells);
    return kept.counts;
  }

  /** Counties with statistics below `code` (reach-scopes.ts), kept like the county-years. */
  private async scopeOf(code: string): Promise<string[]> {
    const kept = this.scopes.get(code);
    if (kept) return kept;
    const counties = (await ReachScopeModel.findById(code).lean())?.counties ?? [];
    if (this.token !== null) this.scopes.set(code, counties);
    return counties;
  }

  /** Applies the log since the last call: forgets what its new records name. */
  private async follow(version: Awaited<ReturnType<typeof collectionVersion>>): Promise<void> {
    if (version === null) {
      // No token yet: nothing is kept.
      this.forgetAll();
      this.token = null;
    } else if (this.token === null) {
      this.forgetAll();
      this.seq = await changeLogEnd(COUNTY_YEARS_LOG);
      this.token = version.token;
    } else if (version.token !== this.token) {
      const changes = await changesSince(COUNTY_YEARS_LOG, this.seq, version.n);
      if (changes.ids === ALL_IDS) this.forgetAll();
      else {
        for (const id of changes.ids) {
          if (id.startsWith(SCOPE)) this.scopes.delete(id.slice(SCOPE.length));
          else if (id.startsWith(MONTH_SUMMARY)) this.months.delete(id.slice(MONTH_SUMMARY.length));
          else this.years.delete(id);
        }
      }
      this.seq = changes.seq;
      this.token = version.token;
    }
  }

  private forgetAll(): void {
    this.years.clear();
    this.scopes.clear();
    this.months.clear();
  }
}

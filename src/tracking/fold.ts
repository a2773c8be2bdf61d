// One refresh's worth of changed batches folded into the roll-ups. Collects each changed
// batch's part (and the batches that are gone), then writes every touched document once:
//
//   county indexes (new numbers) → their lengths → scopes (new counties) → day documents
//   (the touched buckets' days recomputed, reach-days.ts) → ledgers (parts replaced, set
//   from the batches) → month summaries above the counties (each touched county's share of
//   the month recomputed from its new county-year, reach-months.ts) → county-years (the
//   touched cells recomputed from their ledgers)
//
// The scopes and the county-years are each followed by a record on their change log, so the
// api processes that keep them re-read only those (kept-county-years.ts, which states why a
// fold killed between a write and its record leaves no reader stale).
//
// The day documents come before the ledgers: a day report reads them by `_id`, and a fold
// stopped after the ledgers must already show its new buckets there.
// Everything written is recomputed from parts, nothing is incremented, and each step only
// writes what the steps after it refer to, so a refresh that dies half-way leaves documents
// that the next refresh (which re-reads the same markers) overwrites with the same values.
// A batch never changes bucket: its month, township, category and campaign are fixed when
// its run is planned.
import type mongoose from 'mongoose';
import { MAX_UPDATES_PER_COMMAND } from '../db/bulk.js';
import { mapLimit } from '../lib/concurrency.js';
import type { Contribution } from './contribution.js';
import { type CountyIndex, loadCountyIndex, saveIndexLengths } from './county-index.js';
import { countyYearsWritten, MONTH_SUMMARY, scopesWritten } from './kept-county-years.js';
import { type Cell, type Part, packCells, packParts, sumOf, unpackCells, unpackParts } from './packed.js';
import { recomputeDays, writeDays } from './reach-days.js';
import { countyMonth, recomputeMonths, writeMonths } from './reach-months.js';
import { ScopeRecorder } from './reach-scopes.js';
import { countyYearId, ledgerId, ReachCountyYearModel, ReachLedgerModel } from './rollup-model.js';

const LOOKUPS_AT_ONCE = 8;
const INSERTS_PER_CALL = 200;

interface BucketKeys {
  month: string;
  category: string;
  townshipCode: string;
  countyCode: string;
  regionPath: string[];
}

interface Bucket {
  id: string;
  keys: BucketKeys;
  parts: Part[];
  stored: boolean;
}

interface CountyYear {
  id: string;
  countyCode: string;
  year: string;
  regionPath: string[];
  cells: Cell[];
  stored: boolean;
}

function keysOf(c: BucketKeys): BucketKeys {
  return {
    month: c.month,
    category: c.category,
    townshipCode: c.townshipCode,
    countyCode: c.countyCode,
    regionPath: [...c.regionPath],
  };
}

/** The county's own path: the township's path up to the county. */
function countyPath(keys: BucketKeys): string[] {
  const at = keys.regionPath.indexOf(keys.countyCode);
  return at >= 0 ? keys.regionPath.slice(0, at + 1) : keys.regionPath.slice(0, -1);
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Writes new documents with one insert per chunk, known ones with bulk replaces of a few each. */
async function writeAll(
  collection: mongoose.Collection,
  docs: Array<{ id: string; stored: boolean; doc: { _id: string } | null }>,
): Promise<void> {
  const fresh = docs.filter((d) => !d.stored && d.doc).map((d) => d.doc!);
  const known = docs.filter((d) => d.stored && d.doc).map((d) => d.doc!);
  const emptied = docs.filter((d) => d.stored && !d.doc).map((d) => d.id);
  for (let i = 0; i < fresh.length; i += INSERTS_PER_CALL) {
    await collection.insertMany(fresh.slice(i, i + INSERTS_PER_CALL) as never[], { ordered: false });
  }
  for (let i = 0; i < known.length; i += MAX_UPDATES_PER_COMMAND) {
    const chunk = known.slice(i, i + MAX_UPDATES_PER_COMMAND);
    await collection.bulkWrite(
      chunk.map((doc) => ({ replaceOne: { filter: { _id: doc._id as never }, replacement: doc } })),
    );
  }
  if (emptied.length > 0) await collection.deleteMany({ _id: { $in: emptied as never[] } });
}

/** Each touched county's share of each touched month, from its recomputed county-year (reach-months.ts). */
function monthShares(buckets: Bucket[], years: CountyYear[]) {
  const touched = new Set(
    buckets.map((b) => `${countyYearId(b.keys.countyCode, b.keys.month.slice(0, 4))}|${b.keys.month}`),
  );
  return years.flatMap((y) =>
    [...touched]
      .filter((key) => key.startsWith(`${y.id}|`))
      .map((key) => countyMonth(y.countyCode, y.regionPath, key.slice(y.id.length + 1), y.cells)),
  );
}

export class Fold {
  /** Changed parts by ledger id, then by batch id. */
  private readonly changed = new Map<string, { keys: BucketKeys; parts: Map<string, Part> }>();
  private readonly gone = new Set<string>();
  private readonly indexes = new Map<string, Promise<CountyIndex>>();

  /** Adds a changed batch (safe to call concurrently: indexes are shared through their promise). */
  async add(c: Contribution): Promise<void> {
    let index = this.indexes.get(c.countyCode);
    if (!index) {
      index = loadCountyIndex(c.countyCode);
      this.indexes.set(c.countyCode, index);
    }
    const sets = (await index).setsOf(c, c.audience);
    const id = ledgerId(c.month, c.townshipCode, c.category);
    const bucket = this.changed.get(id) ?? { keys: keysOf(c), parts: new Map<string, Part>() };
    bucket.parts.set(c._id, {
      batchId: c._id,
      day: c.day,
      campaignId: c.campaignId,
      counts: c.counts,
      channels: c.channels,
      ...sets,
    });
    this.changed.set(id, bucket);
  }

  /** A batch that no longer exists: its part is dropped from whatever bucket holds it. */
  drop(batchId: string): void {
    this.gone.add(batchId);
  }

  /**
   * Writes every touched document once. `keep` is asked before writing (and between the
   * ledgers and the county-years); when it answers false (the lease was taken over)
   * nothing more is written and false is returned.
   */
  async write(keep: () => Promise<boolean>): Promise<boolean> {
    const buckets = await this.buckets();
    const scopes = new ScopeRecorder();
    const years = await this.countyYears(buckets, scopes);
    const days = await recomputeDays(buckets);
    const months = await recomputeMonths(monthShares(buckets, years));
    if (!(await keep())) return false;
    const indexes = await Promise.all(this.indexes.values());
    for (const index of indexes) await index.save();
    await saveIndexLengths(indexes);
    // Logged right after the scopes, before the cells they cover (kept-county-years.ts).
    await scopesWritten(await scopes.save());
    await writeDays(days);
    await writeAll(
      ReachLedgerModel.collection,
      buckets.map((b) => ({
        id: b.id,
        stored: b.stored,
        doc: b.parts.length ? { _id: b.id, ...b.keys, parts: packParts(b.parts) } : null,
      })),
    );
    if (!(await keep())) return false;
    await writeMonths(months);
    await writeAll(
      ReachCountyYearModel.collection,
      years.map((y) => ({
        id: y.id,
        stored: y.stored,
        doc: y.cells.length
          ? { _id: y.id, countyCode: y.countyCode, year: y.year, regionPath: y.regionPath, cells: packCells(y.cells) }
          : null,
      })),
    );
    // After the write, before the refresh deletes its markers (the intent: kept-county-years.ts).
    await countyYearsWritten([...years.map((y) => y.id), ...months.map((m) => `${MONTH_SUMMARY}${m.id}`)]);
    return true;
  }

  /** Each touched bucket with its parts after this fold: stored parts, changed ones replaced, gone ones dropped. */
  private async buckets(): Promise<Bucket[]> {
    const ids = new Set(this.changed.keys());
    for (const id of await this.bucketsHoldingGone()) ids.add(id);
    return mapLimit([...ids], LOOKUPS_AT_ONCE, async (id) => {
      const stored = await ReachLedgerModel.findById(id).lean();
      const change = this.changed.get(id);
      const parts = unpackParts(stored?.parts).filter(
        (p) => !change?.parts.has(p.batchId) && !this.gone.has(p.batchId),
      );
      parts.push(...(change?.parts.values() ?? []));
      parts.sort((x, y) => (x.batchId < y.batchId ? -1 : x.batchId > y.batchId ? 1 : 0));
      return { id, keys: change?.keys ?? keysOf(stored!), parts, stored: Boolean(stored) };
    });
  }

  /** Ledgers whose parts name a gone batch (rare: batches are not deleted in normal operation). */
  private async bucketsHoldingGone(): Promise<string[]> {
    const gone = [...this.gone];
    const ids: string[] = [];
    for (let i = 0; i < gone.length; i += 50) {
      const pattern = gone
        .slice(i, i + 50)
        .map((id) => escapeRegex(`[${JSON.stringify(id)},`))
        .join('|');
      const docs = await ReachLedgerModel.find({ parts: { $regex: pattern } }, { _id: 1 }).lean();
      ids.push(...docs.map((d) => d._id));
    }
    return ids;
  }

  /** The county-years of the touched buckets, their cells recomputed from the buckets' parts. */
  private async countyYears(buckets: Bucket[], scopes: ScopeRecorder): Promise<CountyYear[]> {
    const byYear = new Map<string, Bucket[]>();
    for (const b of buckets) {
      const id = countyYearId(b.keys.countyCode, b.keys.month.slice(0, 4));
      byYear.set(id, [...(byYear.get(id) ?? []), b]);
    }
    const cellKey = (c: { month: string; townshipCode: string; category: string }) =>
      `${c.month}|${c.townshipCode}|${c.category}`;
    return mapLimit([...byYear], LOOKUPS_AT_ONCE, async ([id, touched]) => {
      const stored = await ReachCountyYearModel.findById(id).lean();
      const cells = new Map(unpackCells(stored?.cells).map((c) => [cellKey(c), c]));
      for (const { keys, parts } of touched) {
        const key = cellKey(keys);
        if (parts.length === 0) {
          cells.delete(key);
          continue;
        }
        if (!cells.has(key)) scopes.note(keys.regionPath, keys.countyCode);
        cells.set(key, {
          month: keys.month,
          townshipCode: keys.townshipCode,
          category: keys.category,
          ...sumOf(parts),
        });
      }
      const keys = touched[0]!.keys;
      return {
        id,
        countyCode: keys.countyCode,
        year: keys.month.slice(0, 4),
        regionPath: countyPath(keys),
        cells: [...cells.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, cell]) => cell),
        stored: Boolean(stored),
      };
    });
  }
}

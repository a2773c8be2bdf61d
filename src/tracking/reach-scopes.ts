// Which counties hold statistics below a region, so a report computes the `_id`s of its
// county-year documents without a query over the region tree (on FerretDB a subtree query
// decodes every region). Kept from the batches' own paths, like the statistics themselves;
// append-only and written by the roll-up lease holder before the cells it covers.
import { mapLimit } from '../lib/concurrency.js';
import { ReachScopeModel } from './rollup-model.js';

const LOOKUPS_AT_ONCE = 8;
const INSERTS_PER_CALL = 200;

/** Counties with statistics below `regionCode`: itself for a county, its county for a township. */
export async function countiesUnder(regionCode: string): Promise<string[]> {
  const doc = await ReachScopeModel.findById(regionCode).lean();
  return doc?.counties ?? [];
}

/** Fold side: collects the (region, county) pairs of new cells, then stores those not known yet. */
export class ScopeRecorder {
  private readonly wanted = new Map<string, Set<string>>();

  /** A cell of `countyCode` lies on `townshipPath` (root … township). */
  note(townshipPath: readonly string[], countyCode: string): void {
    for (const code of townshipPath) {
      const counties = this.wanted.get(code) ?? new Set<string>();
      counties.add(countyCode);
      this.wanted.set(code, counties);
    }
  }

  /**
   * Stores what is not known yet; returns every region noted (written now or before). The
   * regions' documents are read by `_id` LOOKUPS_AT_ONCE at a time and the new ones inserted
   * in one command (they were read and created one after another: a month's first fold notes
   * every township it touches, ~1,400 at 50,000 groups). Any order is right: all are written
   * before the cells they cover (fold.ts), and a refresh that fails half-way re-notes them.
   */
  async save(): Promise<string[]> {
    const noted = [...this.wanted.keys()];
    const stored = await mapLimit(noted, LOOKUPS_AT_ONCE, (code) => ReachScopeModel.findById(code).lean());
    const created: { _id: string; counties: string[] }[] = [];
    const replaced: { _id: string; counties: string[] }[] = [];
    noted.forEach((code, i) => {
      const known = stored[i];
      const missing = [...this.wanted.get(code)!].filter((county) => !known?.counties.includes(county));
      if (missing.length === 0) return;
      const doc = { _id: code, counties: [...(known?.counties ?? []), ...missing].sort() };
      (known ? replaced : created).push(doc);
    });
    for (let i = 0; i < created.length; i += INSERTS_PER_CALL)
      await ReachScopeModel.collection.insertMany(created.slice(i, i + INSERTS_PER_CALL) as never[], {
        ordered: false,
      });
    await mapLimit(replaced, LOOKUPS_AT_ONCE, (doc) => ReachScopeModel.replaceOne({ _id: doc._id }, doc));
    this.wanted.clear();
    return noted;
  }
}

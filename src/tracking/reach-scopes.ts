// Which counties hold statistics below a region, so a report computes the `_id`s of its
// county-year documents without a query over the region tree (on FerretDB a subtree query
// decodes every region). Kept from the batches' own paths, like the statistics themselves;
// append-only and written by the roll-up lease holder before the cells it covers.
import { ReachScopeModel } from './rollup-model.js';

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

  /** Stores what is not known yet; returns every region noted (written now or before). */
  async save(): Promise<string[]> {
    const noted = [...this.wanted.keys()];
    for (const [code, counties] of this.wanted) {
      const known = await ReachScopeModel.findById(code).lean();
      const missing = [...counties].filter((county) => !known?.counties.includes(county));
      if (missing.length === 0) continue;
      const all = [...(known?.counties ?? []), ...missing].sort();
      if (known) await ReachScopeModel.replaceOne({ _id: code }, { _id: code, counties: all });
      else await ReachScopeModel.create({ _id: code, counties: all });
    }
    this.wanted.clear();
    return noted;
  }
}

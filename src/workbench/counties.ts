// The counties inside a caller's scope, for reads of per-county documents by `_id` (the open-task
// counts, channels/manual/open-counts.ts). Kept per process while the regions' version token
// (regions/model.ts, changed after every region write) stays the same: the token is read BEFORE
// the counties, so nothing read under an older state is kept under a newer token (the pattern
// of tracking/region-names.ts).
import { ROOT_REGION_CODE } from '../regions/levels.js';
import { REGION_VERSION_ID, RegionModel, RegionVersionModel } from '../regions/model.js';
import type { Scope } from '../regions/scope.js';

/** Which county documents a scope reads, and, inside one county, the region to keep. */
export interface ScopeCounties {
  counties: string[];
  /** A township or village scope: only tasks under this region of its county. */
  below?: string;
}

export class CountyList {
  private token: string | null = null;
  private counties: { code: string; regionPath: string[] }[] | null = null;
  private readonly countyOfRegion = new Map<string, string | null>();

  async of(scope: Scope): Promise<ScopeCounties> {
    const code = scope.regionCode;
    const all = await this.all();
    if (code === ROOT_REGION_CODE) return { counties: all.map((c) => c.code) };
    const inside = all.filter((c) => c.regionPath.includes(code));
    if (inside.length > 0) return { counties: inside.map((c) => c.code) };
    // Below a county (township, village): its county is on its own path (kept with the counties).
    let county = this.countyOfRegion.get(code);
    if (county === undefined) {
      const own = await RegionModel.findOne({ code }, { regionPath: 1 }).lean<{ regionPath: string[] }>();
      county = own?.regionPath[3] ?? null;
      if (this.counties === all) this.countyOfRegion.set(code, county);
    }
    return county ? { counties: [county], below: code } : { counties: [] };
  }

  /** How many counties lie inside the scope (the scope itself if it is one). */
  async inside(scope: Scope): Promise<number> {
    return (await this.all()).filter((c) => c.regionPath.includes(scope.regionCode)).length;
  }

  private async all(): Promise<{ code: string; regionPath: string[] }[]> {
    const token =
      (await RegionVersionModel.findById(REGION_VERSION_ID, { token: 1 }).lean<{ token: string }>())?.token ?? null;
    if (this.counties && token !== null && token === this.token) return this.counties;
    const counties = await RegionModel.find({ level: 'county' }, { _id: 0, code: 1, regionPath: 1 }).lean<
      { code: string; regionPath: string[] }[]
    >();
    if (token !== null) {
      this.token = token;
      this.counties = counties;
      this.countyOfRegion.clear();
    }
    return counties;
  }
}

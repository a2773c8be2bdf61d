// The counties inside a caller's scope, for reads of per-county documents by `_id` (the open-task
// counts, channels/manual/open-counts.ts), from the process's copy of the regions
// (regions/directory.ts: current with the regions' version token; on FerretDB a read of the
// counties by level was a scan of every region, 25 s on the 50,000-group province under load).
import { type RegionDirectory, regionDirectory } from '../../regions/directory.js';
import { ROOT_REGION_CODE } from '../../regions/levels.js';
import type { Scope } from '../../regions/scope.js';

/** Which county documents a scope reads, and, inside one county, the region to keep. */
export interface ScopeCounties {
  counties: string[];
  /** A township or village scope: only tasks under this region of its county. */
  below?: string;
}

interface County {
  code: string;
  regionPath: string[];
}

export class CountyList {
  private directory: RegionDirectory | null = null;
  private counties: County[] = [];

  of(scope: Scope): Promise<ScopeCounties> {
    return this.ofRegion(scope.regionCode);
  }

  /** The same for a region code (a scope's or a region inside it). */
  async ofRegion(code: string): Promise<ScopeCounties> {
    const all = await this.all();
    if (code === ROOT_REGION_CODE) return { counties: all.map((c) => c.code) };
    const inside = all.filter((c) => c.regionPath.includes(code));
    if (inside.length > 0) return { counties: inside.map((c) => c.code) };
    // Below a county (township, village): its county is on its own path.
    const county = (await regionDirectory()).byCode.get(code)?.regionPath[3] ?? null;
    return county ? { counties: [county], below: code } : { counties: [] };
  }

  /** How many counties lie inside the scope (the scope itself if it is one). */
  async inside(scope: Scope): Promise<number> {
    return (await this.all()).filter((c) => c.regionPath.includes(scope.regionCode)).length;
  }

  private async all(): Promise<County[]> {
    const directory = await regionDirectory();
    if (directory !== this.directory) {
      this.directory = directory;
      this.counties = [...directory.byCode.values()]
        .filter((region) => region.level === 'county')
        .map(({ code, regionPath }) => ({ code, regionPath }));
    }
    return this.counties;
  }
}

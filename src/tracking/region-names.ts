// Names of regions for the statistics' rows (the monthly table names its townships and its
// region), kept per process while the regions' version token (regions/model.ts, changed after
// every region write) stays the same. On FerretDB 1.24 a read by `code` is a scan of the
// regions collection (~170 ms a township on the 3,000-group world under load, once per row),
// so the names a process has read are kept, and the ones it lacks are read in one query.
// The token is read BEFORE the names, so no name read under an older state is kept under a
// newer token (the pattern of audience/radius.ts).
import { REGION_VERSION_ID, RegionModel, RegionVersionModel } from '../regions/model.js';

/** Names kept per process at most; past it the cache starts over. */
const MAX_NAMES = 20_000;

export class RegionNames {
  private token: string | null = null;
  private readonly names = new Map<string, string>();

  /** The names of these codes (a code with no region keeps its code). */
  async of(codes: readonly string[]): Promise<Map<string, string>> {
    const token =
      (await RegionVersionModel.findById(REGION_VERSION_ID, { token: 1 }).lean<{ token: string }>())?.token ?? null;
    // A missing token (no region write recorded yet) is never trusted: read every time.
    if (token === null || token !== this.token || this.names.size > MAX_NAMES) {
      this.names.clear();
      this.token = token;
    }
    const missing = [...new Set(codes)].filter((code) => !this.names.has(code));
    if (missing.length > 0) {
      const found = await RegionModel.find({ code: { $in: missing } }, { _id: 0, code: 1, name: 1 }).lean<
        { code: string; name: string }[]
      >();
      const named = new Map(found.map((r) => [r.code, r.name]));
      // Unknown codes are kept as themselves too, so a row of a deleted township costs no scan.
      if (this.token === token && token !== null) for (const code of missing) this.names.set(code, named.get(code) ?? code);
      return new Map(codes.map((code) => [code, this.names.get(code) ?? named.get(code) ?? code]));
    }
    return new Map(codes.map((code) => [code, this.names.get(code)!]));
  }
}

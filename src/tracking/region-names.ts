// Names of regions for the statistics' rows (the monthly table names its townships and its
// region), from the process's copy of the regions (regions/directory.ts): on FerretDB 1.24 a
// read by `code` is a scan of the regions collection (19 s for a county's townships on the
// 50,000-group province under load).
import { regionDirectory } from '../regions/directory.js';

export class RegionNames {
  /** The names of these codes (a code with no region keeps its code). */
  async of(codes: readonly string[]): Promise<Map<string, string>> {
    const { byCode } = await regionDirectory();
    return new Map(codes.map((code) => [code, byCode.get(code)?.name ?? code]));
  }
}

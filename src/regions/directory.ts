// Every region of the database, in this process: the answer to "which region has this code"
// without a read of the regions collection.
//
// Contract:
// - `regionDirectory()` returns the regions as they were when the regions' version token
//   (model.ts: changed AFTER every region write through the models) was last read: the token
//   is read first on every call (one `_id` lookup), and a different token means a new copy;
// - a token that is missing (no region write recorded yet) is never trusted for a later call;
// - one read at a time per database: concurrent callers share it.
//
// Why: FerretDB 1.24 answers no region query from an index but an `_id` equality, and a
// region's `_id` is not its code. On the province (47,866 regions) every read by code was a
// scan: the monthly table's township names (`code: {$in: [...]}`) took 19 s, a county's
// subtree 11 s, under load. A province's regions are ~15 MB in memory.

import type { RegionLevel } from './levels.js';
import { REGION_VERSION_ID, RegionModel, RegionVersionModel } from './model.js';

export interface Region {
  code: string;
  name: string;
  level: RegionLevel;
  parentCode: string | null;
  regionPath: string[];
  lat: number | null;
  lng: number | null;
}

export interface RegionDirectory {
  byCode: ReadonlyMap<string, Region>;
  villages: readonly Region[];
}

export const REGION_PROJECTION = {
  _id: 0,
  code: 1,
  name: 1,
  level: 1,
  parentCode: 1,
  regionPath: 1,
  lat: 1,
  lng: 1,
} as const;

/**
 * Every region as the API shows it, whatever the stored document omits: the root was first
 * written by an upsert that left `parentCode`, `lat` and `lng` out, and the response schema
 * requires them (a 500 for every national-scope user).
 */
export function toRegion(doc: Region): Region {
  return {
    code: doc.code,
    name: doc.name,
    level: doc.level,
    parentCode: doc.parentCode ?? null,
    regionPath: doc.regionPath,
    lat: doc.lat ?? null,
    lng: doc.lng ?? null,
  };
}

const cache = new Map<string, { token: string | null; directory: Promise<RegionDirectory> }>();

async function readDirectory(): Promise<RegionDirectory> {
  const docs = await RegionModel.find({}, REGION_PROJECTION).lean<Region[]>();
  const byCode = new Map<string, Region>();
  const villages: Region[] = [];
  for (const doc of docs) {
    const region = toRegion(doc);
    byCode.set(region.code, region);
    if (region.level === 'village') villages.push(region);
  }
  return { byCode, villages };
}

/** The regions, current with the regions' version token. */
export async function regionDirectory(): Promise<RegionDirectory> {
  const key = RegionModel.db.name;
  const token =
    (await RegionVersionModel.findById(REGION_VERSION_ID, { token: 1 }).lean<{ token: string }>())?.token ?? null;
  const cached = cache.get(key);
  if (cached && token !== null && cached.token === token) return cached.directory;
  const directory = readDirectory();
  cache.set(key, { token, directory });
  directory.catch(() => {
    if (cache.get(key)?.directory === directory) cache.delete(key);
  });
  return directory;
}

/** Reads the regions now (at a process's start), so that no person's first request waits for it. */
export async function warmRegions(): Promise<void> {
  await regionDirectory();
}

/** The names of the codes that name a region (code → name; unknown codes are left out). */
export async function regionNamesOf(codes: Iterable<string>): Promise<Map<string, string>> {
  const { byCode } = await regionDirectory();
  const names = new Map<string, string>();
  for (const code of codes) {
    const region = byCode.get(code);
    if (region) names.set(code, region.name);
  }
  return names;
}

/** Forgets this process's copy (a test's stand-in for a freshly started process). */
export function forgetRegions(): void {
  cache.clear();
}

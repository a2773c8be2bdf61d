// Region tree: create, read, rename, list children and subtrees, inside a caller's scope.
import { Conflict, InvalidInput, isDuplicateKey, NotFound } from '../lib/errors.js';
import { type Region, regionDirectory, regionNamesOf } from './directory.js';
import {
  canonicalRegionCode,
  childLevel,
  codeFitsParent,
  levelLabel,
  type RegionLevel,
  ROOT_REGION_CODE,
  ROOT_REGION_NAME,
} from './levels.js';
import { RegionModel, regionsChanged } from './model.js';
import { Scope } from './scope.js';

export type { Region } from './directory.js';

export interface NewRegion {
  code: string;
  name: string;
  parentCode: string;
  lat?: number | null;
  lng?: number | null;
}

function checkCoordinates(lat: number | null | undefined, lng: number | null | undefined): void {
  if ((lat == null) !== (lng == null)) throw new InvalidInput('经纬度需同时填写', lat == null ? 'lat' : 'lng');
}

/** Copies (callers may change them) ordered by code, as `sort({ code: 1 })` would. */
function sortedCopies(regions: Region[], limit = regions.length): Region[] {
  return regions
    .sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0))
    .slice(0, limit)
    .map((region) => ({ ...region, regionPath: [...region.regionPath] }));
}

/** The most regions one list answer holds (GET /api/regions?level=…). */
export const REGION_LIST_CAP = 5000;

export class RegionService {
  /** Creates the root node every scope hangs from; safe to call on every start. */
  async ensureRoot(): Promise<void> {
    // Through the driver, the regions' version token moved only when the root was created:
    // mongoose's updateOne set the root's `updatedAt` and moved the token at every process
    // start, which voided every copy of the regions kept under it (the planner's region names
    // and their parts by `_id`, audience/region-names.ts; the villages for radius targeting).
    const now = new Date();
    const result = await RegionModel.collection
      .updateOne(
        { code: ROOT_REGION_CODE },
        {
          $setOnInsert: {
            code: ROOT_REGION_CODE,
            name: ROOT_REGION_NAME,
            level: 'country',
            parentCode: null,
            regionPath: [ROOT_REGION_CODE],
            lat: null,
            lng: null,
            createdAt: now,
            updatedAt: now,
          },
        },
        { upsert: true },
      )
      .catch((error) => {
        if (!isDuplicateKey(error)) throw error; // another instance created it first
        return null;
      });
    if (result?.upsertedCount) await regionsChanged();
  }

  rootScope(): Scope {
    return new Scope(ROOT_REGION_CODE);
  }

  /** The scope of a region code; the region must exist. */
  async scopeOf(code: string): Promise<Scope> {
    if (!(await regionDirectory()).byCode.has(code)) throw new NotFound(`地区 ${code}`);
    return new Scope(code);
  }

  async get(scope: Scope, code: string): Promise<Region> {
    const region = (await regionDirectory()).byCode.get(code);
    if (!region || !scope.contains(region.regionPath)) throw new NotFound(`地区 ${code}`);
    return { ...region, regionPath: [...region.regionPath] };
  }

  /** The region when it exists anywhere (for callers that check scope themselves). */
  async find(code: string): Promise<Region | null> {
    const region = (await regionDirectory()).byCode.get(code);
    return region ? { ...region, regionPath: [...region.regionPath] } : null;
  }

  /** Names of the regions with these codes (unknown codes are left out): the console shows names, not codes. */
  async names(codes: string[]): Promise<Map<string, string>> {
    if (codes.length === 0) return new Map();
    return regionNamesOf(codes);
  }

  /** Which of the codes name regions inside the scope (and, given `under`, on or below that region). */
  async existingIn(scope: Scope, codes: string[], under?: string): Promise<Set<string>> {
    if (codes.length === 0) return new Set();
    const { byCode } = await regionDirectory();
    return new Set(
      codes.filter((code) => {
        const region = byCode.get(code);
        return (
          region !== undefined &&
          scope.contains(region.regionPath) &&
          (under === undefined || region.regionPath.includes(under))
        );
      }),
    );
  }

  async children(scope: Scope, parentCode: string): Promise<Region[]> {
    await this.get(scope, parentCode);
    const { byCode } = await regionDirectory();
    return sortedCopies([...byCode.values()].filter((region) => region.parentCode === parentCode));
  }

  /**
   * The regions under `code` (at `level`), by code. At most REGION_LIST_CAP in one answer: a
   * larger list must be paged (`limit`, `after` the last code seen) or narrowed by `parent`,
   * and without `limit` it is refused with a 400 saying so (issue 26.12: a national user's
   * village list was half a million rows).
   */
  async subtree(
    scope: Scope,
    code: string,
    level?: RegionLevel,
    page: { limit?: number; after?: string } = {},
  ): Promise<Region[]> {
    await this.get(scope, code);
    const limit = Math.min(page.limit ?? REGION_LIST_CAP + 1, REGION_LIST_CAP + 1);
    const { byCode } = await regionDirectory();
    const after = page.after;
    const docs = sortedCopies(
      [...byCode.values()].filter(
        (region) =>
          region.regionPath.includes(code) && (!level || region.level === level) && (!after || region.code > after),
      ),
      limit,
    );
    if (page.limit === undefined && docs.length > REGION_LIST_CAP) {
      throw new InvalidInput(
        `范围内的地区超过 ${REGION_LIST_CAP} 个，请选择更小的上级地区（parent），或分页读取（limit、after）`,
        'parent',
      );
    }
    return docs;
  }

  async create(scope: Scope, input: NewRegion): Promise<Region> {
    const parent = await this.get(scope, input.parentCode);
    const level = childLevel(parent.level);
    if (!level) throw new InvalidInput(`${levelLabel(parent.level)}级地区下不能再建下级`, 'parentCode');
    const code = canonicalRegionCode(input.code, level);
    if (!code) throw new InvalidInput(`代码 ${input.code} 不是有效的${levelLabel(level)}级区划代码`, 'code');
    if (!codeFitsParent(code, parent.code, parent.level)) {
      throw new InvalidInput(`代码 ${code} 与上级地区代码 ${parent.code} 不匹配`, 'code');
    }
    checkCoordinates(input.lat, input.lng);
    const region: Region = {
      code,
      name: input.name.trim(),
      level,
      parentCode: parent.code,
      regionPath: [...parent.regionPath, code],
      lat: input.lat ?? null,
      lng: input.lng ?? null,
    };
    try {
      await RegionModel.create(region);
    } catch (error) {
      if (isDuplicateKey(error)) throw new Conflict(`地区代码 ${code} 已存在`, 'code');
      throw error;
    }
    return region;
  }

  async update(scope: Scope, code: string, changes: { name?: string; lat?: number | null; lng?: number | null }) {
    const current = await this.get(scope, code);
    const lat = changes.lat === undefined ? current.lat : changes.lat;
    const lng = changes.lng === undefined ? current.lng : changes.lng;
    checkCoordinates(lat, lng);
    const name = changes.name?.trim() ?? current.name;
    await RegionModel.updateOne({ code }, { $set: { name, lat, lng } });
    return { ...current, name, lat, lng };
  }
}

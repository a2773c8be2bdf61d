// Region tree: create, read, rename, list children and subtrees, inside a caller's scope.
import { Conflict, InvalidInput, NotFound, isDuplicateKey } from '../lib/errors.js';
import {
  ROOT_REGION_CODE,
  ROOT_REGION_NAME,
  type RegionLevel,
  canonicalRegionCode,
  childLevel,
  codeFitsParent,
  levelLabel,
} from './levels.js';
import { RegionModel, regionsChanged } from './model.js';
import { Scope } from './scope.js';

export interface Region {
  code: string;
  name: string;
  level: RegionLevel;
  parentCode: string | null;
  regionPath: string[];
  lat: number | null;
  lng: number | null;
}

export interface NewRegion {
  code: string;
  name: string;
  parentCode: string;
  lat?: number | null;
  lng?: number | null;
}

const PROJECTION = { _id: 0, code: 1, name: 1, level: 1, parentCode: 1, regionPath: 1, lat: 1, lng: 1 } as const;

/**
 * Every region as the API shows it, whatever the stored document omits: the root was first
 * written by an upsert that left `parentCode`, `lat` and `lng` out, and the response schema
 * requires them (a 500 for every national-scope user).
 */
function toRegion(doc: Region): Region {
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

function checkCoordinates(lat: number | null | undefined, lng: number | null | undefined): void {
  if ((lat == null) !== (lng == null)) throw new InvalidInput('经纬度需同时填写', lat == null ? 'lat' : 'lng');
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
    const region = await RegionModel.exists({ code });
    if (!region) throw new NotFound(`地区 ${code}`);
    return new Scope(code);
  }

  async get(scope: Scope, code: string): Promise<Region> {
    const region = await RegionModel.findOne({ code, ...scope.filter() }, PROJECTION).lean<Region>();
    if (!region) throw new NotFound(`地区 ${code}`);
    return toRegion(region);
  }

  /** The region when it exists anywhere (for callers that check scope themselves). */
  async find(code: string): Promise<Region | null> {
    const region = await RegionModel.findOne({ code }, PROJECTION).lean<Region>();
    return region ? toRegion(region) : null;
  }

  /** Names of the regions with these codes (unknown codes are left out): the console shows names, not codes. */
  async names(codes: string[]): Promise<Map<string, string>> {
    if (codes.length === 0) return new Map();
    const found = await RegionModel.find({ code: { $in: codes } }, { _id: 0, code: 1, name: 1 }).lean<
      { code: string; name: string }[]
    >();
    return new Map(found.map((r) => [r.code, r.name]));
  }

  /** Which of the codes name regions inside the scope. */
  async existingIn(scope: Scope, codes: string[]): Promise<Set<string>> {
    if (codes.length === 0) return new Set();
    const found = await RegionModel.find({ code: { $in: codes }, ...scope.filter() }, { _id: 0, code: 1 }).lean<
      { code: string }[]
    >();
    return new Set(found.map((r) => r.code));
  }

  async children(scope: Scope, parentCode: string): Promise<Region[]> {
    await this.get(scope, parentCode);
    return (await RegionModel.find({ parentCode }, PROJECTION).sort({ code: 1 }).lean<Region[]>()).map(toRegion);
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
    const filter: Record<string, unknown> = level ? { regionPath: code, level } : { regionPath: code };
    if (page.after) filter.code = { $gt: page.after };
    const limit = Math.min(page.limit ?? REGION_LIST_CAP + 1, REGION_LIST_CAP + 1);
    const docs = await RegionModel.find(filter, PROJECTION).sort({ code: 1 }).limit(limit).lean<Region[]>();
    if (page.limit === undefined && docs.length > REGION_LIST_CAP) {
      throw new InvalidInput(
        `范围内的地区超过 ${REGION_LIST_CAP} 个，请选择更小的上级地区（parent），或分页读取（limit、after）`,
        'parent',
      );
    }
    return docs.map(toRegion);
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

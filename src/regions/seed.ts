// Seeding a county from the shipped division list: its province, city, townships and
// villages come into the tree with their official codes and names. Only missing codes are
// inserted; a region that exists is never touched, so a local rename (a merged village, a
// community's everyday name) survives every re-seed, and seeding twice changes nothing.
// Existing codes are read once and the rest inserted (an upsert keyed on anything but _id
// scans the collection on FerretDB); a parallel seed loses on the unique code index.
import { Conflict, Forbidden, InvalidInput } from '../lib/errors.js';
import { type Division, countyDivisions } from './divisions.js';
import { ROOT_REGION_CODE, type RegionLevel } from './levels.js';
import { RegionModel } from './model.js';
import type { Scope } from './scope.js';

export interface SeedReport {
  county: { code: string; name: string; fullName: string };
  townships: number;
  villages: number;
  created: number;
  /** Regions of the list that existed already and were left as they are. */
  kept: number;
  /** Kept regions whose local name differs from the list's (local changes, shown for review). */
  renamedLocally: { code: string; listed: string; local: string }[];
}

interface SeedRegion {
  code: string;
  name: string;
  level: RegionLevel;
  parentCode: string;
  regionPath: string[];
  lat: null;
  lng: null;
}

const INSERT_BATCH = 1_000;

async function insertMissing(docs: SeedRegion[]): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < docs.length; i += INSERT_BATCH) {
    try {
      const result = await RegionModel.insertMany(docs.slice(i, i + INSERT_BATCH), { ordered: false, rawResult: true });
      inserted += (result as unknown as { insertedCount: number }).insertedCount;
    } catch (error) {
      const failed = error as { insertedDocs?: unknown[]; writeErrors?: { code: number }[]; code?: number };
      if (!(failed.writeErrors ?? [{ code: failed.code ?? 0 }]).every((e) => e.code === 11000)) throw error;
      inserted += failed.insertedDocs?.length ?? 0; // another seed of the same county inserted the rest
    }
  }
  return inserted;
}

export async function seedCounty(scope: Scope, countyCode: string): Promise<SeedReport> {
  const list = await countyDivisions(countyCode);
  if (!list) {
    throw new InvalidInput(
      `${countyCode} 不是全国区划名单中的县级代码（6 位，如 410527 内黄县；可在县区列表中搜索）`,
      'countyCode',
    );
  }
  const provincePath = [ROOT_REGION_CODE, list.province.code];
  const cityPath = [...provincePath, list.city.code];
  const countyPath = [...cityPath, list.county.code];
  if (!scope.contains(countyPath)) throw new Forbidden(`${list.county.name}（${countyCode}）不在您的管辖范围内`);

  const node = (d: Division, level: RegionLevel, parentPath: string[]): SeedRegion => ({
    code: d.code,
    name: d.name,
    level,
    parentCode: parentPath.at(-1)!,
    regionPath: [...parentPath, d.code],
    lat: null,
    lng: null,
  });
  const upper = [
    node(list.province, 'province', [ROOT_REGION_CODE]),
    node(list.city, 'city', provincePath),
    node(list.county, 'county', cityPath),
  ];
  const townships = list.townships.map((t) => node(t, 'township', countyPath));
  const villages = list.villages.map((v) => node(v, 'village', [...countyPath, v.townshipCode]));

  const existing = new Map<string, { name: string; parentCode: string | null }>();
  const found = await RegionModel.find(
    { $or: [{ code: { $in: upper.map((r) => r.code) } }, { regionPath: countyCode }] },
    { _id: 0, code: 1, name: 1, parentCode: 1 },
  ).lean<{ code: string; name: string; parentCode: string | null }[]>();
  for (const region of found) existing.set(region.code, region);
  for (const region of [...upper, ...townships]) {
    const current = existing.get(region.code);
    if (current && current.parentCode !== region.parentCode) {
      throw new Conflict(
        `地区 ${region.code}（${current.name}）已挂在 ${current.parentCode} 下，与全国区划名单（上级 ${region.parentCode}）不一致，请先核对`,
        'countyCode',
      );
    }
  }

  const all = [...upper, ...townships, ...villages];
  const missing = (docs: SeedRegion[]) => docs.filter((r) => !existing.has(r.code));
  // Parents before children: a reader never sees a village whose township is missing.
  let created = await insertMissing(missing(upper));
  created += await insertMissing(missing(townships));
  created += await insertMissing(missing(villages));
  const kept = all.filter((r) => existing.has(r.code));
  return {
    county: { ...list.county, fullName: `${list.province.name}${list.city.name}${list.county.name}` },
    townships: townships.length,
    villages: villages.length,
    created,
    kept: kept.length,
    renamedLocally: kept
      .filter((r) => existing.get(r.code)!.name !== r.name)
      .map((r) => ({ code: r.code, listed: r.name, local: existing.get(r.code)!.name })),
  };
}

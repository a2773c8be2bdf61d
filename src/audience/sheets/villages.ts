// Finding the village of a ledger row: by its 12-digit code, or by township + village name
// inside the county (names compared without the committee suffixes: 东庄、东庄村 and
// 东庄村委会 are one village). A code the tree lacks, under a township the caller may
// manage, is created there with the name the sheet gives.
import { NotFound, isDuplicateKey } from '../../lib/errors.js';
import { RegionModel } from '../../regions/model.js';
import type { Scope } from '../../regions/scope.js';
import type { RowError } from './report.js';

interface RegionRow {
  code: string;
  name: string;
  level: string;
  parentCode: string | null;
  regionPath: string[];
}

export interface ResolvedVillage {
  code: string;
  regionPath: string[];
  /** Set when the village is new: the document to insert before the groups. */
  create?: object;
}

export interface VillageRef {
  row: number;
  code: string | null;
  townshipName: string;
  villageName: string;
}

export interface VillageDirectory {
  resolve(ref: VillageRef, problems: RowError[]): ResolvedVillage | null;
  insertVillages(docs: object[]): Promise<void>;
}

const VILLAGE_SUFFIXES = ['社区居民委员会', '社区居委会', '村民委员会', '村委会', '居民委员会', '居委会', '社区', '村'];
const TOWNSHIP_SUFFIXES = ['街道办事处', '办事处', '街道', '镇', '乡'];

/** The name without its committee/level suffixes, repeatedly: 郝村村委会, 郝村 and 郝 are one key. */
function nameKey(name: string, suffixes: readonly string[]): string {
  let key = name.normalize('NFKC').replace(/\s+/g, '');
  for (;;) {
    const suffix = suffixes.find((s) => key.endsWith(s) && key.length > s.length);
    if (!suffix) return key;
    key = key.slice(0, -suffix.length);
  }
}
export const villageKey = (name: string) => nameKey(name, VILLAGE_SUFFIXES);
export const townshipKey = (name: string) => nameKey(name, TOWNSHIP_SUFFIXES);

const PROJECTION = { _id: 0, code: 1, name: 1, level: 1, parentCode: 1, regionPath: 1 } as const;
const column = { code: '村（社区）代码', village: '村（社区）' };

async function byCodes(codes: string[]): Promise<Map<string, RegionRow>> {
  const found = new Map<string, RegionRow>();
  for (let i = 0; i < codes.length; i += 20_000) {
    const rows = await RegionModel.find({ code: { $in: codes.slice(i, i + 20_000) } }, PROJECTION).lean<RegionRow[]>();
    for (const region of rows) found.set(region.code, region);
  }
  return found;
}

export async function loadVillageDirectory(
  scope: Scope,
  refs: VillageRef[],
  areaCode?: string,
): Promise<VillageDirectory> {
  const codes = [...new Set(refs.flatMap((r) => (r.code ? [r.code] : [])))];
  const regions = await byCodes(codes);
  const townshipCodes = codes.filter((c) => !regions.has(c)).map((c) => c.slice(0, 9));
  for (const [code, region] of await byCodes([...new Set(townshipCodes)])) regions.set(code, region);

  // Names are looked up in one county: the one asked for, else the one the sheet's codes lie in.
  let area: RegionRow | null = null;
  const areaVillages: RegionRow[] = [];
  const townshipsByCode = new Map<string, RegionRow>();
  if (refs.some((r) => !r.code && r.villageName)) {
    const counties = new Set(
      [...regions.values()].filter((r) => scope.contains(r.regionPath)).flatMap((r) => r.regionPath.slice(3, 4)),
    );
    const code = areaCode ?? (counties.size === 1 ? [...counties][0]! : scope.regionCode);
    area = await RegionModel.findOne({ code, ...scope.filter() }, PROJECTION).lean<RegionRow>();
    if (!area) throw new NotFound(`地区 ${code}`);
    const inside = await RegionModel.find(
      { regionPath: area.code, level: { $in: ['township', 'village'] } },
      PROJECTION,
    ).lean<RegionRow[]>();
    for (const region of inside) {
      if (region.level === 'township') townshipsByCode.set(region.code, region);
      else areaVillages.push(region);
    }
  }
  const byName = new Map<string, RegionRow[]>();
  for (const village of areaVillages) {
    const key = villageKey(village.name);
    byName.set(key, [...(byName.get(key) ?? []), village]);
  }
  const planned = new Map<string, ResolvedVillage>();

  const byCode = (ref: VillageRef & { code: string }, problems: RowError[]): ResolvedVillage | null => {
    const problem = (message: string) => problems.push({ row: ref.row, column: column.code, message });
    const region = regions.get(ref.code);
    if (region) {
      if (!scope.contains(region.regionPath)) problem(`村（社区）代码 ${ref.code} 不存在或不在您的管辖范围内`);
      else if (region.level !== 'village') problem(`${ref.code} 不是村（社区）级代码`);
      else return { code: region.code, regionPath: region.regionPath };
      return null;
    }
    const township = regions.get(ref.code.slice(0, 9));
    if (township?.level !== 'township' || !scope.contains(township.regionPath)) {
      problem(`村（社区）代码 ${ref.code} 不存在或不在您的管辖范围内`);
      return null;
    }
    const already = planned.get(ref.code);
    if (already) return already;
    if (!ref.villageName) {
      problem(`村（社区）代码 ${ref.code} 在地区树中没有；填写“村（社区）”名称即可在${township.name}下新建该村`);
      return null;
    }
    const regionPath = [...township.regionPath, ref.code];
    const village: ResolvedVillage = {
      code: ref.code,
      regionPath,
      create: {
        code: ref.code,
        name: ref.villageName,
        level: 'village',
        parentCode: township.code,
        regionPath,
        lat: null,
        lng: null,
      },
    };
    planned.set(ref.code, village);
    return village;
  };

  const byNames = (ref: VillageRef, problems: RowError[]): ResolvedVillage | null => {
    const problem = (message: string) => problems.push({ row: ref.row, column: column.village, message });
    const where = area!.name;
    let candidates = byName.get(villageKey(ref.villageName)) ?? [];
    if (ref.townshipName) {
      const key = townshipKey(ref.townshipName);
      candidates = candidates.filter((v) => townshipKey(townshipsByCode.get(v.parentCode ?? '')?.name ?? '') === key);
    }
    if (candidates.length === 1) return { code: candidates[0]!.code, regionPath: candidates[0]!.regionPath };
    if (candidates.length === 0) {
      const inTownship = ref.townshipName ? `乡镇“${ref.townshipName}”下的` : '';
      problem(`在${where}找不到${inTownship}村（社区）“${ref.villageName}”，请核对名称或填写 12 位村（社区）代码`);
    } else {
      const list = candidates
        .slice(0, 5)
        .map((v) => `${v.code}（${townshipsByCode.get(v.parentCode ?? '')?.name ?? ''}${v.name}）`)
        .join('、');
      problem(
        `${where}有 ${candidates.length} 个名为“${ref.villageName}”的村（社区）：${list}，请填写乡镇或村（社区）代码`,
      );
    }
    return null;
  };

  return {
    resolve(ref, problems) {
      if (ref.code) return byCode({ ...ref, code: ref.code }, problems);
      if (ref.villageName) return byNames(ref, problems);
      return null;
    },
    async insertVillages(docs) {
      if (docs.length === 0) return;
      // A parallel import that created the same village first loses nothing: its code is unique.
      await RegionModel.insertMany(docs, { ordered: false }).catch((error: unknown) => {
        const writeErrors = (error as { writeErrors?: { code: number }[] }).writeErrors;
        if (isDuplicateKey(error) || (writeErrors?.length && writeErrors.every((e) => e.code === 11000))) return;
        throw error;
      });
    },
  };
}

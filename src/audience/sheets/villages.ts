// Where a ledger row's group lives: names first, codes checked.
//
// A row naming its township and village is resolved from those names inside one county (the
// one chosen, else the one the sheet's codes or the caller's scope give). Names are compared
// without spaces and width; a village's committee suffixes do not count (东庄 = 东庄村 =
// 东庄村委会). A township name that is not exactly one of the county's is never matched
// silently (东庄 is not taken for 东庄镇, nor 亳城乡 for 亳城镇): it is asked once per sheet,
// with candidates, and the answer (an existing township, or a new local one) is sent with
// the import and remembered as the county's alias. A code is a hint: used when it agrees with
// the names, reported as a conflict naming both when it does not, and ignored (with a
// warning) when it names nothing the county has. A village the township lacks is created
// under it when nothing in the tree resembles it, listed in the report either way; one that
// resembles an official village (or whose code names one) is a candidate to confirm.
//
// Rows without names keep the code-only path: the village is found by its code anywhere in
// the caller's scope (a province's sheet exported by Jingxun has both anyway).
//
// Local codes: NBS assigns township numbers 001–599 within a county and village numbers
// 001–399 within a township (GB/T 10114, NBS coding rules); local townships and villages get
// 901–999, checked against the tree and the shipped list, so they never collide.
import { InvalidInput, NotFound, isDuplicateKey } from '../../lib/errors.js';
import { type RegionAlias, aliasKey, aliasesOf, rememberAliases } from '../../regions/aliases.js';
import { listedCodes } from '../../regions/divisions.js';
import { RegionModel } from '../../regions/model.js';
import type { Scope } from '../../regions/scope.js';
import type { Candidate, RowError, TownshipQuestion, VillageListing } from './report.js';

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
  create?: VillageCreation;
}

export interface VillageCreation {
  code: string;
  name: string;
  level: 'village';
  parentCode: string;
  regionPath: string[];
  lat: null;
  lng: null;
}

export interface VillageRef {
  row: number;
  code: string | null;
  townshipName: string;
  villageName: string;
}

/** Sheet name → township code or "new"; "乡镇/村" → village code or "new". */
export interface PlaceMappings {
  townships?: Record<string, string>;
  villages?: Record<string, string>;
}

export interface VillageDirectory {
  county: Candidate | null;
  resolve(ref: VillageRef, problems: RowError[], warnings: RowError[]): ResolvedVillage | null;
  /** Township names to map, best candidate first (after every row was resolved). */
  townshipQuestions(): TownshipQuestion[];
  /** Villages to confirm (the ones to create are listed from the rows written). */
  villageQuestions(): VillageListing[];
  townshipOf(code: string): Candidate | undefined;
  /** Creates the local townships and villages the written rows need, and remembers the mappings. */
  apply(villages: VillageCreation[]): Promise<{ townshipsCreated: number; villagesCreated: number }>;
}

const VILLAGE_SUFFIXES = ['社区居民委员会', '社区居委会', '村民委员会', '村委会', '居民委员会', '居委会', '社区', '村'];
const TOWNSHIP_SUFFIXES = ['街道办事处', '办事处', '街道', '镇', '乡'];

/** The name without its committee/level suffixes, repeatedly: 郝村村委会, 郝村 and 郝 are one key. */
function nameKey(name: string, suffixes: readonly string[]): string {
  let key = aliasKey(name);
  for (;;) {
    const suffix = suffixes.find((s) => key.endsWith(s) && key.length > s.length);
    if (!suffix) return key;
    key = key.slice(0, -suffix.length);
  }
}
export const villageKey = (name: string) => nameKey(name, VILLAGE_SUFFIXES);
export const townshipKey = (name: string) => nameKey(name, TOWNSHIP_SUFFIXES);

const PROJECTION = { _id: 0, code: 1, name: 1, level: 1, parentCode: 1, regionPath: 1 } as const;
const column = { code: '村（社区）代码', village: '村（社区）', township: '乡镇' };
export const NEW_PLACE = 'new';

async function byCodes(codes: string[]): Promise<Map<string, RegionRow>> {
  const found = new Map<string, RegionRow>();
  for (let i = 0; i < codes.length; i += 20_000) {
    const rows = await RegionModel.find({ code: { $in: codes.slice(i, i + 20_000) } }, PROJECTION).lean<RegionRow[]>();
    for (const region of rows) found.set(region.code, region);
  }
  return found;
}

async function insertRegions(docs: object[]): Promise<number> {
  if (docs.length === 0) return 0;
  // A parallel import that created the same region first loses nothing: its code is unique.
  try {
    await RegionModel.insertMany(docs, { ordered: false });
    return docs.length;
  } catch (error) {
    const failed = error as { writeErrors?: { code: number }[]; insertedDocs?: unknown[] };
    if (isDuplicateKey(error) || (failed.writeErrors?.length && failed.writeErrors.every((e) => e.code === 11000)))
      return failed.insertedDocs?.length ?? 0;
    throw error;
  }
}

/** The county the names are looked up in, or null when no row names a place. */
async function countyOf(
  scope: Scope,
  refs: VillageRef[],
  regions: Map<string, RegionRow>,
  areaCode: string | undefined,
): Promise<RegionRow | null> {
  if (!refs.some((r) => r.townshipName || r.villageName)) return null;
  let code = areaCode;
  if (!code) {
    const counties = new Set(
      [...regions.values()].filter((r) => scope.contains(r.regionPath)).flatMap((r) => r.regionPath.slice(3, 4)),
    );
    code = counties.size === 1 ? [...counties][0]! : scope.regionCode;
  }
  const area = await RegionModel.findOne({ code }, PROJECTION).lean<RegionRow>();
  // A township's admin imports into their township: the county is its parent, the scope still holds.
  if (!area || !(scope.contains(area.regionPath) || area.regionPath.length > 4)) throw new NotFound(`地区 ${code}`);
  if (area.regionPath.length < 4) {
    throw new InvalidInput(
      '表中按名称填写的乡镇、村（社区）需在一个县内查找：请选择导入到哪个县（regionCode，如 410527）',
      'regionCode',
    );
  }
  if (area.regionPath.length === 4) return area;
  const county = await RegionModel.findOne({ code: area.regionPath[3] }, PROJECTION).lean<RegionRow>();
  if (!county) throw new NotFound(`地区 ${area.regionPath[3]}`);
  return county;
}

function parseMapping(raw: Record<string, string> | undefined, field: string): Map<string, string> {
  const mapping = new Map<string, string>();
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (typeof value !== 'string' || !(value === NEW_PLACE || /^\d{9}$|^\d{12}$/.test(value.trim())))
      throw new InvalidInput(`${field}中“${name}”的值应为区划代码或 "new"（新建本地地区）`, field);
    mapping.set(aliasKey(name), value.trim());
  }
  return mapping;
}

export async function loadVillageDirectory(
  scope: Scope,
  refs: VillageRef[],
  areaCode?: string,
  mappings: PlaceMappings = {},
): Promise<VillageDirectory> {
  const codes = [...new Set(refs.flatMap((r) => (r.code ? [r.code] : [])))];
  const regions = await byCodes([...new Set([...codes, ...codes.map((c) => c.slice(0, 9))])]);
  const county = await countyOf(scope, refs, regions, areaCode);

  const townships = new Map<string, RegionRow>();
  const villagesOf = new Map<string, RegionRow[]>(); // township code → villages
  const countyVillages = new Map<string, RegionRow[]>(); // village key → villages of the county
  const townshipByName = new Map<string, RegionRow>();
  const aliases = { township: new Map<string, string>(), village: new Map<string, string>() };
  let listed: Set<string> = new Set();
  if (county) {
    const inside = await RegionModel.find(
      { $and: [{ regionPath: county.code }, scope.filter()], level: { $in: ['township', 'village'] } },
      PROJECTION,
    ).lean<RegionRow[]>();
    for (const region of inside) {
      if (region.level === 'township') {
        townships.set(region.code, region);
        townshipByName.set(aliasKey(region.name), region);
      } else {
        villagesOf.set(region.parentCode!, [...(villagesOf.get(region.parentCode!) ?? []), region]);
        const key = villageKey(region.name);
        countyVillages.set(key, [...(countyVillages.get(key) ?? []), region]);
      }
      regions.set(region.code, region);
    }
    for (const alias of await aliasesOf(county.code)) aliases[alias.kind].set(`${alias.within}/${alias.key}`, alias.targetCode);
    listed = await listedCodes(county.code);
  }
  const where = county?.name ?? '';

  // The answers sent with this import.
  const townshipMapping = parseMapping(mappings.townships, 'townships');
  const villageMapping = parseMapping(mappings.villages, 'villages');
  for (const [name, value] of townshipMapping) {
    if (value !== NEW_PLACE && !townships.has(value))
      throw new InvalidInput(`townships 中“${name}”对应的 ${value} 不是${where}的乡镇代码`, 'townships');
  }
  const remembered: RegionAlias[] = [];

  // Local codes: 901–999 under the parent, never in the tree, the list, or planned already.
  const taken = new Set<string>();
  const localCode = (parent: string): string => {
    for (let n = 901; n <= 999; n += 1) {
      const code = `${parent}${n}`;
      if (!regions.has(code) && !listed.has(code) && !taken.has(code)) {
        taken.add(code);
        return code;
      }
    }
    throw new InvalidInput(`${parent} 下的本地代码已用完（901–999），请在“区划”页整理后再导入`, 'file');
  };

  // Each township name of the sheet, resolved once.
  const newTownships = new Map<string, RegionRow>(); // local code → region to create
  const townshipQuestions = new Map<string, { name: string; rows: number; evidence: Map<string, number> }>();
  const resolvedTownship = new Map<string, RegionRow | null>();
  const townshipFor = (written: string): RegionRow | null => {
    const key = aliasKey(written);
    if (resolvedTownship.has(key)) return resolvedTownship.get(key)!;
    let found: RegionRow | null = townshipByName.get(key) ?? null;
    if (!found && county) {
      const answer = townshipMapping.get(key);
      if (answer === NEW_PLACE) {
        const code = localCode(county.code);
        found = {
          code,
          name: written,
          level: 'township',
          parentCode: county.code,
          regionPath: [...county.regionPath, code],
        };
        newTownships.set(code, found);
      } else if (answer) {
        found = townships.get(answer)!;
        remembered.push({ kind: 'township', within: county.code, key, name: written, targetCode: answer });
      } else {
        const aliased = aliases.township.get(`${county.code}/${key}`);
        found = aliased ? (townships.get(aliased) ?? null) : null;
      }
    }
    resolvedTownship.set(key, found);
    return found;
  };

  const plannedVillages = new Map<string, ResolvedVillage>(); // township code/village key → plan
  const plannedCodes = new Set<string>();
  const villageQuestions = new Map<string, VillageListing>();
  const confirm = (township: RegionRow, name: string, candidates: RegionRow[]) => {
    const key = `${township.code}/${aliasKey(name)}`;
    const question = villageQuestions.get(key) ?? {
      township: { code: township.code, name: township.name },
      name,
      rows: 0,
      action: 'confirm' as const,
      candidates: [],
    };
    question.rows += 1;
    for (const c of candidates)
      if (!question.candidates.some((q) => q.code === c.code)) question.candidates.push({ code: c.code, name: c.name });
    villageQuestions.set(key, question);
  };

  const townshipName = (code: string) => regions.get(code)?.name ?? townships.get(code)?.name ?? code;
  const placeOf = (region: RegionRow) =>
    region.level === 'village' ? `${townshipName(region.parentCode ?? '')}${region.name}` : region.name;

  const byCode = (ref: VillageRef & { code: string }, problems: RowError[]): ResolvedVillage | null => {
    const problem = (message: string) => problems.push({ row: ref.row, column: column.code, message, cause: 'code-unknown' });
    const region = regions.get(ref.code);
    if (region) {
      if (!scope.contains(region.regionPath)) problem(`村（社区）代码 ${ref.code} 不存在或不在您的管辖范围内`);
      else if (region.level !== 'village') problem(`${ref.code} 不是村（社区）级代码`);
      else return { code: region.code, regionPath: region.regionPath };
      return null;
    }
    problem(`村（社区）代码 ${ref.code} 在地区树中没有：请填写乡镇和村（社区）名称，按名称导入`);
    return null;
  };

  const byNames = (ref: VillageRef, problems: RowError[], warnings: RowError[]): ResolvedVillage | null => {
    const problem = (columnName: string, cause: string, message: string) =>
      problems.push({ row: ref.row, column: columnName, message, cause });
    // A code outside the county (or the caller's scope) counts as one the tree lacks: the
    // answer must not tell which codes exist elsewhere.
    const listedRegion = ref.code ? regions.get(ref.code) : undefined;
    const codeRegion =
      listedRegion && county && listedRegion.regionPath.includes(county.code) && scope.contains(listedRegion.regionPath)
        ? listedRegion
        : undefined;
    const codeTownship = ref.code ? townships.get(ref.code.slice(0, 9)) : undefined;
    const vKey = villageKey(ref.villageName);

    // No township written: the village name alone, in the whole county.
    if (!ref.townshipName) {
      if (!ref.villageName) return ref.code ? byCode({ ...ref, code: ref.code }, problems) : null;
      if (codeRegion?.level === 'village') {
        if (villageKey(codeRegion.name) === vKey) return { code: codeRegion.code, regionPath: codeRegion.regionPath };
        problem(
          column.code,
          'code-conflict',
          `代码 ${ref.code} 属于 ${placeOf(codeRegion)}，表中村（社区）为 ${ref.villageName}`,
        );
        return null;
      }
      const candidates = countyVillages.get(vKey) ?? [];
      if (candidates.length === 1) {
        const found = candidates[0]!;
        if (ref.code && codeTownship && codeTownship.code !== found.parentCode) {
          problem(
            column.code,
            'code-conflict',
            `代码 ${ref.code} 属于 ${codeTownship.name}，表中村（社区）${ref.villageName} 在 ${townshipName(found.parentCode!)}`,
          );
          return null;
        }
        if (ref.code) codeIgnored(ref, warnings, found);
        return { code: found.code, regionPath: found.regionPath };
      }
      if (candidates.length === 0) {
        problem(
          column.village,
          'village-unknown',
          `在${where}找不到村（社区）“${ref.villageName}”：请填写乡镇（新设的村会在所填乡镇下新建）`,
        );
      } else {
        const list = candidates
          .slice(0, 5)
          .map((v) => `${v.code}（${placeOf(v)}）`)
          .join('、');
        problem(
          column.village,
          'village-ambiguous',
          `${where}有 ${candidates.length} 个名为“${ref.villageName}”的村（社区）：${list}，请填写乡镇或村（社区）代码`,
        );
      }
      return null;
    }

    const township = townshipFor(ref.townshipName);
    if (!township) {
      const key = aliasKey(ref.townshipName);
      const question = townshipQuestions.get(key) ?? { name: ref.townshipName, rows: 0, evidence: new Map() };
      question.rows += 1;
      for (const v of countyVillages.get(vKey) ?? [])
        question.evidence.set(v.parentCode!, (question.evidence.get(v.parentCode!) ?? 0) + 1);
      townshipQuestions.set(key, question);
      problem(
        column.township,
        'township-unmatched',
        `乡镇“${ref.townshipName}”不在${where}的乡镇名单中，请在导入时确认它对应哪个乡镇（每个名称确认一次）`,
      );
      return null;
    }
    const conflictTownship = (owner: string) =>
      problem(column.code, 'code-conflict', `代码 ${ref.code} 属于 ${owner}，表中乡镇为 ${ref.townshipName}`);

    if (!ref.villageName) {
      if (!ref.code) return null; // the row's own check reported the empty village
      if (codeRegion?.level === 'village' && codeRegion.parentCode === township.code)
        return { code: codeRegion.code, regionPath: codeRegion.regionPath };
      if (codeRegion?.level === 'village') conflictTownship(townshipName(codeRegion.parentCode!));
      else problem(column.village, 'village-empty', `村（社区）为空，代码 ${ref.code} 在${township.name}下没有`);
      return null;
    }

    const inTownship = villagesOf.get(township.code) ?? [];
    const named = inTownship.filter((v) => villageKey(v.name) === vKey);
    if (named.length > 1) {
      problem(
        column.village,
        'village-ambiguous',
        `${township.name}有 ${named.length} 个名为“${ref.villageName}”的村（社区）：${named.map((v) => v.code).join('、')}，请填写村（社区）代码`,
      );
      return null;
    }
    let village: RegionRow | undefined = named[0];
    let createAnyway = false;
    if (!village) {
      // Keyed by the township as the tree names it (what the report lists) or as the sheet wrote it.
      const treeKey = aliasKey(`${township.name}/${ref.villageName}`);
      const mapKey = villageMapping.has(treeKey) ? treeKey : aliasKey(`${ref.townshipName}/${ref.villageName}`);
      const answer = villageMapping.get(mapKey) ?? aliases.village.get(`${township.code}/${aliasKey(ref.villageName)}`);
      if (answer === NEW_PLACE) createAnyway = true;
      else if (answer) {
        village = inTownship.find((v) => v.code === answer);
        if (!village) {
          throw new InvalidInput(
            `villages 中“${ref.townshipName}/${ref.villageName}”对应的 ${answer} 不是${township.name}的村（社区）代码`,
            'villages',
          );
        }
      }
      if (villageMapping.has(mapKey)) {
        remembered.push({
          kind: 'village',
          within: township.code,
          key: aliasKey(ref.villageName),
          name: ref.villageName,
          targetCode: answer!,
        });
      }
    }

    if (village) {
      if (ref.code && ref.code !== village.code) {
        if (codeRegion?.level === 'village') {
          if (codeRegion.parentCode !== township.code) conflictTownship(townshipName(codeRegion.parentCode!));
          else
            problem(
              column.code,
              'code-conflict',
              `代码 ${ref.code} 属于 ${codeRegion.name}，表中村（社区）为 ${ref.villageName}（${township.name}的${village.name}代码为 ${village.code}）`,
            );
          return null;
        }
        if (codeTownship && codeTownship.code !== township.code) {
          conflictTownship(codeTownship.name);
          return null;
        }
        codeIgnored(ref, warnings, village);
      }
      return { code: village.code, regionPath: village.regionPath };
    }

    // The township has no such village.
    if (codeRegion?.level === 'village') {
      if (codeRegion.parentCode !== township.code) conflictTownship(townshipName(codeRegion.parentCode!));
      else if (!createAnyway) {
        confirm(township, ref.villageName, [codeRegion]);
        problem(
          column.code,
          'code-conflict',
          `代码 ${ref.code} 属于 ${codeRegion.name}，表中村（社区）为 ${ref.villageName}：请确认是否同一个村`,
        );
      }
      if (!createAnyway || codeRegion.parentCode !== township.code) return null;
    }
    if (codeTownship && codeTownship.code !== township.code) {
      conflictTownship(codeTownship.name);
      return null;
    }
    if (!createAnyway) {
      const similar = inTownship.filter((v) => {
        const key = villageKey(v.name);
        return Math.min(key.length, vKey.length) >= 2 && (key.includes(vKey) || vKey.includes(key));
      });
      if (similar.length > 0) {
        confirm(township, ref.villageName, similar);
        problem(
          column.village,
          'village-similar',
          `${township.name}下没有村（社区）“${ref.villageName}”，名称相近的有 ${similar.map((v) => v.name).join('、')}：请确认是其中之一，还是新建`,
        );
        return null;
      }
      const elsewhere = (countyVillages.get(vKey) ?? []).filter((v) => v.parentCode !== township.code);
      if (elsewhere.length > 0) {
        problem(
          column.village,
          'village-elsewhere',
          `${township.name}下没有村（社区）“${ref.villageName}”，${elsewhere
            .slice(0, 3)
            .map((v) => `${townshipName(v.parentCode!)}有（${v.code}）`)
            .join('、')}：请把该行的乡镇改为村所在的乡镇`,
        );
        return null;
      }
    }

    const planKey = `${township.code}/${vKey}`;
    const planned = plannedVillages.get(planKey);
    if (planned) return planned;
    const useCode =
      ref.code && !codeRegion && ref.code.slice(0, 9) === township.code && !plannedCodes.has(ref.code) ? ref.code : null;
    if (ref.code && !useCode && !codeRegion) codeIgnored(ref, warnings, null);
    const code = useCode ?? localCode(township.code);
    plannedCodes.add(code);
    const regionPath = [...township.regionPath, code];
    const plan: ResolvedVillage = {
      code,
      regionPath,
      create: {
        code,
        name: ref.villageName,
        level: 'village',
        parentCode: township.code,
        regionPath,
        lat: null,
        lng: null,
      },
    };
    plannedVillages.set(planKey, plan);
    return plan;
  };

  function codeIgnored(ref: VillageRef, warnings: RowError[], used: RegionRow | null) {
    warnings.push({
      row: ref.row,
      column: column.code,
      cause: 'code-ignored',
      message: used
        ? `代码 ${ref.code} 在地区树中没有，已按名称对应到 ${placeOf(used)}（${used.code}）`
        : `代码 ${ref.code} 在地区树中没有，已按名称在所填乡镇下新建该村`,
    });
  }

  return {
    county: county ? { code: county.code, name: county.name } : null,
    resolve(ref, problems, warnings) {
      if (ref.townshipName || ref.villageName) return byNames(ref, problems, warnings);
      if (ref.code) return byCode({ ...ref, code: ref.code }, problems);
      return null;
    },
    townshipQuestions() {
      return [...townshipQuestions.values()].map((q) => ({
        name: q.name,
        rows: q.rows,
        candidates: candidatesFor(q.name, q.evidence),
      }));
    },
    villageQuestions() {
      return [...villageQuestions.values()];
    },
    townshipOf(code) {
      const township = townships.get(code) ?? newTownships.get(code);
      return township ? { code: township.code, name: township.name } : undefined;
    },
    async apply(villages) {
      const needed = new Set(villages.map((v) => v.parentCode));
      const townshipDocs = [...newTownships.values()]
        .filter((t) => needed.has(t.code))
        .map((t) => ({ ...t, lat: null, lng: null }));
      // Parents first: a reader never sees a village whose township is missing.
      const townshipsCreated = await insertRegions(townshipDocs);
      const villagesCreated = await insertRegions(villages);
      const unique = new Map(remembered.map((a) => [`${a.kind}:${a.within}:${a.key}`, a]));
      if (county) await rememberAliases(county.code, [...unique.values()]);
      return { townshipsCreated, villagesCreated };
    },
  };

  /** Best first: the same stem (亳城乡 → 亳城镇), then the townships holding the rows' villages. */
  function candidatesFor(name: string, evidence: Map<string, number>): Candidate[] {
    const stem = townshipKey(name);
    const scored = [...townships.values()].map((t) => ({
      t,
      score: (townshipKey(t.name) === stem ? 1_000_000 : 0) + (evidence.get(t.code) ?? 0),
    }));
    return scored
      .filter((s) => s.score > 0)
      .sort((a, b) => b.score - a.score || a.t.code.localeCompare(b.t.code))
      .map(({ t }) => ({ code: t.code, name: t.name }));
  }
}

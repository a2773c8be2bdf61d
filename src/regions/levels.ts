// The administrative levels of the region tree and their code shapes.
// Province, city and county codes follow GB/T 2260 (6 digits); townships GB/T 10114
// (9 digits); villages the 12-digit statistical division code. Staff sheets often write
// every level as 12 digits padded with zeros, so those are shortened to the level's length.
export const REGION_LEVELS = ['country', 'province', 'city', 'county', 'township', 'village'] as const;
export type RegionLevel = (typeof REGION_LEVELS)[number];

export const ROOT_REGION_CODE = '000000';
export const ROOT_REGION_NAME = '全国';

const CODE_LENGTH: Record<RegionLevel, number> = {
  country: 6,
  province: 6,
  city: 6,
  county: 6,
  township: 9,
  village: 12,
};

/** How many leading digits a level's code shares with its descendants. */
const SIGNIFICANT_DIGITS: Record<RegionLevel, number> = {
  country: 0,
  province: 2,
  city: 4,
  county: 6,
  township: 9,
  village: 12,
};

export function childLevel(level: RegionLevel): RegionLevel | undefined {
  return REGION_LEVELS[REGION_LEVELS.indexOf(level) + 1];
}

export function levelLabel(level: RegionLevel): string {
  return { country: '全国', province: '省', city: '市', county: '县', township: '乡镇', village: '村/社区' }[level];
}

/** Canonical code for a level, or undefined when the code cannot belong to that level. */
export function canonicalRegionCode(raw: string, level: RegionLevel): string | undefined {
  const code = raw.trim();
  if (!/^\d+$/.test(code)) return undefined;
  const length = CODE_LENGTH[level];
  if (code.length === length) return code;
  if (code.length === 12 && /^0*$/.test(code.slice(length))) return code.slice(0, length);
  return undefined;
}

/** A child's code must continue its parent's code (e.g. county 440106 under city 440100). */
export function codeFitsParent(code: string, parentCode: string, parentLevel: RegionLevel): boolean {
  const digits = SIGNIFICANT_DIGITS[parentLevel];
  return code.slice(0, digits) === parentCode.slice(0, digits);
}

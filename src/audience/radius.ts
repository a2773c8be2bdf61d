// "Villages within R km of a point": great-circle distance over the village coordinates of
// the region tree (WGS-84 degrees, haversine on a sphere of the Earth's mean radius). FerretDB
// has no geospatial index, so the villages are read with their coordinates and measured here.
import { InvalidInput } from '../lib/errors.js';
import { regionDirectory, warmRegions } from '../regions/directory.js';
import type { Scope } from '../regions/scope.js';

export interface Near {
  lat: number;
  lng: number;
  radiusKm: number;
}

/** IUGG mean Earth radius. */
export const EARTH_RADIUS_KM = 6371.0088;
/** Wide enough for a wanted notice across a city's counties; beyond it a radius is a typing mistake. */
export const MAX_RADIUS_KM = 200;
/** The bounding box of China's territory (incl. Hainan and the South China Sea islands up to 3.5°N). */
const CHINA = { minLat: 3.5, maxLat: 53.6, minLng: 73.4, maxLng: 135.1 };

export function greatCircleKm(lat1: number, lng1: number, lat2: number, lng2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLng = (lng2 - lng1) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Checks a radius term; every refusal names the field. */
export function checkNear(near: unknown, field = 'near'): Near {
  if (!near || typeof near !== 'object') throw new InvalidInput('距离范围需包含 lat、lng 和 radiusKm', field);
  const { lat, lng, radiusKm } = near as Record<string, unknown>;
  for (const [name, value] of [
    ['lat', lat],
    ['lng', lng],
    ['radiusKm', radiusKm],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new InvalidInput(`字段 "${field}.${name}" 应为数字（不能是文字）`, `${field}.${name}`);
    }
  }
  const point = { lat: lat as number, lng: lng as number, radiusKm: radiusKm as number };
  if (point.radiusKm <= 0) throw new InvalidInput('半径必须大于 0 公里', `${field}.radiusKm`);
  if (point.radiusKm > MAX_RADIUS_KM) {
    throw new InvalidInput(`半径最大 ${MAX_RADIUS_KM} 公里`, `${field}.radiusKm`);
  }
  if (point.lat < CHINA.minLat || point.lat > CHINA.maxLat) {
    throw new InvalidInput(`纬度 ${point.lat} 不在中国境内（${CHINA.minLat}–${CHINA.maxLat}°N）`, `${field}.lat`);
  }
  if (point.lng < CHINA.minLng || point.lng > CHINA.maxLng) {
    throw new InvalidInput(`经度 ${point.lng} 不在中国境内（${CHINA.minLng}–${CHINA.maxLng}°E）`, `${field}.lng`);
  }
  return point;
}

export interface RadiusVillages {
  /** Codes of the villages in scope within the radius, with their region paths. */
  within: Map<string, string[]>;
  /** Villages in scope that have no coordinates: the radius cannot say whether they are inside. */
  withoutCoordinates: { code: string; name: string }[];
}

/**
 * Reads the regions into this process's copy now (regions/directory.ts: every village's
 * coordinates are in it), so that the first radius question after a start is answered from
 * memory (the read takes seconds on a province). Started, not awaited, by every role that
 * answers radius questions (main.ts: api, scheduler).
 */
export async function warmVillages(): Promise<void> {
  await warmRegions();
}

/** The villages of a scope within `near.radiusKm` of the point. */
export async function villagesNear(scope: Scope, near: Near): Promise<RadiusVillages> {
  const villages = (await regionDirectory()).villages.filter((village) => scope.contains(village.regionPath));
  const within = new Map<string, string[]>();
  const withoutCoordinates: { code: string; name: string }[] = [];
  for (const village of villages) {
    if (typeof village.lat !== 'number' || typeof village.lng !== 'number') {
      withoutCoordinates.push({ code: village.code, name: village.name });
      continue;
    }
    if (greatCircleKm(near.lat, near.lng, village.lat, village.lng) <= near.radiusKm) {
      within.set(village.code, village.regionPath);
    }
  }
  withoutCoordinates.sort((a, b) => a.code.localeCompare(b.code));
  return { within, withoutCoordinates };
}

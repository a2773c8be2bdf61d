// The wanted notice's case fields beyond the card: the case officer, the incident's location
// (coordinates, or a village of the tree whose coordinates are taken) and a radius around it.
import { InvalidInput } from '../lib/errors.js';
import type { RegionService } from '../regions/service.js';

export interface WantedFields {
  caseSummary: string;
  suspectDescription: string;
  reward: string;
  contactName: string;
  contactPhone: string;
  deadline: string;
  contactUserId?: string | null;
  incident?: { lat: number; lng: number; villageCode?: string | null } | null;
  radiusKm?: number | null;
}

/** Largest radius a campaign may target: well beyond a county (~40 km across). */
export const MAX_RADIUS_KM = 100;

// China's extent, generously (Zengmu Ansha to Mohe, Pamirs to the Wusu Li): a point outside
// is a typing error (swapped lat/lng, a missing minus in the wrong place), not a real incident.
const CHINA = { minLat: 3.5, maxLat: 53.6, minLng: 73.4, maxLng: 135.1 };

function checkPoint(lat: number, lng: number): void {
  if (!Number.isFinite(lat) || lat < -90 || lat > 90)
    throw new InvalidInput('纬度应在 -90 到 90 之间', 'wanted.incident.lat');
  if (!Number.isFinite(lng) || lng < -180 || lng > 180)
    throw new InvalidInput('经度应在 -180 到 180 之间', 'wanted.incident.lng');
  if (lat < CHINA.minLat || lat > CHINA.maxLat || lng < CHINA.minLng || lng > CHINA.maxLng) {
    throw new InvalidInput(`案发地点（北纬 ${lat}，东经 ${lng}）不在中国境内，请检查经纬度是否填反`, 'wanted.incident');
  }
}

type WantedInput = Omit<WantedFields, 'incident'> & {
  incident?: { lat?: number; lng?: number; villageCode?: string | null } | null;
};

/** Checks and completes the case fields; a village picked from the tree lends its coordinates. */
export async function resolveWanted(
  wanted: WantedInput | null,
  regions: RegionService,
  /** Whether the user may be the case officer of a notice at `regionPath` (active staff in its line). */
  caseOfficerOk: (id: string, regionPath: string[]) => Promise<boolean>,
  regionPath: string[],
): Promise<WantedFields | null> {
  if (!wanted) return null;
  const contactUserId = wanted.contactUserId ?? null;
  // One answer whatever the reason, so user ids cannot be probed (issue 26.11).
  if (contactUserId && !(await caseOfficerOk(contactUserId, regionPath))) {
    throw new InvalidInput(
      `办案民警（用户 ${contactUserId}）不存在、已停用，或不是本通告管辖范围内的民警`,
      'wanted.contactUserId',
    );
  }
  let incident: WantedFields['incident'] = null;
  const given = wanted.incident ?? null;
  if (given) {
    const villageCode = given.villageCode ?? null;
    if ((given.lat === undefined) !== (given.lng === undefined)) {
      throw new InvalidInput(
        '经纬度要同时填写（lat 和 lng）',
        given.lat === undefined ? 'wanted.incident.lat' : 'wanted.incident.lng',
      );
    }
    if (given.lat !== undefined && given.lng !== undefined) {
      checkPoint(given.lat, given.lng);
      incident = { lat: given.lat, lng: given.lng, villageCode };
    } else if (villageCode) {
      const village = await regions.find(villageCode);
      if (!village) throw new InvalidInput(`地区 ${villageCode} 不存在`, 'wanted.incident.villageCode');
      if (village.lat == null || village.lng == null) {
        throw new InvalidInput(
          `${village.name}（${villageCode}）没有坐标：请先为该村填写经纬度，或直接填写案发地点的经纬度`,
          'wanted.incident.villageCode',
        );
      }
      incident = { lat: village.lat, lng: village.lng, villageCode };
    } else {
      throw new InvalidInput('案发地点需要经纬度（lat、lng）或村的代码（villageCode）', 'wanted.incident');
    }
  }
  const radiusKm = wanted.radiusKm ?? null;
  if (radiusKm !== null) {
    if (!incident) throw new InvalidInput('填写半径前请先填写案发地点', 'wanted.radiusKm');
    if (!Number.isFinite(radiusKm) || radiusKm <= 0) throw new InvalidInput('半径必须大于 0 公里', 'wanted.radiusKm');
    if (radiusKm > MAX_RADIUS_KM) throw new InvalidInput(`半径最大 ${MAX_RADIUS_KM} 公里`, 'wanted.radiusKm');
  }
  return { ...wanted, contactUserId, incident, radiusKm };
}

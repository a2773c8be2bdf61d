// Demo directory generator. One county (the default): 内黄县 (410527) as the shipped
// division list has it — 17 townships, 532 villages with their official codes and names —
// with plausible village coordinates (35.8–36.1°N, 114.7–115.1°E) and 595 groups of about
// 200,000 members, the shape of SPEC §1. Asked for more groups: a synthetic province
// (演示省, 990000) made of counties of that shape, for benchmarks.
// Deterministic (seeded) and idempotent: regions and groups are inserted only when missing,
// so a second run changes nothing. Channels are mixed and point at the local robot doubles;
// demoRobots() lists the robots the doubles must know.

import type { GroupService } from '../src/audience/groups.js';
import { GroupModel } from '../src/audience/model.js';
import type { ChannelCredentials } from '../src/channels/credentials.js';
import type { RobotConfig } from '../src/channels/doubles/types.js';
import { seededRandom } from '../src/lib/seeded-random.js';
import { RegionModel } from '../src/regions/model.js';
import { Scope } from '../src/regions/scope.js';
import { seedCounty } from '../src/regions/seed.js';

export const COUNTY_SHAPE = { townships: 17, villages: 532, groups: 595, members: 200_000 };

/** The demo county: a real county's shape from the national division list. */
export const DEMO_COUNTY = { code: '410527', name: '内黄县' };
/** Where its villages are placed (WGS-84), roughly the county's extent. */
export const DEMO_COUNTY_BOUNDS = { south: 35.8, north: 36.1, west: 114.7, east: 115.1 };

const PROVINCE = { code: '990000', name: '演示省' };
const TOWNSHIP_NAMES = [
  '城关镇',
  '东山乡',
  '西河镇',
  '南岭乡',
  '北坪镇',
  '石桥镇',
  '青山乡',
  '白沙镇',
  '长岗乡',
  '新塘镇',
  '龙泉镇',
  '杨柳乡',
  '高田镇',
  '马头乡',
  '黄坑镇',
  '梅林乡',
  '双溪镇',
];
const VILLAGE_WORDS = [
  '东',
  '西',
  '南',
  '北',
  '上',
  '下',
  '前',
  '后',
  '新',
  '老',
  '大',
  '小',
  '中',
  '高',
  '石',
  '河',
  '山',
  '林',
  '桥',
  '塘',
];
const TAGS = ['重点村', '学校', '商户', '景区', '留守老人'];

export interface DemoOptions {
  /** Total groups: 595 = one county (default); 50,000 = a province for benchmarks. */
  groups: number;
  /** Where the robot doubles listen (webhook URLs embed it). */
  doublesUrl: string;
  onProgress?: (stage: string, done: number, total: number) => void;
}

interface DemoGroup {
  index: number;
  name: string;
  regionCode: string;
  regionPath: string[];
  credentials: ChannelCredentials;
  memberCount: number;
  officerName: string;
  officerPhone: string;
  tags: string[];
}

/** The channel mix of a county: mostly WeCom, then DingTalk, Feishu, manual forwarding and a county platform. */
export function demoCredentials(index: number, doublesUrl: string): ChannelCredentials {
  const id = String(index).padStart(6, '0');
  const slot = index % 20;
  if (slot < 9) return { kind: 'wecom', key: `demo-wecom-${id}` };
  if (slot < 13)
    return { kind: 'dingtalk', accessToken: `demo-dingtalk-${id}`, secret: `SECdemo-secret-${id}`, keyword: null };
  if (slot < 16)
    return { kind: 'feishu', hookId: `demo-feishu-${id}`, secret: `demo-feishu-secret-${id}`, keyword: null };
  if (slot < 19) return { kind: 'manual' };
  return { kind: 'webhook', url: `${doublesUrl}/webhook/demo-webhook-${id}`, secret: `demo-webhook-secret-${id}` };
}

export function demoRobots(groups: number, doublesUrl: string): RobotConfig[] {
  const robots: RobotConfig[] = [];
  for (let index = 0; index < groups; index += 1) {
    const c = demoCredentials(index, doublesUrl);
    if (c.kind === 'wecom') robots.push({ platform: 'wecom', key: c.key });
    if (c.kind === 'dingtalk') robots.push({ platform: 'dingtalk', token: c.accessToken, secret: c.secret });
    if (c.kind === 'feishu') robots.push({ platform: 'feishu', hookId: c.hookId, secret: c.secret });
    if (c.kind === 'webhook') robots.push({ platform: 'webhook', id: c.url.split('/').pop()!, secret: c.secret });
  }
  return robots;
}

interface RegionRow {
  code: string;
  name: string;
  level: string;
  parentCode: string;
  regionPath: string[];
  lat?: number;
  lng?: number;
}

function* demoTree(groups: number): Generator<{ regions: RegionRow[]; groups: DemoGroup[] }> {
  const rand = seededRandom(2023);
  const countyCount = Math.ceil(groups / COUNTY_SHAPE.groups);
  let groupIndex = 0;
  const root = ['000000', PROVINCE.code];
  for (let c = 0; c < countyCount && groupIndex < groups; c += 1) {
    const cityCode = `99${String(1 + Math.floor(c / 10)).padStart(2, '0')}00`;
    const countyCode = `${cityCode.slice(0, 4)}${String(1 + (c % 10)).padStart(2, '0')}`;
    const regions: RegionRow[] = [];
    if (c % 10 === 0) {
      regions.push({
        code: cityCode,
        name: `演示${1 + Math.floor(c / 10)}市`,
        level: 'city',
        parentCode: PROVINCE.code,
        regionPath: [...root, cityCode],
      });
    }
    const countyPath = [...root, cityCode, countyCode];
    regions.push({
      code: countyCode,
      name: c === 0 ? '民声县' : `演示${c + 1}县`,
      level: 'county',
      parentCode: cityCode,
      regionPath: countyPath,
    });
    const countyGroups: DemoGroup[] = [];
    // 545 villages over 17 townships (32 each, the first one 33); 50 villages have a second group.
    let village = 0;
    for (let t = 0; t < COUNTY_SHAPE.townships; t += 1) {
      const townshipCode = `${countyCode}${String(t + 1).padStart(3, '0')}`;
      const townshipPath = [...countyPath, townshipCode];
      regions.push({
        code: townshipCode,
        name: TOWNSHIP_NAMES[t]!,
        level: 'township',
        parentCode: countyCode,
        regionPath: townshipPath,
      });
      const villagesHere = t === 0 ? 33 : 32;
      for (let v = 0; v < villagesHere; v += 1, village += 1) {
        const villageCode = `${townshipCode}${String(v + 1).padStart(3, '0')}`;
        const word = `${VILLAGE_WORDS[v % VILLAGE_WORDS.length]}${VILLAGE_WORDS[(v * 7 + t) % VILLAGE_WORDS.length]}`;
        const name = v % 8 === 0 ? `${word}社区` : `${word}村`;
        regions.push({
          code: villageCode,
          name,
          level: 'village',
          parentCode: townshipCode,
          regionPath: [...townshipPath, villageCode],
          lat: 27 + rand() * 2,
          lng: 114 + rand() * 2,
        });
        const groupsHere = village % 11 === 0 && village / 11 < 50 ? 2 : 1;
        for (let g = 0; g < groupsHere && groupIndex < groups; g += 1, groupIndex += 1) {
          countyGroups.push({
            index: groupIndex,
            name: g === 0 ? `${name}民声微信群` : `${name}民声微信2群`,
            regionCode: villageCode,
            regionPath: [...townshipPath, villageCode],
            credentials: {} as ChannelCredentials,
            // ~336 members on average: 595 groups ≈ 200,000 members.
            memberCount: 120 + Math.floor(rand() * 432),
            officerName: `${'张王李赵刘陈杨黄'[t % 8]}警官`,
            officerPhone: `139${String(70000000 + t * 1000 + c).padStart(8, '0')}`,
            tags: rand() < 0.3 ? [TAGS[Math.floor(rand() * TAGS.length)]!] : [],
          });
        }
      }
    }
    yield { regions, groups: countyGroups };
  }
}

const BATCH = 1_000;

/** Inserts documents, skipping those a unique index says exist already (a parallel run). */
async function insertMissing(model: typeof RegionModel | typeof GroupModel, docs: object[]): Promise<number> {
  if (docs.length === 0) return 0;
  try {
    const insert = model as unknown as { insertMany(d: object[], o: object): Promise<{ insertedCount: number }> };
    return (await insert.insertMany(docs, { ordered: false, rawResult: true })).insertedCount;
  } catch (error) {
    const inserted = error as {
      insertedDocs?: unknown[];
      code?: number;
      writeErrors?: { code?: number; err?: { code?: number } }[];
    };
    // Mongoose hands the driver's write errors on as plain objects ({ err: { code } }).
    const duplicatesOnly = (inserted.writeErrors ?? [{ code: inserted.code ?? 0 }]).every(
      (e) => (e.code ?? e.err?.code) === 11000,
    );
    if (!duplicatesOnly) throw error;
    return inserted.insertedDocs?.length ?? 0;
  }
}

/**
 * Writes the demo directory; returns what it created (a second run creates nothing).
 * Everything is inserted unordered and the unique indexes (region code; group village and
 * name) turn what exists into duplicates: reading what exists first is a collection scan on
 * FerretDB (filters other than _id are not pushed down to SQLite), one per county, which
 * made seeding the 50,000-group province quadratic (73 s at 20,000 groups, 60 of them scans).
 */
export async function seedDemo(
  groupsService: GroupService,
  options: DemoOptions,
): Promise<{ regionsCreated: number; groupsCreated: number }> {
  return options.groups <= COUNTY_SHAPE.groups
    ? seedDemoCounty(groupsService, options)
    : seedDemoProvince(groupsService, options);
}

const OFFICER_SURNAMES = '张王李赵刘陈杨黄周吴徐孙马朱胡郭何';

/**
 * Township centres spread over the county's extent (a jittered 5 × 4 grid), each village
 * within about 3 km of its township's centre: good enough to try distance targeting.
 */
function villageCoordinates(
  townshipCodes: string[],
  villages: { code: string; townshipCode: string }[],
): Map<string, { lat: number; lng: number }> {
  const rand = seededRandom(410527);
  const b = DEMO_COUNTY_BOUNDS;
  const centres = new Map<string, { lat: number; lng: number }>();
  townshipCodes.forEach((code, i) => {
    const col = i % 5;
    const row = Math.floor(i / 5);
    centres.set(code, {
      lat: b.south + 0.04 + ((row + 0.2 + rand() * 0.6) / 4) * (b.north - b.south - 0.08),
      lng: b.west + 0.04 + ((col + 0.2 + rand() * 0.6) / 5) * (b.east - b.west - 0.08),
    });
  });
  const round = (x: number) => Math.round(x * 1e6) / 1e6;
  const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
  const out = new Map<string, { lat: number; lng: number }>();
  for (const village of villages) {
    const centre = centres.get(village.townshipCode)!;
    out.set(village.code, {
      lat: round(clamp(centre.lat + (rand() - 0.5) * 0.06, b.south, b.north)),
      lng: round(clamp(centre.lng + (rand() - 0.5) * 0.07, b.west, b.east)),
    });
  }
  return out;
}

/** The demo county: seeded from the division list, coordinates on villages that have none, then its groups. */
async function seedDemoCounty(
  groupsService: GroupService,
  options: DemoOptions,
): Promise<{ regionsCreated: number; groupsCreated: number }> {
  const seeded = await seedCounty(new Scope('000000'), DEMO_COUNTY.code);
  const regions = await RegionModel.find(
    { regionPath: DEMO_COUNTY.code, level: { $in: ['township', 'village'] } },
    { code: 1, name: 1, level: 1, parentCode: 1, regionPath: 1, lat: 1 },
  )
    .sort({ code: 1 })
    .lean<
      {
        _id: unknown;
        code: string;
        name: string;
        level: string;
        parentCode: string;
        regionPath: string[];
        lat: number | null;
      }[]
    >();
  const townships = regions.filter((r) => r.level === 'township').map((r) => r.code);
  const villages = regions.filter((r) => r.level === 'village');
  const coordinates = villageCoordinates(
    townships,
    villages.map((v) => ({ code: v.code, townshipCode: v.parentCode })),
  );
  // By _id: an update filtered on anything else scans the collection on FerretDB.
  const placements = villages
    .filter((v) => v.lat === null || v.lat === undefined)
    .map((v) => ({ updateOne: { filter: { _id: v._id }, update: { $set: coordinates.get(v.code)! } } }));
  for (let i = 0; i < placements.length; i += 20) await RegionModel.bulkWrite(placements.slice(i, i + 20) as never);

  const rand = seededRandom(2023);
  const groups: DemoGroup[] = [];
  // 595 groups over 532 villages: the first 63 villages (one in eight or so) have a second group.
  const extra = options.groups - villages.length;
  for (let v = 0; v < villages.length && groups.length < options.groups; v += 1) {
    const village = villages[v]!;
    const t = townships.indexOf(village.parentCode);
    const here = v % 8 === 0 && Math.floor(v / 8) < extra ? 2 : 1;
    for (let g = 0; g < here && groups.length < options.groups; g += 1) {
      groups.push({
        index: groups.length,
        name: g === 0 ? `${village.name}民声微信群` : `${village.name}民声微信2群`,
        regionCode: village.code,
        regionPath: village.regionPath,
        credentials: {} as ChannelCredentials,
        memberCount: 120 + Math.floor(rand() * 432),
        officerName: `${OFFICER_SURNAMES[t % OFFICER_SURNAMES.length]}警官`,
        officerPhone: `139${String(72000000 + t * 1000).padStart(8, '0')}`,
        tags: rand() < 0.3 ? [TAGS[Math.floor(rand() * TAGS.length)]!] : [],
      });
    }
  }
  const groupsCreated = await insertGroups(groupsService, options, groups, 0);
  return { regionsCreated: seeded.created, groupsCreated };
}

async function seedDemoProvince(
  groupsService: GroupService,
  options: DemoOptions,
): Promise<{ regionsCreated: number; groupsCreated: number }> {
  let regionsCreated = await insertMissing(RegionModel, [
    {
      ...PROVINCE,
      level: 'province',
      parentCode: '000000',
      regionPath: ['000000', PROVINCE.code],
      lat: null,
      lng: null,
    },
  ]);
  let groupsCreated = 0;
  let groupsDone = 0;
  for (const county of demoTree(options.groups)) {
    const regions = county.regions.map((r) => ({ lat: null, lng: null, ...r }));
    for (let i = 0; i < regions.length; i += BATCH)
      regionsCreated += await insertMissing(RegionModel, regions.slice(i, i + BATCH));
    groupsCreated += await insertGroups(groupsService, options, county.groups, groupsDone);
    groupsDone += county.groups.length;
  }
  return { regionsCreated, groupsCreated };
}

/** Inserts the county's groups that do not exist yet; returns how many it created. */
async function insertGroups(
  groupsService: GroupService,
  options: DemoOptions,
  groups: DemoGroup[],
  doneBefore: number,
): Promise<number> {
  let created = 0;
  for (let i = 0; i < groups.length; i += BATCH) {
    const slice = groups.slice(i, i + BATCH);
    const docs = slice.map((group) => {
      const credentials = demoCredentials(group.index, options.doublesUrl);
      return {
        name: group.name,
        regionCode: group.regionCode,
        regionPath: group.regionPath,
        channelKind: credentials.kind,
        credentialsSealed: groupsService.sealCredentials(credentials),
        memberCount: group.memberCount,
        memberCountUpdatedAt: new Date('2026-01-01T00:00:00Z'),
        officerName: group.officerName,
        officerPhone: group.officerPhone,
        tags: group.tags,
        active: true,
        flaggedAt: null,
        flagReason: null,
      };
    });
    created += await insertMissing(GroupModel, docs);
    options.onProgress?.('groups', doneBefore + i + slice.length, options.groups);
  }
  return created;
}

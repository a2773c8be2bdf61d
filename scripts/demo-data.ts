// Demo directory generator: the county of SPEC §1 (17 townships, 545 villages, 595 groups,
// about 200,000 members) or, asked for more groups, a province made of such counties.
// Deterministic (seeded) and idempotent: regions are upserted by code and groups by
// (village, name) with $setOnInsert, so a second run changes nothing. Channels are mixed
// and point at the local robot doubles; demoRobots() lists the robots the doubles must know.
import type { ChannelCredentials } from '../src/channels/credentials.js';
import type { GroupService } from '../src/audience/groups.js';
import { GroupModel } from '../src/audience/model.js';
import type { RobotConfig } from '../src/channels/doubles/types.js';
import { seededRandom } from '../src/lib/seeded-random.js';
import { RegionModel } from '../src/regions/model.js';

export const COUNTY_SHAPE = { townships: 17, villages: 545, groups: 595, members: 200_000 };

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
    const inserted = error as { insertedDocs?: unknown[]; code?: number; writeErrors?: { code: number }[] };
    const duplicatesOnly = (inserted.writeErrors ?? [{ code: inserted.code ?? 0 }]).every((e) => e.code === 11000);
    if (!duplicatesOnly) throw error;
    return inserted.insertedDocs?.length ?? 0;
  }
}

/**
 * Writes the demo directory; returns what it created (a second run creates nothing).
 * Existing codes and group identities are read once per county and only missing documents
 * inserted: an upsert per document is a collection scan on FerretDB (filters other than
 * _id are not pushed down to SQLite), which made 595 upserts take over 30 s.
 */
export async function seedDemo(
  groupsService: GroupService,
  options: DemoOptions,
): Promise<{ regionsCreated: number; groupsCreated: number }> {
  let regionsCreated = 0;
  if (!(await RegionModel.exists({ code: PROVINCE.code }))) {
    regionsCreated += await insertMissing(RegionModel, [
      {
        ...PROVINCE,
        level: 'province',
        parentCode: '000000',
        regionPath: ['000000', PROVINCE.code],
        lat: null,
        lng: null,
      },
    ]);
  }
  let groupsCreated = 0;
  let groupsDone = 0;
  for (const county of demoTree(options.groups)) {
    const countyCode = county.regions.find((r) => r.level === 'county')!.code;
    const knownRegions = new Set(
      (await RegionModel.find({ regionPath: countyCode }, { _id: 0, code: 1 }).lean<{ code: string }[]>()).map(
        (r) => r.code,
      ),
    );
    const cityCode = county.regions.find((r) => r.level === 'city')?.code;
    if (cityCode && (await RegionModel.exists({ code: cityCode }))) knownRegions.add(cityCode);
    const newRegions = county.regions
      .filter((r) => !knownRegions.has(r.code))
      .map((r) => ({ lat: null, lng: null, ...r }));
    for (let i = 0; i < newRegions.length; i += BATCH)
      regionsCreated += await insertMissing(RegionModel, newRegions.slice(i, i + BATCH));

    const knownGroups = new Set(
      (
        await GroupModel.find({ regionPath: countyCode }, { _id: 0, regionCode: 1, name: 1 }).lean<
          { regionCode: string; name: string }[]
        >()
      ).map((g) => `${g.regionCode}/${g.name}`),
    );
    for (let i = 0; i < county.groups.length; i += BATCH) {
      const slice = county.groups.slice(i, i + BATCH);
      const docs = slice
        .filter((group) => !knownGroups.has(`${group.regionCode}/${group.name}`))
        .map((group) => {
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
      groupsCreated += await insertMissing(GroupModel, docs);
      groupsDone += slice.length;
      options.onProgress?.('groups', groupsDone, options.groups);
    }
  }
  return { regionsCreated, groupsCreated };
}

// Audience selection: region subtrees ∪ tags ∪ explicit groups − exclusions, always inside
// the caller's scope, over active groups that are not flagged. Totals come from one
// $group by village (the database sums; only one row per village comes back); the engine
// reads the selected groups page by page on _id, so 50,000 groups are never in memory at once.
import { createHash } from 'node:crypto';
import mongoose from 'mongoose';
import { InvalidInput, NotFound } from '../lib/errors.js';
import { RegionModel } from '../regions/model.js';
import type { Scope } from '../regions/scope.js';
import type { ChannelCredentials, ChannelKind } from '../channels/credentials.js';
import type { GroupService, Officer } from './groups.js';
import { type GroupDoc, GroupModel } from './model.js';

export interface AudienceSpec {
  regions?: string[];
  tags?: string[];
  groups?: string[];
  excludeRegions?: string[];
  excludeTags?: string[];
  excludeGroups?: string[];
}

export interface AudienceTotals {
  groupCount: number;
  villageCount: number;
  memberTotal: number;
}

/** One selected group with everything a send needs (credentials opened). */
export interface AudienceMember {
  groupId: string;
  groupName: string;
  channelKind: ChannelKind;
  credentials: ChannelCredentials;
  memberCount: number;
  regionCode: string;
  /** Root first: root, province, city, county, township, village. */
  regionPath: string[];
  countyCode: string | null;
  townshipCode: string | null;
  villageName: string;
  townshipName: string | null;
  countyName: string | null;
  officer: Officer | null;
  /**
   * Stable, non-secret id of the robot behind the group (a hash of its key/token/URL), for
   * the engine's per-robot rate limits: groups sharing one robot share one bucket.
   */
  robotKey: string;
}

/** kind + 16 hex of sha256 over the credential that names the robot; manual: one per group. */
export function robotKeyOf(credentials: ChannelCredentials, groupId: string): string {
  const name =
    credentials.kind === 'wecom'
      ? credentials.key
      : credentials.kind === 'dingtalk'
        ? credentials.accessToken
        : credentials.kind === 'feishu'
          ? credentials.hookId
          : credentials.kind === 'webhook'
            ? credentials.url
            : groupId;
  return `${credentials.kind}:${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}

const MAX_ITEMS = 5_000;

function list(values: string[] | undefined, field: string): string[] {
  const cleaned = [...new Set((values ?? []).map((v) => v.trim()).filter(Boolean))];
  if (cleaned.length > MAX_ITEMS) throw new InvalidInput(`${field} 最多 ${MAX_ITEMS} 项`, field);
  return cleaned;
}

function objectIds(values: string[], field: string): mongoose.Types.ObjectId[] {
  return values.map((value) => {
    if (!mongoose.isValidObjectId(value)) throw new InvalidInput(`群 ID “${value}” 格式不正确`, field);
    return new mongoose.Types.ObjectId(value);
  });
}

export class AudienceService {
  constructor(private readonly groups: GroupService) {}

  /** The database filter of a spec inside a scope; refuses regions outside it with a clear message. */
  async filterFor(scope: Scope, spec: AudienceSpec): Promise<Record<string, unknown>> {
    const regions = list(spec.regions, 'regions');
    const tags = list(spec.tags, 'tags');
    const groups = objectIds(list(spec.groups, 'groups'), 'groups');
    const excludeRegions = list(spec.excludeRegions, 'excludeRegions');
    const excludeTags = list(spec.excludeTags, 'excludeTags');
    const excludeGroups = objectIds(list(spec.excludeGroups, 'excludeGroups'), 'excludeGroups');
    if (regions.length + tags.length + groups.length === 0) {
      throw new InvalidInput('请至少选择一个地区、标签或群', 'regions');
    }
    const named = [...new Set([...regions, ...excludeRegions])];
    if (named.length) {
      const found = await RegionModel.find({ code: { $in: named }, ...scope.filter() }, { _id: 0, code: 1 }).lean<
        { code: string }[]
      >();
      const known = new Set(found.map((r) => r.code));
      const missing = named.find((code) => !known.has(code));
      if (missing) {
        throw new NotFound(`地区 ${missing}`);
      }
    }
    const include: Record<string, unknown>[] = [];
    if (regions.length) include.push({ regionPath: { $in: regions } });
    if (tags.length) include.push({ tags: { $in: tags } });
    if (groups.length) include.push({ _id: { $in: groups } });
    const and: Record<string, unknown>[] = [scope.filter(), { active: true }, { flaggedAt: null }];
    and.push(include.length === 1 ? include[0]! : { $or: include });
    if (excludeRegions.length) and.push({ regionPath: { $nin: excludeRegions } });
    if (excludeTags.length) and.push({ tags: { $nin: excludeTags } });
    if (excludeGroups.length) and.push({ _id: { $nin: excludeGroups } });
    return { $and: and };
  }

  async totals(scope: Scope, spec: AudienceSpec): Promise<AudienceTotals> {
    const filter = await this.filterFor(scope, spec);
    // Summed here over a two-field projection rather than by $group: on FerretDB 1.24 a
    // $group over 50,000 groups took 49 s (bench/audience-selection.ts) against 11.5 s to
    // stream them whole, and a second $sum in one $group comes back as 0. One pass, memory
    // bounded by the set of village codes.
    const villages = new Set<string>();
    let groupCount = 0;
    let memberTotal = 0;
    const cursor = GroupModel.find(filter, { _id: 0, regionCode: 1, memberCount: 1 })
      .lean<{ regionCode: string; memberCount: number }>()
      .cursor({ batchSize: 5_000 });
    for await (const group of cursor) {
      groupCount += 1;
      memberTotal += group.memberCount;
      villages.add(group.regionCode);
    }
    return { groupCount, villageCount: villages.size, memberTotal };
  }

  /**
   * For the delivery engine: the selected groups in batches of `batchSize`, in _id order,
   * each with its opened credentials and region names. One cursor over the selection
   * (one scan, fetched from the server `batchSize` documents at a time) plus one region
   * lookup per batch, so memory stays at one batch whatever the audience size. Consume it
   * promptly: an idle server cursor expires after 10 minutes (MongoDB's default).
   */
  async *selectedGroupBatches(
    scope: Scope,
    spec: AudienceSpec,
    options: { batchSize?: number } = {},
  ): AsyncGenerator<AudienceMember[]> {
    const batchSize = Math.max(1, Math.min(options.batchSize ?? 500, 5_000));
    const filter = await this.filterFor(scope, spec);
    // Region names for the whole stream in one read: a lookup per batch would rescan the
    // regions collection on FerretDB (no index pushdown) once per batch.
    const names = await this.regionNames(scope);
    const cursor = GroupModel.find(filter).sort({ _id: 1 }).lean<GroupDoc>().cursor({ batchSize });
    let batch: GroupDoc[] = [];
    try {
      for await (const doc of cursor) {
        batch.push(doc);
        if (batch.length === batchSize) {
          yield await this.members(batch, names);
          batch = [];
        }
      }
      if (batch.length) yield await this.members(batch, names);
    } finally {
      await cursor.close();
    }
  }

  /** What a send needs for given groups (any scope: the engine already holds the delivery). */
  async sendTargets(groupIds: string[]): Promise<AudienceMember[]> {
    const ids = objectIds(groupIds, 'groupIds');
    const docs = await GroupModel.find({ _id: { $in: ids } }).lean<GroupDoc[]>();
    return this.members(docs);
  }

  /** Names of the counties, townships and villages inside a scope, and of the scope's own ancestors. */
  private async regionNames(scope: Scope): Promise<Map<string, string>> {
    const regions = await RegionModel.find(
      { ...scope.filter(), level: { $in: ['county', 'township', 'village'] } },
      { _id: 0, code: 1, name: 1 },
    ).lean<{ code: string; name: string }[]>();
    const scopeRegion = await RegionModel.findOne({ code: scope.regionCode }, { _id: 0, regionPath: 1 }).lean<{
      regionPath: string[];
    }>();
    const ancestors = await RegionModel.find(
      { code: { $in: scopeRegion?.regionPath ?? [] } },
      { _id: 0, code: 1, name: 1 },
    ).lean<{ code: string; name: string }[]>();
    return new Map([...ancestors, ...regions].map((r) => [r.code, r.name]));
  }

  private async members(docs: GroupDoc[], known?: Map<string, string>): Promise<AudienceMember[]> {
    let names = known;
    if (!names) {
      const codes = new Set<string>();
      for (const doc of docs) {
        codes.add(doc.regionCode);
        for (const code of doc.regionPath.slice(3, 5)) codes.add(code);
      }
      const regions = await RegionModel.find({ code: { $in: [...codes] } }, { _id: 0, code: 1, name: 1 }).lean<
        { code: string; name: string }[]
      >();
      names = new Map(regions.map((r) => [r.code, r.name]));
    }
    const lookup = names;
    return docs.map((doc) => {
      // A village's path is root, province, city, county, township, village (regions/levels.ts).
      const countyCode = doc.regionPath[3] ?? null;
      const townshipCode = doc.regionPath[4] ?? null;
      const credentials = this.groups.openCredentials(doc.credentialsSealed);
      return {
        groupId: String(doc._id),
        groupName: doc.name,
        channelKind: doc.channelKind as ChannelKind,
        credentials,
        robotKey: robotKeyOf(credentials, String(doc._id)),
        memberCount: doc.memberCount,
        regionCode: doc.regionCode,
        regionPath: doc.regionPath,
        countyCode,
        townshipCode,
        villageName: lookup.get(doc.regionCode) ?? doc.regionCode,
        townshipName: townshipCode ? (lookup.get(townshipCode) ?? null) : null,
        countyName: countyCode ? (lookup.get(countyCode) ?? null) : null,
        officer: doc.officerName ? { name: doc.officerName, phone: doc.officerPhone ?? null } : null,
      };
    });
  }
}

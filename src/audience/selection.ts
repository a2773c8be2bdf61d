// Audience selection: region subtrees ∪ tags ∪ explicit groups ∪ villages within a radius
// − exclusions, always inside the caller's scope, over active groups that are not flagged.
// Running totals read the per-county digests of the read model (read-model.ts, a few reads
// by _id); the engine reads the selected groups themselves page by page on _id, so 50,000
// groups are never in memory at once.
import mongoose from 'mongoose';
import { InvalidInput, NotFound } from '../lib/errors.js';
import { mapLimit } from '../lib/concurrency.js';
import { regionDirectory } from '../regions/directory.js';
import { RegionModel } from '../regions/model.js';
import type { Scope } from '../regions/scope.js';
import type { ChannelCredentials, ChannelKind } from '../channels/credentials.js';
import { type GroupService, type Officer, robotKeyOf } from './groups.js';
import { type GroupDoc, GroupModel, groupListing, groupReadModel } from './model.js';
import { type Near, checkNear, villagesNear } from './radius.js';
import { type NameLookup, countyRegionNames, regionNames } from './region-names.js';
import type { CountyDigest } from './read-model.js';
import { addBuckets, addTotals, bucketsAnswer, countyTotals, emptyTotals, mayUseBuckets } from './county-totals.js';
import { type AudienceTotals, type CountyEntry, type Selection, countiesFor, totalsOf } from './totals.js';

export type { AudienceTotals } from './totals.js';

export interface AudienceSpec {
  regions?: string[];
  tags?: string[];
  groups?: string[];
  excludeRegions?: string[];
  excludeTags?: string[];
  excludeGroups?: string[];
  /** Villages within `radiusKm` of a point (great-circle distance over the village coordinates). */
  near?: Near | null;
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
  /** The credentials as stored (sealed): what a batch keeps, without opening and sealing them again. */
  credentialsSealed: string;
  /**
   * Stable, non-secret id of the robot behind the group (a hash of its key/token/URL), for
   * the engine's per-robot rate limits: groups sharing one robot share one bucket.
   */
  robotKey: string;
}

export { robotKeyOf } from './groups.js';

const MAX_ITEMS = 5_000;
/**
 * The fields of a group the engine's selection reads (members() builds a member from these
 * alone): the tags, note, flags and three timestamps of a group are never decoded for a plan.
 * Each chunk's documents outlive a few young-generation collections while their batches are
 * written, so whatever is decoded of them is promoted and stays in the old generation until
 * the next full collection: at 50,000 groups that garbage is what set the scheduler's peak
 * (docs/engine.md, *Memory*).
 */
export const ENGINE_GROUP_FIELDS = {
  _id: 1,
  name: 1,
  regionCode: 1,
  regionPath: 1,
  channelKind: 1,
  credentialsSealed: 1,
  robotKey: 1,
  memberCount: 1,
  officerName: 1,
  officerPhone: 1,
} as const;
/** Chat robots: their `robotKey` on the group is robotKeyOf's answer (sharedRobotKey, groups.ts). */
const SHARED_ROBOT_KINDS = new Set<string>(['wecom', 'dingtalk', 'feishu']);

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

interface Resolved extends Selection {
  /** Villages in scope without coordinates, when a radius is given. */
  withoutCoordinates: { code: string; name: string }[] | null;
}

export class AudienceService {
  #overCap: ((groups: { groupId: string; countyCode: string }[]) => Promise<number>) | null = null;

  constructor(private readonly groups: GroupService) {}

  /** How many WeCom customer groups have no room left under their receive cap (channels/wecom-group). */
  attachCapCounter(overCap: (groups: { groupId: string; countyCode: string }[]) => Promise<number>): void {
    this.#overCap = overCap;
  }

  /**
   * The selected WeCom customer groups already at their receive cap this period, shown
   * before approval (这次推送将有 N 个群超出本月接收上限). Reads only those groups.
   */
  private async wecomOverCap(scope: Scope, spec: AudienceSpec): Promise<number> {
    if (!this.#overCap) return 0;
    const filter = { $and: [await this.filterFor(scope, spec), { channelKind: 'wecom_group' }] };
    const docs = await GroupModel.find(filter, { _id: 1, regionPath: 1 }).lean<{ _id: unknown; regionPath: string[] }[]>();
    return this.#overCap(docs.map((d) => ({ groupId: String(d._id), countyCode: d.regionPath[3] ?? '' })));
  }

  /** The receive-cap figure and warning for a selection with WeCom customer groups (totals and review). */
  async capFacts(scope: Scope, spec: AudienceSpec): Promise<{ wecomOverCap: number; capWarning?: string }> {
    const over = await this.wecomOverCap(scope, spec);
    if (over === 0) return { wecomOverCap: 0 };
    return { wecomOverCap: over, capWarning: `这次推送将有 ${over} 个群超出本月接收上限（企业微信客户群），这些群不会收到` };
  }

  /** Checks a spec and resolves its radius term; refuses regions outside the scope with a clear message. */
  private async resolve(scope: Scope, spec: AudienceSpec, counties?: CountyDigestSource): Promise<Resolved> {
    const regions = list(spec.regions, 'regions');
    const tags = list(spec.tags, 'tags');
    const groups = objectIds(list(spec.groups, 'groups'), 'groups').map(String);
    const excludeRegions = list(spec.excludeRegions, 'excludeRegions');
    const excludeTags = list(spec.excludeTags, 'excludeTags');
    const excludeGroups = objectIds(list(spec.excludeGroups, 'excludeGroups'), 'excludeGroups').map(String);
    const near = spec.near == null ? null : checkNear(spec.near);
    if (regions.length + tags.length + groups.length === 0 && !near) {
      throw new InvalidInput('请至少选择一个地区、标签、群或距离范围', 'regions');
    }
    await this.checkRegions(scope, [...new Set([...regions, ...excludeRegions])], counties);
    const radius = near ? await villagesNear(scope, near) : null;
    return {
      regions,
      tags,
      groups,
      excludeRegions,
      excludeTags,
      excludeGroups,
      nearVillages: radius?.within ?? null,
      withoutCoordinates: radius?.withoutCoordinates ?? null,
    };
  }

  /**
   * Named regions must exist inside the scope (404 otherwise, like every scoped read). Most are
   * answered from the read model: counties and above from the county list, townships and
   * villages from their county's digest; only regions with no selectable group are looked up in
   * the process's copy of the region tree (regions/directory.ts: one `_id` read of the regions'
   * token while it is current). A read by code is a scan of every region on FerretDB (it pushes
   * down no filter but an `_id`): ~47,000 on the province, per totals call naming a village
   * without groups.
   */
  private async checkRegions(scope: Scope, codes: string[], counties?: CountyDigestSource): Promise<void> {
    const unresolved: string[] = [];
    for (const code of codes) {
      const path = await counties?.pathOf(code);
      if (path === undefined || path === null) unresolved.push(code);
      else if (!path.includes(scope.regionCode)) throw new NotFound(`地区 ${code}`);
    }
    if (!unresolved.length) return;
    const { byCode } = await regionDirectory();
    const missing = unresolved.find((code) => !scope.contains(byCode.get(code)?.regionPath ?? []));
    if (missing) throw new NotFound(`地区 ${missing}`);
  }

  /** The database filter of a spec inside a scope (the engine's stream of selected groups). */
  async filterFor(scope: Scope, spec: AudienceSpec, counties?: CountyDigestSource): Promise<Record<string, unknown>> {
    const s = await this.resolve(scope, spec, counties);
    const include: Record<string, unknown>[] = [];
    if (s.regions.length) include.push({ regionPath: { $in: s.regions } });
    if (s.tags.length) include.push({ tags: { $in: s.tags } });
    if (s.groups.length) include.push({ _id: { $in: objectIds(s.groups, 'groups') } });
    if (s.nearVillages) include.push({ regionCode: { $in: [...s.nearVillages.keys()] } });
    const and: Record<string, unknown>[] = [scope.filter(), { active: true }, { flaggedAt: null }];
    and.push(include.length === 1 ? include[0]! : { $or: include });
    if (s.excludeRegions.length) and.push({ regionPath: { $nin: s.excludeRegions } });
    if (s.excludeTags.length) and.push({ tags: { $nin: s.excludeTags } });
    if (s.excludeGroups.length) and.push({ _id: { $nin: objectIds(s.excludeGroups, 'excludeGroups') } });
    return { $and: and };
  }

  /** Builds the read model from the groups once per database (a no-op after that); run at start. */
  async prepare(): Promise<void> {
    await groupReadModel.prepare();
    // The groups list's candidates (an install from before they existed is listed once here).
    await groupListing.prepare();
  }

  /**
   * Groups, villages, members, per channel and manual tasks of a selection, exact at the time
   * of the call: each county digest read is first brought up to date with its change log.
   */
  async totals(scope: Scope, spec: AudienceSpec): Promise<AudienceTotals> {
    await groupReadModel.prepare();
    const source = new CountyDigestSource(await groupReadModel.counties());
    const selection = await this.resolve(scope, spec, source);
    const needed = countiesFor(source.entries, scope.regionCode, selection);
    // Writes still in flight are read first: a digest read after them then cannot miss one
    // that finished in between (its records are in by the time its intent is gone).
    const inFlight = await groupReadModel.inFlight();
    const totals =
      inFlight.size === 0 && mayUseBuckets(selection)
        ? await this.totalsFromBuckets(needed, scope.regionCode, selection, source)
        : totalsOf(
            groupReadModel.overlay(await source.digests(needed.map((entry) => entry.county)), inFlight),
            scope.regionCode,
            selection,
            selection.withoutCoordinates,
          );
    if (totals.byChannel.wecom_group.groupCount > 0) Object.assign(totals, await this.capFacts(scope, spec));
    return totals;
  }

  /**
   * Totals from each county's buckets (county-totals.ts) where the selection judges the
   * county's groups by tags and channel alone, from its digest rows elsewhere: the same sums.
   */
  private async totalsFromBuckets(
    needed: CountyEntry[],
    scopeCode: string,
    selection: Resolved,
    source: CountyDigestSource,
  ): Promise<AudienceTotals> {
    const totals = emptyTotals();
    const buckets = await countyTotals.all(
      needed.map((entry) => entry.county),
      (county) => source.digest(county),
    );
    const rowWise: string[] = [];
    needed.forEach((entry, k) => {
      if (bucketsAnswer(entry, scopeCode, selection, buckets[k]!)) addBuckets(totals, entry, selection, buckets[k]!);
      else rowWise.push(entry.county);
    });
    if (rowWise.length) addTotals(totals, totalsOf(await source.digests(rowWise), scopeCode, selection, null));
    return totals;
  }

  /**
   * For the delivery engine: the selected groups in batches of `batchSize` (the first of
   * `firstBatchSize`), each with its opened credentials and region names. One cursor over the
   * selection (one scan, fetched from the server `batchSize` documents at a time), so memory
   * stays at one batch whatever the audience size. Consume it promptly: an idle server cursor
   * expires after 10 minutes (MongoDB's default). Named regions are checked against the read
   * model's county list and the names come from the process's region names (region-names.ts):
   * no scan of the regions before the first batch.
   */
  async *selectedGroupBatches(
    scope: Scope,
    spec: AudienceSpec,
    options: { batchSize?: number; firstBatchSize?: number; readById?: boolean } = {},
  ): AsyncGenerator<AudienceMember[]> {
    const batchSize = Math.max(1, Math.min(options.batchSize ?? 500, 5_000));
    const firstBatchSize = Math.max(1, Math.min(options.firstBatchSize ?? batchSize, batchSize));
    await groupReadModel.prepare();
    const filter = await this.filterFor(scope, spec, new CountyDigestSource(await groupReadModel.counties()));
    if (options.readById) {
      yield* this.selectedById(scope, filter, batchSize, firstBatchSize);
      return;
    }
    const names = await regionNames();
    const cursor = GroupModel.find(filter, ENGINE_GROUP_FIELDS).sort({ _id: 1 }).lean<GroupDoc>().cursor({ batchSize });
    let batch: GroupDoc[] = [];
    let size = firstBatchSize;
    try {
      for await (const doc of cursor) {
        batch.push(doc);
        if (batch.length === size) {
          yield await this.members(batch, names);
          batch = [];
          size = batchSize;
        }
      }
      if (batch.length) yield await this.members(batch, names);
    } finally {
      await cursor.close();
    }
  }

  /**
   * The same selection without a scan (an urgent run's planning): every group in scope from
   * the per-county listings (group-listing.ts, a superset), one county at a time, each read by
   * `_id` with the selection's own filter. So the first batch costs one county's listing and
   * ~`firstBatchSize` lookups, whatever the province's size, where a scan of a province's
   * groups takes most of a minute on FerretDB (it pushes down only an `_id` equality). Each
   * match of the filter lies in scope, so in the listings: exact. The order is by county,
   * then `_id` within each (not the scan's order across counties). The names come from the
   * counties' parts (region-names.ts) while the process's whole copy is not read yet (a
   * scheduler just started): no read of every region before the first batch either.
   */
  private async *selectedById(
    scope: Scope,
    filter: Record<string, unknown>,
    batchSize: number,
    firstBatchSize: number,
  ): AsyncGenerator<AudienceMember[]> {
    let batch: GroupDoc[] = [];
    let size = firstBatchSize;
    for await (const ids of groupListing.candidatesByCounty([scope.regionCode])) {
      for (let at = 0; at < ids.length; ) {
        const slice = ids.slice(at, at + Math.max(1, size - batch.length));
        at += slice.length;
        const docs = await mapLimit(slice, 8, (id) =>
          GroupModel.findOne({ ...filter, _id: id }, ENGINE_GROUP_FIELDS).lean<GroupDoc>().exec(),
        );
        for (const doc of docs) if (doc) batch.push(doc);
        if (batch.length >= size) {
          yield await this.members(batch, await namesOfCounties(batch));
          batch = [];
          size = batchSize;
        }
      }
    }
    if (batch.length) yield await this.members(batch, await namesOfCounties(batch));
  }

  /** What a send needs for given groups (any scope: the engine already holds the delivery). */
  async sendTargets(groupIds: string[]): Promise<AudienceMember[]> {
    const ids = objectIds(groupIds, 'groupIds');
    const docs = await GroupModel.find({ _id: { $in: ids } }).lean<GroupDoc[]>();
    return this.members(docs);
  }

  private async members(docs: GroupDoc[], known?: NameLookup): Promise<AudienceMember[]> {
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
      // Opened only when read: the planner copies the sealed value into the batch, and a
      // chat robot's key is on the group (its kind checked) — the planner's CPU per group was
      // an AES-GCM open, and the engine's adapter sealed it again with a fresh IV.
      const sealed = doc.credentialsSealed;
      const groups = this.groups;
      let opened: ChannelCredentials | null = null;
      const open = () => {
        opened ??= groups.openCredentials(sealed);
        return opened;
      };
      const kind = doc.channelKind as ChannelKind;
      const stored = doc.robotKey;
      const robotKey =
        stored && SHARED_ROBOT_KINDS.has(kind) && stored.startsWith(`${kind}:`)
          ? stored
          : robotKeyOf(open(), String(doc._id));
      return {
        groupId: String(doc._id),
        groupName: doc.name,
        channelKind: kind,
        get credentials() {
          return open();
        },
        credentialsSealed: sealed,
        robotKey,
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

/** The names the groups' counties need (one lookup over their counties' names). */
async function namesOfCounties(docs: GroupDoc[]): Promise<NameLookup> {
  const counties = [...new Set(docs.map((doc) => doc.regionPath[3] ?? ''))];
  const lookups = await Promise.all(counties.map((county) => countyRegionNames(county)));
  if (lookups.length === 1 || lookups.every((lookup) => lookup === lookups[0])) return lookups[0]!;
  return {
    get(code) {
      for (const lookup of lookups) {
        const name = lookup.get(code);
        if (name !== undefined) return name;
      }
      return undefined;
    },
  };
}

/** The county digests one totals call reads, each read (and folded) once. */
class CountyDigestSource {
  private readonly loaded = new Map<string, Promise<CountyDigest>>();
  private readonly paths: Map<string, string[]>;

  constructor(readonly entries: { county: string; path: string[] }[]) {
    this.paths = new Map(entries.map((entry) => [entry.county, entry.path]));
  }

  digest(county: string): Promise<CountyDigest> {
    let digest = this.loaded.get(county);
    if (!digest) {
      digest = groupReadModel.current(county, this.paths.get(county) ?? []);
      this.loaded.set(county, digest);
    }
    return digest;
  }

  /** Eight digests in flight at a time. */
  async digests(counties: string[]): Promise<CountyDigest[]> {
    const out: CountyDigest[] = [];
    for (let i = 0; i < counties.length; i += 8) {
      out.push(...(await Promise.all(counties.slice(i, i + 8).map((county) => this.digest(county)))));
    }
    return out;
  }

  /** A region's path when the read model knows it (it has selectable groups), else null. */
  async pathOf(code: string): Promise<string[] | null> {
    for (const { path } of this.entries) {
      const at = path.indexOf(code);
      if (at >= 0) return path.slice(0, at + 1);
    }
    if (code.length <= 6) return null;
    const countyPath = this.paths.get(code.slice(0, 6));
    if (!countyPath) return null;
    for (const row of (await this.digest(code.slice(0, 6))).rows.values()) {
      if (row.township === code) return [...countyPath, code];
      if (row.village === code) return [...countyPath, row.township, code];
    }
    return null;
  }
}

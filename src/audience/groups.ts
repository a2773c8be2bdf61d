// Groups: the chat groups of the directory, scoped by region, with sealed channel credentials.
import { createHash } from 'node:crypto';
import mongoose from 'mongoose';
import type { Clock } from '../lib/clock.js';
import type { SecretBox } from '../lib/cipher.js';
import { Conflict, InvalidInput, NotFound, isDuplicateKey } from '../lib/errors.js';
import type { Region, RegionService } from '../regions/service.js';
import type { Scope } from '../regions/scope.js';
import {
  type ChannelCredentials,
  type ChannelInput,
  type ChannelKind,
  parseChannelInput,
} from '../channels/credentials.js';
import { mapLimit } from '../lib/concurrency.js';
import { type ListedRow, type Placed, ROW_FIELDS, rowOf } from './group-listing.js';
import { HEAD, listHeads } from './list-heads.js';
import { type GroupDoc, GroupModel, groupListing, groupReadModel } from './model.js';
import { readWriteToken } from './write-token.js';

/** Associated data for sealed credentials: a sealed value is only ever opened as group credentials. */
const CREDENTIALS_PURPOSE = 'group-credentials';

export interface Officer {
  name: string;
  phone: string | null;
}

export interface OfficerInput {
  name: string;
  phone?: string | null;
}

/** A group as the API shows it: everything but the credentials. */
export interface Group {
  id: string;
  name: string;
  regionCode: string;
  regionPath: string[];
  channelKind: ChannelKind;
  memberCount: number;
  memberCountUpdatedAt: Date | null;
  officer: Officer | null;
  tags: string[];
  note: string | null;
  active: boolean;
  /** Test sends may go here (an admin marked it). */
  forTests: boolean;
  flagged: { at: Date; reason: string } | null;
  createdAt: Date;
  updatedAt: Date;
  /** On a save that set the robot: other groups in scope with the same robot (one chat). */
  sameRobot?: SameRobotGroup[];
  /** The warning shown next to the robot field, or null. */
  sameRobotWarning?: string | null;
}

export interface NewGroup {
  name: string;
  regionCode: string;
  channel: ChannelInput;
  memberCount: number;
  officer?: OfficerInput | null;
  tags?: string[];
  active?: boolean;
  forTests?: boolean;
}

export interface GroupChanges {
  name?: string;
  regionCode?: string;
  channel?: ChannelInput;
  memberCount?: number;
  officer?: OfficerInput | null;
  tags?: string[];
  active?: boolean;
  forTests?: boolean;
  /** Clears a flag once the channel is known to work again. */
  clearFlag?: boolean;
}

export interface GroupListQuery {
  regionCode?: string;
  tag?: string;
  channelKind?: ChannelKind;
  active?: boolean;
  flagged?: boolean;
  forTests?: boolean;
  /** Part of the group name. */
  q?: string;
  /** Part of the responsible officer's name or phone. */
  officer?: string;
  /** Cursors: the id of the last group of the previous page (after when oldest first, the default). */
  after?: string;
  before?: string;
  /** newest/oldest by creation; name/-name by 群名称, members/-members by 人数 (- descending). */
  sort?: GroupSort;
  /** Created from (inclusive) / to (exclusive). */
  from?: string;
  to?: string;
  limit: number;
}

export type GroupSort = 'newest' | 'oldest' | 'name' | '-name' | 'members' | '-members';
const SORT_FIELDS: Partial<Record<GroupSort, { field: 'name' | 'memberCount'; direction: 1 | -1 }>> = {
  name: { field: 'name', direction: 1 },
  '-name': { field: 'name', direction: -1 },
  members: { field: 'memberCount', direction: 1 },
  '-members': { field: 'memberCount', direction: -1 },
};

/** Strings in code point order (what the database's sort does), numbers by value. */
function compareValues(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  if (x === y) return 0;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i += 1) {
    const c = x.codePointAt(i)!;
    const d = y.codePointAt(i)!;
    if (c !== d) return c - d;
    if (c > 0xffff) i += 1;
  }
  return x.length - y.length;
}

/** The list's filters (not scope or region) on a listed row: what the list's query matches. */
function listFilter(query: GroupListQuery): (row: ListedRow) => boolean {
  const q = query.q?.trim();
  const officer = query.officer?.trim();
  const from = query.from ? new Date(query.from).getTime() : null;
  const to = query.to ? new Date(query.to).getTime() : null;
  return (row) =>
    (!query.tag || row.tags.includes(query.tag)) &&
    (!query.channelKind || row.channelKind === query.channelKind) &&
    (query.active === undefined || row.active === query.active) &&
    (query.forTests === undefined || row.forTests === query.forTests) &&
    (query.flagged === undefined || row.flagged === query.flagged) &&
    (!q || row.name.includes(q)) &&
    (!officer || (row.officerName ?? '').includes(officer) || (row.officerPhone ?? '').includes(officer)) &&
    (from === null || row.createdAt >= from) &&
    (to === null || row.createdAt < to);
}

/** The same filters as a query, checked again on each group read by `_id`. */
function listMatch(query: GroupListQuery): Record<string, unknown> {
  const filter: Record<string, unknown> = {};
  if (query.tag) filter.tags = query.tag;
  if (query.channelKind) filter.channelKind = query.channelKind;
  if (query.active !== undefined) filter.active = query.active;
  if (query.forTests !== undefined) filter.forTests = query.forTests ? true : { $ne: true };
  if (query.flagged !== undefined) filter.flaggedAt = query.flagged ? { $ne: null } : null;
  const q = query.q?.trim();
  if (q) filter.name = { $regex: escapeRegex(q) };
  const officer = query.officer?.trim();
  if (officer) {
    const like = { $regex: escapeRegex(officer) };
    filter.$or = [{ officerName: like }, { officerPhone: like }];
  }
  if (query.from || query.to) {
    const range: Record<string, Date> = {};
    if (query.from) range.$gte = new Date(query.from);
    if (query.to) range.$lt = new Date(query.to);
    filter.createdAt = range;
  }
  return filter;
}

export const MAX_TAGS = 20;
const PHONE = /^[0-9+\-() ]{5,20}$/;
/** What a phone number should look like, for messages a person can act on. */
export const PHONE_FORMAT_HINT = '应为 11 位手机号，如 13800138000，或带区号的座机，如 0372-7221234';

export function normaliseTags(tags: readonly string[], field = 'tags'): string[] {
  const cleaned = [...new Set(tags.map((tag) => tag.trim()).filter(Boolean))];
  if (cleaned.length > MAX_TAGS) throw new InvalidInput(`标签最多 ${MAX_TAGS} 个`, field);
  const long = cleaned.find((tag) => tag.length > 32);
  if (long) throw new InvalidInput(`标签“${long.slice(0, 10)}…”过长（最多 32 个字符）`, field);
  return cleaned;
}

export function checkOfficer(officer: OfficerInput | null | undefined, field = 'officer'): Officer | null {
  if (!officer) return null;
  const name = officer.name.trim();
  if (!name) throw new InvalidInput('负责民警姓名不能为空', `${field}.name`);
  const phone = officer.phone?.trim() || null;
  if (phone && !PHONE.test(phone))
    throw new InvalidInput(`负责民警电话“${phone}”格式不正确（${PHONE_FORMAT_HINT}）`, `${field}.phone`);
  return { name, phone };
}

export function toGroup(doc: GroupDoc): Group {
  return {
    id: String(doc._id),
    name: doc.name,
    regionCode: doc.regionCode,
    regionPath: doc.regionPath,
    channelKind: doc.channelKind as ChannelKind,
    memberCount: doc.memberCount,
    memberCountUpdatedAt: doc.memberCountUpdatedAt ?? null,
    officer: doc.officerName ? { name: doc.officerName, phone: doc.officerPhone ?? null } : null,
    tags: doc.tags,
    note: doc.note ?? null,
    active: doc.active,
    forTests: doc.forTests ?? false,
    flagged: doc.flaggedAt ? { at: doc.flaggedAt, reason: doc.flagReason ?? '' } : null,
    createdAt: (doc as unknown as { createdAt: Date }).createdAt,
    updatedAt: (doc as unknown as { updatedAt: Date }).updatedAt,
  };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
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

/**
 * The chat robot a group's credentials name (each lives in one group chat), or null where two
 * groups may rightly share credentials or cannot (webhook: a county platform may serve many
 * groups at one URL; manual; WeCom customer groups).
 */
export function sharedRobotKey(credentials: ChannelCredentials): string | null {
  return ['wecom', 'dingtalk', 'feishu'].includes(credentials.kind) ? robotKeyOf(credentials, '') : null;
}

/** Another group in the scope with the same robot: what a save warns about. */
export interface SameRobotGroup {
  id: string;
  name: string;
  regionCode: string;
}

/** The warning next to the robot field (saved anyway: one chat may belong to two villages). */
export function sameRobotWarning(others: SameRobotGroup[]): string | null {
  if (others.length === 0) return null;
  const names = others
    .slice(0, 3)
    .map((g) => `“${g.name}”`)
    .join('、');
  return `该机器人已用于${names}${others.length > 3 ? `等 ${others.length} 个群` : ''}：两群为同一群聊，每次推送只发一次（两群都计为触达）`;
}

export class GroupService {
  constructor(
    private readonly regions: RegionService,
    private readonly box: SecretBox,
    private readonly clock: Clock,
  ) {}

  sealCredentials(credentials: ChannelCredentials): string {
    return this.box.seal(JSON.stringify(credentials), CREDENTIALS_PURPOSE);
  }

  openCredentials(sealed: string): ChannelCredentials {
    return JSON.parse(this.box.open(sealed, CREDENTIALS_PURPOSE)) as ChannelCredentials;
  }

  /** The village a group may be placed in: it must exist inside the scope and be a village. */
  async villageFor(scope: Scope, code: string, field = 'regionCode'): Promise<Region> {
    // Out of scope answers 404 like every other scoped read.
    const region = await this.regions.get(scope, code);
    if (region.level !== 'village')
      throw new InvalidInput(`群只能挂在村/社区上，${code}（${region.name}）不是村/社区`, field);
    return region;
  }

  /** The groups in the scope, other than `exceptId`, whose credentials name the same robot. */
  async sameRobot(scope: Scope, robotKey: string | null, exceptId: string | null): Promise<SameRobotGroup[]> {
    if (!robotKey) return [];
    const filter: Record<string, unknown> = { robotKey, ...scope.filter() };
    if (exceptId) filter._id = { $ne: exceptId };
    const docs = await GroupModel.find(filter, { name: 1, regionCode: 1 })
      .sort({ _id: 1 })
      .limit(20)
      .lean<{ _id: unknown; name: string; regionCode: string }[]>();
    return docs.map((doc) => ({ id: String(doc._id), name: doc.name, regionCode: doc.regionCode }));
  }

  /** A saved group with what its save must warn about: other groups with its robot. */
  private async withSameRobot(scope: Scope, group: Group, robotKey: string | null): Promise<Group> {
    const sameRobot = await this.sameRobot(scope, robotKey, group.id);
    return { ...group, sameRobot, sameRobotWarning: sameRobotWarning(sameRobot) };
  }

  async create(scope: Scope, input: NewGroup): Promise<Group> {
    const name = input.name.trim();
    const village = await this.villageFor(scope, input.regionCode);
    const credentials = parseChannelInput(input.channel);
    const officer = checkOfficer(input.officer);
    const now = this.clock.now();
    try {
      const doc = await GroupModel.create({
        name,
        regionCode: village.code,
        regionPath: village.regionPath,
        channelKind: credentials.kind,
        credentialsSealed: this.sealCredentials(credentials),
        robotKey: sharedRobotKey(credentials),
        memberCount: input.memberCount,
        memberCountUpdatedAt: now,
        officerName: officer?.name ?? null,
        officerPhone: officer?.phone ?? null,
        tags: normaliseTags(input.tags ?? []),
        active: input.active ?? true,
        forTests: input.forTests ?? false,
      });
      return await this.withSameRobot(scope, toGroup(doc.toObject() as GroupDoc), sharedRobotKey(credentials));
    } catch (error) {
      if (isDuplicateKey(error)) throw new Conflict(`${village.name}已有名为“${name}”的群`, 'name');
      throw error;
    }
  }

  private async load(scope: Scope, id: string): Promise<GroupDoc> {
    if (!mongoose.isValidObjectId(id)) throw new NotFound(`群 ${id}`);
    const doc = await GroupModel.findOne({ _id: id, ...scope.filter() }).lean<GroupDoc>();
    if (!doc) throw new NotFound(`群 ${id}`);
    return doc;
  }

  async get(scope: Scope, id: string): Promise<Group> {
    return toGroup(await this.load(scope, id));
  }

  /**
   * A page of the list without a scan, whatever the filters and sort: the candidates in scope
   * with the fields the filters and sorts look at come from the per-county listings
   * (group-listing.ts; groups a write in flight names are read by `_id` first), the page is
   * picked from them in the process, and its groups are read by `_id` with the list's own
   * filter in order until the page is full, so the answer is the scan's
   * (`find(filter).sort(…).limit(…)`). ~`limit` reads, plus one per county in scope whose
   * listing this process has not found current under the write token (write-token.ts); the
   * opening page in a fresh process from the scope's head, and a page this process answered
   * under the same token with no write in flight from its memory (list-heads.ts).
   */
  async list(scope: Scope, query: GroupListQuery): Promise<Group[]> {
    const filter: Record<string, unknown> = { ...scope.filter() };
    if (query.regionCode) filter.$and = [{ regionPath: query.regionCode }];
    // The screen as it opens (no region, filter, column sort or cursor): from the scope's head
    // when one is kept under the current write token (list-heads.ts).
    const opening =
      !query.regionCode &&
      !query.after &&
      !query.before &&
      (query.sort === undefined || query.sort === 'oldest' || query.sort === 'newest') &&
      Object.keys(listMatch(query)).length === 0 &&
      query.limit <= HEAD;
    // Writes in flight first, then the write token (write-token.ts): with none in flight, a page
    // this process answered under the same token is the answer again (every group write, of any
    // field, moves the token); kept for pages of up to HEAD groups.
    const inFlightNow = await groupReadModel.inFlight();
    const readToken = await readWriteToken();
    const pageKey = `${scope.regionCode}/${JSON.stringify(query)}`;
    const keep = inFlightNow.size === 0 && query.limit <= HEAD;
    if (keep) {
      const kept = listHeads.page<Group>(pageKey, readToken);
      if (kept) return kept;
    }
    if (opening && inFlightNow.size === 0) {
      const page = await this.pageFromHead(scope, readToken, query.sort === 'newest', query.limit, filter);
      if (page) {
        listHeads.keepPage(pageKey, readToken, page);
        return page;
      }
    }
    const codes = [scope.regionCode, ...(query.regionCode ? [query.regionCode] : [])];
    const { rows, inFlight, token } = await groupListing.candidateRows(codes, { inFlight: inFlightNow, token: readToken });
    if (opening && inFlight.length === 0 && listHeads.wanted(scope.regionCode, token)) {
      await listHeads.save(scope.regionCode, token, [...rows.keys()]);
    }
    if (inFlight.length) {
      // Their rows may be older than the write: the group as it is now decides.
      const now = await mapLimit(inFlight, 8, (id) =>
        mongoose.isValidObjectId(id) ? GroupModel.findOne({ ...filter, _id: id }, ROW_FIELDS).lean<Placed>().exec() : Promise.resolve(null),
      );
      for (const [i, id] of inFlight.entries()) {
        const doc = now[i];
        if (doc) rows.set(id, rowOf(doc));
        else rows.delete(id);
      }
    }
    const passes = listFilter(query);
    const byField = query.sort ? SORT_FIELDS[query.sort] : undefined;
    const newest = !byField && query.sort === 'newest';
    let picked = [...rows].filter(([, row]) => passes(row));
    if (byField) {
      // Sorted by a column: the cursor (after) is the last row's id, its value read from its row
      // (or by that id when it no longer passes the filters).
      let last: { id: string; value: string | number } | null = null;
      if (query.after) {
        const row = rows.get(query.after);
        const doc = row
          ? null
          : await GroupModel.findOne({ ...scope.filter(), _id: query.after }, { name: 1, memberCount: 1 }).lean<GroupDoc>();
        if (!row && !doc) throw new InvalidInput('翻页位置（after）已失效，请从第一页重新查看', 'after');
        last = { id: query.after, value: row ? row[byField.field] : doc![byField.field] };
      }
      const order = (a: [string, ListedRow], b: [string, ListedRow]) =>
        byField.direction * (compareValues(a[1][byField.field], b[1][byField.field]) || compareValues(a[0], b[0]));
      if (last) {
        const cursor: [string, ListedRow] = [last.id, { [byField.field]: last.value } as unknown as ListedRow];
        picked = picked.filter((entry) => order(entry, cursor) > 0);
      }
      picked.sort(order);
    } else {
      const cursor = newest ? query.before : query.after;
      if (cursor) picked = picked.filter(([id]) => (newest ? id < cursor : id > cursor));
      picked.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      if (newest) picked.reverse();
    }
    const ids = picked.map(([id]) => id);
    const page = (await this.readPage(ids, { ...filter, ...listMatch(query) }, query.limit)).map(toGroup);
    if (keep && inFlight.length === 0) listHeads.keepPage(pageKey, token, page);
    return page;
  }

  /** The first `limit` of `ids` (in order) that match `dbFilter`, each read by `_id`. */
  private async readPage(ids: string[], dbFilter: Record<string, unknown>, limit: number): Promise<GroupDoc[]> {
    const found: GroupDoc[] = [];
    let at = 0;
    while (found.length < limit && at < ids.length) {
      const next = ids.slice(at, at + (limit - found.length));
      at += next.length;
      const docs = await mapLimit(next, 8, (id) => GroupModel.findOne({ ...dbFilter, _id: id }).lean<GroupDoc>().exec());
      for (const doc of docs) if (doc) found.push(doc);
    }
    return found;
  }

  /**
   * The opening page from the scope's head (list-heads.ts), for a caller that read no write in
   * flight and then `token`: the head kept under it, and the page within it. null: pick it from
   * the listings.
   */
  private async pageFromHead(
    scope: Scope,
    token: string,
    newest: boolean,
    limit: number,
    filter: Record<string, unknown>,
  ): Promise<Group[] | null> {
    const head = await listHeads.read(scope.regionCode, token);
    if (!head) return null;
    const found = await this.readPage(newest ? head.last : head.first, filter, limit);
    // Past the head's end (groups gone meanwhile) with more in scope: the listings decide.
    if (found.length < limit && head.more) return null;
    return found.map(toGroup);
  }

  async update(
    scope: Scope,
    id: string,
    changes: GroupChanges,
  ): Promise<{ group: Group; credentialsChanged: boolean }> {
    const current = await this.load(scope, id);
    const set: Record<string, unknown> = {};
    if (changes.name !== undefined) set.name = changes.name.trim();
    if (changes.regionCode !== undefined && changes.regionCode !== current.regionCode) {
      const village = await this.villageFor(scope, changes.regionCode);
      set.regionCode = village.code;
      set.regionPath = village.regionPath;
    }
    if (changes.channel !== undefined) {
      const credentials = parseChannelInput(changes.channel);
      set.channelKind = credentials.kind;
      set.credentialsSealed = this.sealCredentials(credentials);
      set.robotKey = sharedRobotKey(credentials);
      // New credentials are the usual fix for a flagged group.
      set.flaggedAt = null;
      set.flagReason = null;
    }
    if (changes.memberCount !== undefined) {
      set.memberCount = changes.memberCount;
      set.memberCountUpdatedAt = this.clock.now();
    }
    if (changes.officer !== undefined) {
      const officer = checkOfficer(changes.officer);
      set.officerName = officer?.name ?? null;
      set.officerPhone = officer?.phone ?? null;
    }
    if (changes.tags !== undefined) set.tags = normaliseTags(changes.tags);
    if (changes.active !== undefined) set.active = changes.active;
    if (changes.forTests !== undefined) set.forTests = changes.forTests;
    if (changes.clearFlag) {
      set.flaggedAt = null;
      set.flagReason = null;
    }
    try {
      const doc = await GroupModel.findOneAndUpdate(
        { _id: current._id, ...scope.filter() },
        { $set: set },
        { new: true },
      ).lean<GroupDoc>();
      if (!doc) throw new NotFound(`群 ${id}`);
      const group = toGroup(doc);
      // A new robot is checked against the others (an edit of other fields says nothing).
      return {
        group: set.robotKey !== undefined ? await this.withSameRobot(scope, group, set.robotKey as string | null) : group,
        credentialsChanged: changes.channel !== undefined,
      };
    } catch (error) {
      if (isDuplicateKey(error)) throw new Conflict(`该村/社区已有名为“${set.name ?? current.name}”的群`, 'name');
      throw error;
    }
  }

  /**
   * For the delivery engine: marks a group whose channel failed permanently (bad key, robot
   * removed, security check failed). Audience selection skips flagged groups until an admin
   * fixes the channel. The first reason is kept; later flags do not overwrite it.
   */
  async flagGroup(groupId: string, reason: string): Promise<boolean> {
    if (!mongoose.isValidObjectId(groupId)) return false;
    const result = await GroupModel.updateOne(
      { _id: groupId, flaggedAt: null },
      { $set: { flaggedAt: this.clock.now(), flagReason: reason.slice(0, 500) } },
    );
    return result.modifiedCount === 1;
  }
}

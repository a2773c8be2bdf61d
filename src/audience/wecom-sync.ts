// Village groups from WeCom (企业微信客户群): an admin syncs the county's customer groups
// (groupchat/list, paged, then groupchat/get for each; ref = ../shared/reference/wecom-customer-
// groups.md §2). Each group is matched to a village by its name (the ledger import's name
// keys: 东庄、东庄村 and 东庄村委会 are one village; a group name adds 平安群, 警民群 …), or by
// the village an admin picked for it once; its owner to the officer whose account carries the
// owner's WeCom userid; its member count is the external members (residents), officers and
// cadres counted apart. Each sync refreshes them and reports groups that left WeCom or
// changed owner, and the ones it could not place.
import mongoose from 'mongoose';
import { UserModel } from '../auth/model.js';
import type { WecomGroupCredentials } from '../channels/credentials.js';
import { WECOM_GROUP_LIST_PAGE } from '../channels/wecom-group/limits.js';
import type { WecomGroupService } from '../channels/wecom-group/service.js';
import type { Clock } from '../lib/clock.js';
import { MAX_UPDATES_PER_COMMAND } from '../db/bulk.js';
import { mapLimit } from '../lib/concurrency.js';
import { InvalidInput, NotFound, isDuplicateKey } from '../lib/errors.js';
import { RegionModel } from '../regions/model.js';
import type { GroupService } from './groups.js';
import { GroupModel } from './model.js';
import { townshipKey, villageKey } from './sheets/villages.js';

// One WeCom customer group as last synced (`_id` = county|chat id).
const wecomLinkSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    countyCode: { type: String, required: true },
    chatId: { type: String, required: true },
    name: { type: String, required: true },
    ownerUserId: { type: String, required: true },
    groupId: { type: String, default: null },
    /** The village an admin picked by hand: kept over every later sync. */
    pinnedVillageCode: { type: String, default: null },
    externalCount: { type: Number, default: 0 },
    staffCount: { type: Number, default: 0 },
    /** 0 normal; 1/2/3 the owner left the company (待继承/继承中/继承完成). */
    wecomStatus: { type: Number, default: 0 },
    present: { type: Boolean, default: true },
    syncedAt: { type: Date, required: true },
  },
  { versionKey: false },
);
wecomLinkSchema.index({ countyCode: 1 });
export const WecomLinkModel = mongoose.model('WecomGroupLink', wecomLinkSchema);
interface LinkDoc {
  _id: string;
  countyCode: string;
  chatId: string;
  name: string;
  ownerUserId: string;
  groupId: string | null;
  pinnedVillageCode: string | null;
  present: boolean;
}

// The last report of each county's sync (`_id` = county).
const syncReportSchema = new mongoose.Schema(
  { _id: { type: String, required: true }, report: { type: mongoose.Schema.Types.Mixed, required: true } },
  { versionKey: false },
);
const SyncReportModel = mongoose.model('WecomSyncReport', syncReportSchema);

export interface VillageCandidate {
  code: string;
  name: string;
  townshipName: string;
}

export interface SyncReport {
  countyCode: string;
  at: Date;
  by: string;
  total: number;
  created: number;
  updated: number;
  /** Groups whose name matches several villages: pick one by hand. */
  ambiguous: { chatId: string; name: string; candidates: VillageCandidate[] }[];
  /** Groups whose name matches no village of the county: pick one by hand. */
  unmatched: { chatId: string; name: string }[];
  /** Owners no account is linked to by WeCom userid: their groups have no officer. */
  ownersWithoutOfficer: { ownerUserId: string; groups: number }[];
  /**
   * The groups placed by this sync, by owner: the officer linked by WeCom userid (null when
   * none), how many groups, and their villages (the first few names and the count).
   */
  byOwner?: OwnerSummary[];
  /** Groups no longer in WeCom (dissolved, or out of the app's reach): made inactive. */
  left: { chatId: string; name: string }[];
  ownerChanged: { chatId: string; name: string; from: string; to: string }[];
  /** The owner left the company (WeCom status 1–3): the group waits for a successor. */
  ownerLeft: { chatId: string; name: string }[];
}

export interface OwnerSummary {
  ownerUserId: string;
  officerName: string | null;
  groups: number;
  villageCount: number;
  /** The first OWNER_VILLAGE_NAMES villages' names, in the order met. */
  villages: string[];
}
const OWNER_VILLAGE_NAMES = 8;

/** Words a group name adds after the village's: 东庄村平安群 → 东庄村. */
const GROUP_SUFFIXES = [
  '警民联系群',
  '警民联防群',
  '平安建设群',
  '反诈宣传群',
  '防诈宣传群',
  '警民群',
  '平安群',
  '反诈群',
  '治安群',
  '联防群',
  '宣传群',
  '居民群',
  '村民群',
  '微信群',
  '客户群',
  '群',
];

function stripGroupWords(name: string): string {
  let key = name.normalize('NFKC').replace(/\s+/g, '').replace(/[（(【[][^）)】\]]*[）)】\]]/g, '');
  for (;;) {
    const suffix = GROUP_SUFFIXES.find((s) => key.endsWith(s) && key.length > s.length);
    if (!suffix) return key.replace(/[-_·—0-9]+$/, '');
    key = key.slice(0, -suffix.length).replace(/[-_·—]+$/, '');
  }
}

interface VillageRow {
  code: string;
  name: string;
  regionPath: string[];
  key: string;
  townshipName: string;
  townshipKey: string;
}

/** The villages a group name can mean: exact key first; else villages whose name it contains (longest). */
export function matchVillage(groupName: string, villages: VillageRow[]): VillageRow[] {
  const stripped = stripGroupWords(groupName);
  const exact = villages.filter((v) => villageKey(stripped) === v.key);
  // A township named in front (城关镇东庄村) tells two 东庄 apart.
  const inTownship = (list: VillageRow[]) => {
    const named = list.filter((v) => stripped.includes(v.townshipKey) && v.townshipKey !== v.key);
    return named.length > 0 ? named : list;
  };
  if (exact.length) return inTownship(exact);
  const containing = villages.filter((v) => v.key.length >= 2 && stripped.includes(v.key));
  if (containing.length === 0) return [];
  const longest = Math.max(...containing.map((v) => v.key.length));
  return inTownship(containing.filter((v) => v.key.length === longest));
}

interface ChatDetail {
  chat_id: string;
  name: string;
  owner: string;
  member_list: { userid: string; type: number }[];
}

interface Placement {
  chat: ChatDetail;
  /** The group made by an earlier sync, if any, and its owner then. */
  groupId: string | null;
  previousOwner: string | null;
  village: VillageRow | null;
  external: number;
  officer: { displayName: string; phone: string | null } | null;
}

interface CurrentGroup {
  _id: unknown;
  name: string;
  channelKind: string;
  memberCount: number;
  officerName: string | null;
  officerPhone: string | null;
  regionCode: string;
  active: boolean;
}

/** Bulk updates in commands of at most 20 statements (src/db/bulk.ts), four commands at once. */
async function inBatches<T>(
  items: readonly T[],
  sizeOrWrite: number | ((batch: T[]) => Promise<unknown>),
  maybeWrite?: (batch: T[]) => Promise<unknown>,
): Promise<void> {
  const size = typeof sizeOrWrite === 'number' ? sizeOrWrite : MAX_UPDATES_PER_COMMAND;
  const write = typeof sizeOrWrite === 'number' ? maybeWrite! : sizeOrWrite;
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  await mapLimit(batches, 4, write);
}

export class WecomGroupSync {
  constructor(
    private readonly wecom: WecomGroupService,
    private readonly groups: GroupService,
    private readonly clock: Clock,
  ) {}

  private async villages(countyCode: string): Promise<VillageRow[]> {
    const rows = await RegionModel.find(
      { regionPath: countyCode, level: { $in: ['township', 'village'] } },
      { _id: 0, code: 1, name: 1, level: 1, regionPath: 1 },
    ).lean<{ code: string; name: string; level: string; regionPath: string[] }[]>();
    const townships = new Map(rows.filter((r) => r.level === 'township').map((r) => [r.code, r.name]));
    return rows
      .filter((r) => r.level === 'village')
      .map((r) => {
        const townshipName = townships.get(r.regionPath.at(-2) ?? '') ?? '';
        return { ...r, key: villageKey(r.name), townshipName, townshipKey: townshipKey(townshipName) };
      });
  }

  /** Every chat id of the county's app (owner_filter pages when WeCom asks for them, 81017). */
  private async chatIds(countyCode: string): Promise<{ chat_id: string; status: number }[]> {
    const all: { chat_id: string; status: number }[] = [];
    const page = async (filter: object | null) => {
      let cursor = '';
      do {
        const answer = await this.wecom.call<{ group_chat_list: { chat_id: string; status: number }[]; next_cursor?: string }>(
          countyCode,
          'externalcontact/groupchat/list',
          { status_filter: 0, limit: WECOM_GROUP_LIST_PAGE, ...(filter ?? {}), ...(cursor ? { cursor } : {}) },
        );
        if (!answer.ok) return answer.failure;
        all.push(...answer.data.group_chat_list);
        cursor = answer.data.next_cursor ?? '';
      } while (cursor);
      return null;
    };
    const failure = await page(null);
    if (failure?.errcode === 81017) {
      // Too many visible members: page by the owners we know (officers with a WeCom userid).
      const owners = (
        await UserModel.find({ wecomUserId: { $ne: null }, regionPath: countyCode }, { wecomUserId: 1 }).lean<
          { wecomUserId: string }[]
        >()
      ).map((u) => u.wecomUserId);
      for (let i = 0; i < owners.length; i += 100) {
        const again = await page({ owner_filter: { userid_list: owners.slice(i, i + 100) } });
        if (again) throw new InvalidInput(`企业微信同步失败：${again.message}`, 'countyCode');
      }
    } else if (failure) throw new InvalidInput(`企业微信同步失败：${failure.message}`, 'countyCode');
    return all;
  }

  async sync(countyCode: string, by: string): Promise<SyncReport> {
    if (!(await this.wecom.getApp(countyCode))) throw new NotFound('本县的企业微信应用（请先设置企业 ID 与 Secret）');
    const now = this.clock.now();
    const listed = await this.chatIds(countyCode);
    const details = await mapLimit(listed, 8, async (chat) => {
      const answer = await this.wecom.call<{ group_chat: ChatDetail }>(countyCode, 'externalcontact/groupchat/get', {
        chat_id: chat.chat_id,
        need_name: 0,
      });
      if (!answer.ok) throw new InvalidInput(`企业微信同步失败（群 ${chat.chat_id}）：${answer.failure.message}`, 'countyCode');
      return { ...answer.data.group_chat, status: chat.status };
    });
    const villages = await this.villages(countyCode);
    const byCode = new Map(villages.map((v) => [v.code, v]));
    const links = new Map(
      (await WecomLinkModel.find({ countyCode }).lean<LinkDoc[]>()).map((link) => [link.chatId, link]),
    );
    const owners = [...new Set(details.map((d) => d.owner))];
    const officers = new Map(
      (
        await UserModel.find({ wecomUserId: { $in: owners }, active: true }, { wecomUserId: 1, displayName: 1, phone: 1 }).lean<
          { wecomUserId: string; displayName: string; phone: string | null }[]
        >()
      ).map((u) => [u.wecomUserId, u]),
    );
    const report: SyncReport = {
      countyCode,
      at: now,
      by,
      total: details.length,
      created: 0,
      updated: 0,
      ambiguous: [],
      unmatched: [],
      ownersWithoutOfficer: [],
      byOwner: [],
      left: [],
      ownerChanged: [],
      ownerLeft: [],
    };
    const noOfficer = new Map<string, number>();
    // Decide every group first, then write in batches: one command per 20 statements
    // (src/db/bulk.ts), a few commands at once, instead of three round trips per group.
    const linkWrites: { chat: ChatDetail & { status: number }; external: number; staff: number }[] = [];
    const placements: Placement[] = [];
    for (const chat of details) {
      const link = links.get(chat.chat_id);
      links.delete(chat.chat_id);
      if (link && link.ownerUserId !== chat.owner)
        report.ownerChanged.push({ chatId: chat.chat_id, name: chat.name, from: link.ownerUserId, to: chat.owner });
      if (chat.status > 0) report.ownerLeft.push({ chatId: chat.chat_id, name: chat.name });
      const external = chat.member_list.filter((m) => m.type === 2).length;
      const staff = chat.member_list.length - external;
      linkWrites.push({ chat, external, staff });
      const officer = officers.get(chat.owner) ?? null;
      if (!officer) noOfficer.set(chat.owner, (noOfficer.get(chat.owner) ?? 0) + 1);
      let village = link?.pinnedVillageCode ? byCode.get(link.pinnedVillageCode) : undefined;
      if (!village) {
        const candidates = matchVillage(chat.name, villages);
        if (candidates.length === 1) village = candidates[0];
        else if (candidates.length > 1)
          report.ambiguous.push({
            chatId: chat.chat_id,
            name: chat.name,
            candidates: candidates.map((c) => ({ code: c.code, name: c.name, townshipName: c.townshipName })),
          });
        else report.unmatched.push({ chatId: chat.chat_id, name: chat.name });
      }
      if (!village && !link?.groupId) continue;
      placements.push({
        chat,
        groupId: link?.groupId ?? null,
        previousOwner: link?.ownerUserId ?? null,
        village: village ?? null,
        external,
        officer,
      });
    }
    await inBatches(linkWrites, (batch) =>
      WecomLinkModel.bulkWrite(
        batch.map(({ chat, external, staff }) => ({
          updateOne: {
            filter: { _id: `${countyCode}|${chat.chat_id}` },
            update: {
              $set: {
                countyCode,
                chatId: chat.chat_id,
                name: chat.name,
                ownerUserId: chat.owner,
                externalCount: external,
                staffCount: staff,
                wecomStatus: chat.status,
                present: true,
                syncedAt: now,
              },
            },
            upsert: true,
          },
        })),
        { ordered: false },
      ),
    );
    const placed = await this.placeAll(countyCode, placements);
    const newLinks: { chatId: string; groupId: string }[] = [];
    for (const [at, placement] of placements.entries()) {
      const groupId = placed[at];
      if (groupId && !placement.groupId) {
        report.created += 1;
        newLinks.push({ chatId: placement.chat.chat_id, groupId });
      } else if (groupId) report.updated += 1;
    }
    await inBatches(newLinks, (batch) =>
      WecomLinkModel.bulkWrite(
        batch.map(({ chatId, groupId }) => ({
          updateOne: { filter: { _id: `${countyCode}|${chatId}` }, update: { $set: { groupId } } },
        })),
        { ordered: false },
      ),
    );
    const gone = [...links.values()].filter((link) => link.present);
    for (const link of gone) report.left.push({ chatId: link.chatId, name: link.name });
    await inBatches(gone, async (batch) => {
      await WecomLinkModel.updateMany(
        { _id: { $in: batch.map((link) => link._id) } },
        { $set: { present: false, syncedAt: now } },
      );
      const groupIds = batch.flatMap((link) => (link.groupId ? [link.groupId] : []));
      if (groupIds.length) await GroupModel.updateMany({ _id: { $in: groupIds } }, { $set: { active: false } });
    });
    report.ownersWithoutOfficer = [...noOfficer].map(([ownerUserId, groups]) => ({ ownerUserId, groups }));
    report.byOwner = byOwner(placements, placed);
    await SyncReportModel.updateOne({ _id: countyCode }, { $set: { report } }, { upsert: true });
    return report;
  }

  /** The group's fields as the sync keeps them (name, village, owner, officer, member count). */
  private fields(countyCode: string, placement: Placement) {
    const { chat, village, external, officer } = placement;
    const credentials: WecomGroupCredentials = {
      kind: 'wecom_group',
      countyCode,
      chatId: chat.chat_id,
      ownerUserId: chat.owner,
    };
    return {
      name: chat.name,
      channelKind: 'wecom_group' as const,
      credentialsSealed: this.groups.sealCredentials(credentials),
      memberCount: external,
      memberCountUpdatedAt: this.clock.now(),
      officerName: officer?.displayName ?? null,
      officerPhone: officer?.phone ?? null,
      active: true,
      ...(village ? { regionCode: village.code, regionPath: village.regionPath } : {}),
    };
  }

  /**
   * Creates or refreshes the groups, in batches: known groups updated by id, new ones inserted
   * together. A new group whose name its village already has (a ledger import), or a batch
   * refused part way, falls back to one group at a time. Returns each placement's group id.
   */
  private async placeAll(countyCode: string, placements: Placement[]): Promise<(string | null)[]> {
    const ids: (string | null)[] = placements.map((p) => p.groupId);
    const fresh = placements.flatMap((p, at) => (!p.groupId && p.village ? [at] : []));
    // Groups the ledger already made under the same name in the village become these customer groups.
    const namesake = new Map<string, string>();
    if (fresh.length) {
      const existing = await GroupModel.find(
        {
          regionCode: { $in: [...new Set(fresh.map((at) => placements[at]!.village!.code))] },
          name: { $in: [...new Set(fresh.map((at) => placements[at]!.chat.name))] },
        },
        { _id: 1, regionCode: 1, name: 1 },
      ).lean<{ _id: unknown; regionCode: string; name: string }[]>();
      for (const g of existing) namesake.set(`${g.regionCode}|${g.name}`, String(g._id));
    }
    const inserts: { at: number; doc: Record<string, unknown> }[] = [];
    for (const at of fresh) {
      const p = placements[at]!;
      const same = namesake.get(`${p.village!.code}|${p.chat.name}`);
      if (same) ids[at] = same;
      else inserts.push({ at, doc: { _id: new mongoose.Types.ObjectId(), ...this.fields(countyCode, p) } });
    }
    // Known groups: only what changed is written (a group moved to another village is read
    // before its write by the read model's hooks, one at a time); the rest get the count's
    // time in one statement per 500.
    const updates = placements.flatMap((_, at) => (ids[at] ? [at] : []));
    const current = new Map(
      (
        await GroupModel.find(
          { _id: { $in: updates.map((at) => ids[at]!) } },
          { name: 1, channelKind: 1, memberCount: 1, officerName: 1, officerPhone: 1, regionCode: 1, active: 1 },
        ).lean<CurrentGroup[]>()
      ).map((g) => [String(g._id), g]),
    );
    const changed: { at: number; set: Record<string, unknown> }[] = [];
    const counted: string[] = [];
    for (const at of updates) {
      const set = this.changes(countyCode, placements[at]!, current.get(ids[at]!));
      if (Object.keys(set).length > 1) changed.push({ at, set });
      else counted.push(ids[at]!);
    }
    await inBatches(changed, (batch) =>
      GroupModel.bulkWrite(
        batch.map(({ at, set }) => ({ updateOne: { filter: { _id: ids[at]! }, update: { $set: set } } })),
        { ordered: false },
      ),
    );
    for (let i = 0; i < counted.length; i += 500)
      await GroupModel.updateMany(
        { _id: { $in: counted.slice(i, i + 500) } },
        { $set: { memberCountUpdatedAt: this.clock.now() } },
      );
    // Inserts hold no reads open (src/db/bulk.ts is about updates): 500 to a command.
    await inBatches(inserts, 500, async (batch) => {
      try {
        await GroupModel.insertMany(
          batch.map((i) => i.doc),
          { ordered: false },
        );
      } catch (error) {
        if (!isDuplicateKey(error) && !(error as { writeErrors?: unknown }).writeErrors) throw error;
      }
      const written = new Set(
        (
          await GroupModel.find({ _id: { $in: batch.map((i) => i.doc._id) } }, { _id: 1 }).lean<{ _id: unknown }[]>()
        ).map((g) => String(g._id)),
      );
      for (const { at, doc } of batch) {
        if (written.has(String(doc._id))) ids[at] = String(doc._id);
        else ids[at] = await this.place(countyCode, placements[at]!);
      }
    });
    return ids;
  }

  /** The fields of a known group that the sync changes (always the count's time); all of them if it is gone. */
  private changes(countyCode: string, placement: Placement, now: CurrentGroup | undefined): Record<string, unknown> {
    const fields = this.fields(countyCode, placement);
    if (!now) return fields;
    const set: Record<string, unknown> = { memberCountUpdatedAt: fields.memberCountUpdatedAt };
    for (const key of ['name', 'channelKind', 'memberCount', 'officerName', 'officerPhone', 'active'] as const)
      if (now[key] !== fields[key]) set[key] = fields[key];
    if (placement.village && now.regionCode !== placement.village.code)
      Object.assign(set, { regionCode: placement.village.code, regionPath: placement.village.regionPath });
    // The sealed credentials name the county, chat and owner: new when the owner changed.
    if (placement.previousOwner !== placement.chat.owner || now.channelKind !== 'wecom_group')
      set.credentialsSealed = fields.credentialsSealed;
    return set;
  }

  /** Creates or refreshes one group (name, village, owner, officer, member count). */
  private async place(countyCode: string, placement: Placement): Promise<string | null> {
    const { groupId, village } = placement;
    const fields = this.fields(countyCode, placement);
    if (groupId) {
      await GroupModel.updateOne({ _id: groupId }, { $set: fields });
      return groupId;
    }
    if (!village) return null;
    try {
      const doc = await GroupModel.create(fields);
      return String(doc._id);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      // A group of that name exists in the village (from a ledger import): it becomes this customer group.
      const existing = await GroupModel.findOne({ regionCode: village.code, name: placement.chat.name }, { _id: 1 }).lean();
      if (!existing) throw error;
      await GroupModel.updateOne({ _id: existing._id }, { $set: fields });
      return String(existing._id);
    }
  }

  /** An admin's pick of the village for a group the sync could not place; kept over later syncs. */
  async pickVillage(countyCode: string, chatId: string, villageCode: string): Promise<{ groupId: string }> {
    const link = await WecomLinkModel.findById(`${countyCode}|${chatId}`).lean<LinkDoc & { externalCount: number }>();
    if (!link) throw new NotFound(`企业微信客户群 ${chatId}`);
    const village = (await this.villages(countyCode)).find((v) => v.code === villageCode);
    if (!village) throw new InvalidInput(`${villageCode} 不是本县的村（社区）`, 'villageCode');
    const officer = await UserModel.findOne({ wecomUserId: link.ownerUserId, active: true }, {
      displayName: 1,
      phone: 1,
    }).lean<{ displayName: string; phone: string | null }>();
    const groupId = await this.place(countyCode, {
      chat: { chat_id: chatId, name: link.name, owner: link.ownerUserId, member_list: [] },
      groupId: link.groupId,
      previousOwner: null,
      village,
      external: link.externalCount,
      officer,
    });
    await WecomLinkModel.updateOne({ _id: link._id }, { $set: { pinnedVillageCode: villageCode, groupId } });
    return { groupId: groupId! };
  }

  async lastReport(countyCode: string): Promise<SyncReport | null> {
    return ((await SyncReportModel.findById(countyCode).lean<{ report: SyncReport }>())?.report ?? null) as SyncReport | null;
  }
}

/** The placed groups by owner, most groups first (the report's 按群主归属). */
function byOwner(placements: Placement[], placed: (string | null)[]): OwnerSummary[] {
  const owners = new Map<string, OwnerSummary & { codes: Set<string> }>();
  for (const [at, placement] of placements.entries()) {
    if (!placed[at]) continue;
    const owner = placement.chat.owner;
    const summary = owners.get(owner) ?? {
      ownerUserId: owner,
      officerName: placement.officer?.displayName ?? null,
      groups: 0,
      villageCount: 0,
      villages: [],
      codes: new Set<string>(),
    };
    summary.groups += 1;
    const village = placement.village;
    if (village && !summary.codes.has(village.code)) {
      summary.codes.add(village.code);
      summary.villageCount += 1;
      if (summary.villages.length < OWNER_VILLAGE_NAMES) summary.villages.push(village.name);
    }
    owners.set(owner, summary);
  }
  return [...owners.values()]
    .sort((a, b) => b.groups - a.groups || a.ownerUserId.localeCompare(b.ownerUserId))
    .map(({ codes: _, ...summary }) => summary);
}

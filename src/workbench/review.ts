// What a reviewer needs to decide (issue 21, the review screen): who wrote, edited and
// submitted a notice or campaign, and when — by name and unit, not by id — and a campaign's
// audience as it will be sent: townships, groups, members, channels, manual forwarding tasks
// and the officers of manual groups who have no account (nobody would be told of their task).
import mongoose from 'mongoose';
import { GroupModel } from '../audience/model.js';
import type { AudienceService } from '../audience/selection.js';
import { UserModel } from '../auth/model.js';
import type { Principal } from '../auth/principal.js';
import { CampaignModel } from '../campaigns/model.js';
import type { CampaignService } from '../campaigns/service.js';
import { NotFound } from '../lib/errors.js';
import { NoticeModel } from '../notices/model.js';
import { regionNamesOf } from '../regions/directory.js';

/** Groups read to describe an audience; beyond this the figures say they are partial. */
const AUDIENCE_READ_LIMIT = 50_000;
const TOWNSHIP_ROWS = 50;
const OFFICER_ROWS = 50;

export interface PersonName {
  id: string;
  name: string;
  unit: string;
}

export interface ReviewPeople {
  author: PersonName | null;
  editors: PersonName[];
  submittedBy: PersonName | null;
  submittedAt: Date | null;
  updatedAt: Date;
  /** The approved version a new version replaces (its changes are shown against it). */
  approvedVersion: number | null;
}

export interface AudienceFacts {
  /** A follow-up goes to whoever received the original: no selection to describe. */
  recipientsOfOriginal: boolean;
  groupCount: number;
  villageCount: number;
  memberTotal: number;
  partial: boolean;
  townships: { code: string; name: string; groupCount: number; memberTotal: number }[];
  byChannel: { channel: string; groupCount: number; memberTotal: number }[];
  manualTaskCount: number;
  /** Manual groups whose officer phone names no active account: their tasks reach nobody. */
  officersWithoutAccount: { name: string; phone: string | null; groupCount: number }[];
  manualGroupsWithoutAccount: number;
  /** WeCom customer groups already at their receive cap: they will not receive this push. */
  wecomOverCap?: number;
  /** 这次推送将有 N 个群超出本月接收上限…, shown before approval. */
  capWarning?: string;
  /** One group of the audience per channel: the reviewer's previews show the card as it posts there. */
  samples: { id: string; name: string; channel: string }[];
}

export interface CampaignReviewFacts extends Omit<ReviewPeople, 'approvedVersion'> {
  audience: AudienceFacts;
}

interface GroupFacts {
  _id: unknown;
  name: string;
  regionCode: string;
  regionPath: string[];
  channelKind: string;
  memberCount: number;
  officerName: string | null;
  officerPhone: string | null;
}

export class ReviewFactsService {
  constructor(
    private readonly campaigns: CampaignService,
    private readonly audience: AudienceService,
  ) {}

  private async people(ids: (string | null)[]): Promise<Map<string, PersonName>> {
    const wanted = [...new Set(ids.filter((id): id is string => !!id && mongoose.isValidObjectId(id)))];
    if (!wanted.length) return new Map();
    const users = await UserModel.find({ _id: { $in: wanted } }, { displayName: 1, regionCode: 1 }).lean<
      { _id: unknown; displayName: string; regionCode: string }[]
    >();
    const regionName = await regionNamesOf(users.map((u) => u.regionCode));
    return new Map(
      users.map((u) => [
        String(u._id),
        { id: String(u._id), name: u.displayName, unit: regionName.get(u.regionCode) ?? '' },
      ]),
    );
  }

  async notice(by: Principal, id: string): Promise<ReviewPeople> {
    if (!mongoose.isValidObjectId(id)) throw new NotFound(`通告 ${id}`);
    const doc = await NoticeModel.findOne(
      { _id: id, ...by.scope.filter() },
      { authorId: 1, editorIds: 1, submittedBy: 1, submittedAt: 1, updatedAt: 1, approvedVersion: 1 },
    ).lean<{
      authorId: string;
      editorIds: string[];
      submittedBy: string | null;
      submittedAt: Date | null;
      updatedAt: Date;
      approvedVersion: number | null;
    }>();
    if (!doc) throw new NotFound(`通告 ${id}`);
    const names = await this.people([doc.authorId, doc.submittedBy, ...doc.editorIds]);
    return {
      author: names.get(doc.authorId) ?? null,
      editors: doc.editorIds.flatMap((e) => names.get(e) ?? []),
      submittedBy: doc.submittedBy ? (names.get(doc.submittedBy) ?? null) : null,
      submittedAt: doc.submittedAt ?? null,
      updatedAt: doc.updatedAt,
      approvedVersion: doc.approvedVersion ?? null,
    };
  }

  async campaign(by: Principal, id: string): Promise<CampaignReviewFacts> {
    const campaign = await this.campaigns.get(by.scope, id);
    const doc = await CampaignModel.findById(id, { editorIds: 1, submittedBy: 1, updatedAt: 1 }).lean<{
      editorIds: string[];
      submittedBy: string | null;
      updatedAt: Date;
    }>();
    const names = await this.people([campaign.authorId, doc?.submittedBy ?? null, ...(doc?.editorIds ?? [])]);
    const followUp = !!(campaign.audience.recipientsOf || campaign.audience.recipientsOfNotice);
    return {
      author: names.get(campaign.authorId) ?? { id: campaign.authorId, name: campaign.authorName, unit: '' },
      editors: (doc?.editorIds ?? []).flatMap((e) => names.get(e) ?? []),
      submittedBy: doc?.submittedBy ? (names.get(doc.submittedBy) ?? null) : null,
      submittedAt: campaign.status === 'in_review' ? (doc?.updatedAt ?? null) : null,
      updatedAt: doc?.updatedAt ?? campaign.createdAt,
      audience: followUp ? emptyFacts(true) : await this.audienceFacts(by, campaign.audience),
    };
  }

  private async audienceFacts(
    by: Principal,
    spec: Parameters<AudienceService['filterFor']>[1],
  ): Promise<AudienceFacts> {
    const filter = await this.audience.filterFor(by.scope, spec);
    const groups = await GroupModel.find(filter, {
      _id: 1,
      name: 1,
      regionCode: 1,
      regionPath: 1,
      channelKind: 1,
      memberCount: 1,
      officerName: 1,
      officerPhone: 1,
    })
      .limit(AUDIENCE_READ_LIMIT + 1)
      .lean<GroupFacts[]>();
    const facts = emptyFacts(false);
    facts.partial = groups.length > AUDIENCE_READ_LIMIT;
    const villages = new Set<string>();
    const townships = new Map<string, { code: string; name: string; groupCount: number; memberTotal: number }>();
    const channels = new Map<string, { channel: string; groupCount: number; memberTotal: number }>();
    const manualOfficers = new Map<string, { name: string; phone: string | null; groupCount: number }>();
    for (const group of groups.slice(0, AUDIENCE_READ_LIMIT)) {
      facts.groupCount += 1;
      facts.memberTotal += group.memberCount;
      villages.add(group.regionCode);
      const townshipCode = group.regionPath[group.regionPath.length - 2] ?? group.regionCode;
      const township = townships.get(townshipCode) ?? { code: townshipCode, name: '', groupCount: 0, memberTotal: 0 };
      township.groupCount += 1;
      township.memberTotal += group.memberCount;
      townships.set(townshipCode, township);
      const channel = channels.get(group.channelKind) ?? { channel: group.channelKind, groupCount: 0, memberTotal: 0 };
      channel.groupCount += 1;
      channel.memberTotal += group.memberCount;
      if (!channels.has(group.channelKind)) {
        facts.samples.push({ id: String(group._id), name: group.name, channel: group.channelKind });
      }
      channels.set(group.channelKind, channel);
      if (group.channelKind === 'manual') {
        facts.manualTaskCount += 1;
        const key = `${group.officerName ?? ''}|${group.officerPhone ?? ''}`;
        const officer = manualOfficers.get(key) ?? {
          name: group.officerName ?? '未登记民警',
          phone: group.officerPhone,
          groupCount: 0,
        };
        officer.groupCount += 1;
        manualOfficers.set(key, officer);
      }
    }
    facts.villageCount = villages.size;
    for (const [code, name] of await regionNamesOf(townships.keys())) townships.get(code)!.name = name;
    facts.townships = [...townships.values()]
      .sort((a, b) => b.groupCount - a.groupCount || a.code.localeCompare(b.code))
      .slice(0, TOWNSHIP_ROWS);
    facts.byChannel = [...channels.values()].sort((a, b) => b.groupCount - a.groupCount);
    const phones = [...manualOfficers.values()].flatMap((o) => (o.phone ? [o.phone] : []));
    const accounts = phones.length
      ? await UserModel.find({ phone: { $in: phones }, active: true }, { phone: 1 }).lean<{ phone: string }[]>()
      : [];
    const withAccount = new Set(accounts.map((a) => a.phone));
    const missing = [...manualOfficers.values()].filter((o) => !o.phone || !withAccount.has(o.phone));
    facts.manualGroupsWithoutAccount = missing.reduce((n, o) => n + o.groupCount, 0);
    facts.officersWithoutAccount = missing.sort((a, b) => b.groupCount - a.groupCount).slice(0, OFFICER_ROWS);
    if (channels.has('wecom_group')) Object.assign(facts, await this.audience.capFacts(by.scope, spec));
    return facts;
  }
}

function emptyFacts(recipientsOfOriginal: boolean): AudienceFacts {
  return {
    recipientsOfOriginal,
    groupCount: 0,
    villageCount: 0,
    memberTotal: 0,
    partial: false,
    townships: [],
    byChannel: [],
    manualTaskCount: 0,
    officersWithoutAccount: [],
    manualGroupsWithoutAccount: 0,
    samples: [],
  };
}

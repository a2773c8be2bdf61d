// Campaigns: compose, four-eyes approval, pause / resume / cancel, edits that re-plan only
// future runs, and retraction follow-ups. Scheduling maths lives in schedule.ts.
import mongoose from 'mongoose';
import type { AuditService } from '../audit/service.js';
import type { Principal } from '../auth/principal.js';
import { type Intent, changeStateOnce, newIntent, runIntent, unfinishedIntents } from '../db/claims.js';
import type { Role } from '../auth/roles.js';
import type { Clock } from '../lib/clock.js';
import { type ListWindow, keysetPage } from '../lib/keyset.js';
import { mapLimit } from '../lib/concurrency.js';
import { Conflict, Forbidden, InvalidInput, NotFound, isDuplicateKey } from '../lib/errors.js';
import { createHash } from 'node:crypto';
import {
  type CampaignAction,
  type CampaignEffect,
  CAMPAIGN_LIFECYCLE,
  type RepairAction,
  actionsFor,
} from './lifecycle.js';
import type { Scope } from '../regions/scope.js';
import { lookAtCampaignTasks } from '../channels/manual/watch.js';
import { type CampaignDoc, CampaignModel } from './model.js';
import { type IndexedCampaign, campaignCandidates, indexedCampaigns } from './list-index.js';
import type { AudienceSpec, AudienceSummary, CampaignPorts, DeliveryControl } from './ports.js';
import {
  MISSED_RUN_MS,
  type Priority,
  type QuietHours,
  type Schedule,
  firstRunAt,
  runMissed,
  validateSchedule,
} from './schedule.js';

export type CardStyle = 'text' | 'rich' | 'image';
export type CampaignStatus = CampaignDoc['status'];

export interface CampaignInput {
  title: string;
  noticeId: string;
  audience: AudienceSpec;
  schedule: Schedule;
  cardStyle?: CardStyle;
  priority?: Priority;
}

/** What the calendar needs of a campaign (calendar/service.ts). */
export type CalendarCampaign = Pick<
  Campaign,
  'id' | 'title' | 'status' | 'priority' | 'noticeId' | 'schedule' | 'approvedAt' | 'createdAt'
>;

export interface Campaign {
  id: string;
  title: string;
  noticeId: string;
  audience: AudienceSpec;
  schedule: Schedule;
  cardStyle: CardStyle;
  priority: Priority;
  status: CampaignStatus;
  authorId: string;
  authorName: string;
  regionCode: string;
  reviewerId: string | null;
  reviewNote: string | null;
  approvedAt: Date | null;
  nextRunAt: Date | null;
  revision: number;
  retractionOf: string | null;
  followUpOfNotice: string | null;
  followUpOutcome: FollowUpOutcome | null;
  retractedAt: Date | null;
  createdAt: Date;
  /** Paused by staff: stays paused through edit and approval until resumed. */
  paused: boolean;
  /** State changes whose effects have not finished yet (their runner died, or is still at work). */
  unfinished: { kind: string; at: Date }[];
}

/** A campaign as one caller sees it: what they may do with it, and its correction follow-up. */
export interface CampaignView extends Campaign {
  actions: (CampaignAction | RepairAction)[];
  /** For a retracted campaign: its correction follow-up campaign, once one exists. */
  followUpId: string | null;
}

/** Why a follow-up goes to everyone who received a notice. */
export type FollowUpOutcome = 'retracted' | 'solved' | 'expired';

const FOLLOW_UP_LABELS: Record<FollowUpOutcome, string> = { retracted: '撤回', solved: '已破案', expired: '已过期' };

export interface FollowUpRequest {
  /** The notice whose recipients get the follow-up. */
  noticeId: string;
  /** The notice they get (approved; e.g. "suspect caught", "this notice was wrong"). */
  followUpNoticeId: string;
  outcome: FollowUpOutcome;
  /** The title's label when it says more than the outcome's slot (已抓获 files under `solved`). */
  label?: string;
  /** The campaign the follow-up is filed under (its title, region and card style). */
  from: { id: string; title: string; cardStyle: string; regionCode: string; regionPath: string[] };
}

/** Categories that are urgent by nature (SPEC §3.5): they go through quiet hours. */
const URGENT_CATEGORIES = new Set(['wanted_clue', 'wanted-clue', 'wanted']);

function toSchedule(doc: CampaignDoc['schedule']): Schedule {
  if (doc.kind === 'once') return { kind: 'once', at: doc.at! };
  if (doc.kind === 'cron') return { kind: 'cron', cron: doc.cron!, startAt: doc.startAt ?? null, endAt: doc.endAt! };
  return { kind: 'now' };
}

export function toCampaign(doc: CampaignDoc): Campaign {
  return {
    id: String(doc._id),
    title: doc.title,
    noticeId: doc.noticeId,
    audience: {
      regions: doc.audience.regions,
      tags: doc.audience.tags,
      near: doc.audience.near?.lat == null ? null : (doc.audience.near as AudienceSpec['near']),
      groups: doc.audience.groups,
      excludeRegions: doc.audience.excludeRegions,
      excludeTags: doc.audience.excludeTags,
      excludeGroups: doc.audience.excludeGroups,
      recipientsOf: doc.audience.recipientsOf ?? null,
      recipientsOfNotice: doc.audience.recipientsOfNotice ?? null,
    },
    schedule: toSchedule(doc.schedule),
    cardStyle: doc.cardStyle as CardStyle,
    priority: doc.priority as Priority,
    status: doc.status,
    authorId: doc.authorId,
    authorName: doc.authorName,
    regionCode: doc.regionCode,
    reviewerId: doc.reviewerId ?? null,
    reviewNote: doc.reviewNote ?? null,
    approvedAt: doc.approvedAt ?? null,
    nextRunAt: doc.nextRunAt ?? null,
    revision: doc.revision,
    retractionOf: doc.retractionOf ?? null,
    followUpOfNotice: doc.followUpOfNotice ?? null,
    followUpOutcome: (doc.followUpOutcome as FollowUpOutcome | null) ?? null,
    retractedAt: doc.retractedAt ?? null,
    createdAt: (doc as unknown as { createdAt: Date }).createdAt,
    paused: Boolean(doc.paused) || doc.status === 'paused',
    // Filled in by the service, which knows which intents are finished.
    unfinished: [],
  };
}

function scheduleDoc(schedule: Schedule) {
  return {
    kind: schedule.kind,
    at: schedule.kind === 'once' ? schedule.at : null,
    cron: schedule.kind === 'cron' ? schedule.cron : null,
    startAt: schedule.kind === 'cron' ? schedule.startAt : null,
    endAt: schedule.kind === 'cron' ? schedule.endAt : null,
  };
}

const EMPTY_AUDIENCE: AudienceSpec = {
  regions: [],
  tags: [],
  groups: [],
  excludeRegions: [],
  excludeTags: [],
  excludeGroups: [],
};

export { MISSED_RUN_MS };
/** An intent younger than this is left to the runner that recorded it (the sweep takes older ones). */
const INTENT_SWEEP_AFTER_MS = 10_000;

/** The follow-up campaign of a notice for one outcome: one id, whoever creates it, however often. */
export function followUpIdFor(noticeId: string, outcome: FollowUpOutcome): string {
  return createHash('sha256').update(`follow-up:${noticeId}:${outcome}`).digest('hex').slice(0, 24);
}

export interface CampaignServiceOptions {
  /** How long the runner of an intent holds it: one that died is taken over after this. */
  intentLeaseMs: number;
  /** Writes `intent-step <kind> <id> <step>` to stderr before each step (the reliability scenario). */
  trace?: boolean;
  /** Quiet hours: a normal one-off run is due at their end, which decides whether it was missed. */
  quietHours?: QuietHours;
}

const DEFAULT_QUIET_HOURS: QuietHours = { start: '22:00', end: '07:00' };

type ViewFields = Pick<CampaignDoc, 'editorIds' | 'submittedBy' | 'lastRunAt'>;
/**
 * What `viewFor` needs beyond a Campaign (who may act on it), kept with each campaign this
 * service has just read whole, so a page of the list is not read a second time (by an `$in`
 * on `_id`, which FerretDB answers with a scan of every campaign).
 */
const viewFields = new WeakMap<Campaign, ViewFields>();

function withViewFields(campaign: Campaign, doc: CampaignDoc): Campaign {
  viewFields.set(campaign, { editorIds: doc.editorIds, submittedBy: doc.submittedBy, lastRunAt: doc.lastRunAt });
  return campaign;
}

export class CampaignService {
  readonly owner = `campaigns-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  constructor(
    private readonly clock: Clock,
    private readonly timeZone: string,
    private readonly ports: CampaignPorts,
    private readonly audit: AuditService,
    private readonly deliveries: DeliveryControl,
    private readonly options: CampaignServiceOptions = { intentLeaseMs: 60_000 },
  ) {}

  private async load(scope: Scope, id: string): Promise<CampaignDoc> {
    if (!mongoose.isValidObjectId(id)) throw new NotFound(`推送 ${id}`);
    const doc = await CampaignModel.findOne({ _id: id, ...scope.filter() }).lean<CampaignDoc>();
    if (!doc) throw new NotFound(`推送 ${id}`);
    return doc;
  }

  private async checkContent(
    scope: Scope,
    input: CampaignInput,
  ): Promise<{ priority: Priority; summary: AudienceSummary }> {
    validateSchedule(input.schedule, this.clock.now());
    const notice = await this.ports.findNotice(scope, input.noticeId);
    const summary = await this.ports.summarizeAudience(scope, input.audience);
    if (summary.groupCount === 0) throw new InvalidInput('受众为空：所选地区、标签和群组中没有可发送的群', 'audience');
    const priority = input.priority ?? (URGENT_CATEGORIES.has(notice.category) ? 'urgent' : 'normal');
    return { priority, summary };
  }

  async create(
    by: Principal,
    input: CampaignInput,
    ip?: string,
  ): Promise<Campaign & { audienceSummary: AudienceSummary }> {
    const { priority, summary } = await this.checkContent(by.scope, input);
    const created = await CampaignModel.create({
      title: input.title.trim(),
      noticeId: input.noticeId,
      audience: input.audience,
      schedule: scheduleDoc(input.schedule),
      cardStyle: input.cardStyle ?? 'rich',
      priority,
      authorId: by.id,
      authorName: by.username,
      editorIds: [by.id],
      regionCode: by.scope.regionCode,
      regionPath: by.regionPath,
    });
    const campaign = toCampaign(created.toObject() as CampaignDoc);
    await this.audit.record({
      actor: by,
      action: 'campaign.create',
      target: { kind: 'campaign', id: campaign.id },
      ip,
    });
    return { ...campaign, audienceSummary: summary };
  }

  /** For the engine, which acts for whoever approved the campaign: no scope filter. */
  async findForEngine(id: string): Promise<Campaign | null> {
    if (!mongoose.isValidObjectId(id)) return null;
    const doc = await CampaignModel.findById(id).lean<CampaignDoc>();
    return doc ? toCampaign(doc) : null;
  }

  /** What a worker checks before each send: one _id read of two fields. */
  async engineState(id: string): Promise<{ status: CampaignStatus; retracted: boolean } | null> {
    if (!mongoose.isValidObjectId(id)) return null;
    const doc = await CampaignModel.findById(id, { status: 1, retractedAt: 1 }).lean<CampaignDoc>();
    return doc ? { status: doc.status, retracted: Boolean(doc.retractedAt) } : null;
  }

  /**
   * The earliest next run of any approved campaign (the scheduler's due marker), or null. From
   * the campaigns' index (list-index.ts, exact as of this call), never a scan of the campaigns.
   */
  async earliestNextRun(): Promise<Date | null> {
    let earliest: number | null = null;
    for (const campaign of (await indexedCampaigns()).values()) {
      if (campaign.status !== 'approved' || campaign.nextRunAt === null) continue;
      if (earliest === null || campaign.nextRunAt < earliest) earliest = campaign.nextRunAt;
    }
    return earliest === null ? null : new Date(earliest);
  }

  /**
   * Approved campaigns whose next run is due (the scheduler tick): the index's candidates, each
   * read by `_id` with the same filter (a campaign changed since is filtered as a scan would).
   */
  async dueForRun(now: Date): Promise<Campaign[]> {
    const ids: string[] = [];
    for (const campaign of (await indexedCampaigns()).values()) {
      if (campaign.status === 'approved' && campaign.nextRunAt !== null && campaign.nextRunAt <= now.getTime()) {
        ids.push(campaign.id);
      }
    }
    const docs = await mapLimit(ids.sort(), 8, (id) =>
      CampaignModel.findOne({ _id: id, status: 'approved', nextRunAt: { $ne: null, $lte: now } }).lean<CampaignDoc>(),
    );
    return docs.filter((doc): doc is NonNullable<typeof doc> => doc !== null).map(toCampaign);
  }

  /**
   * Moves a campaign past a run the scheduler has created. Idempotent: two schedulers that
   * both created the same run write the same next time.
   */
  async advancePastRun(id: string, runAt: Date, next: Date | null, ranAt: Date | null = runAt): Promise<void> {
    if (!mongoose.isValidObjectId(id)) return;
    const current = await CampaignModel.findById(id).lean<CampaignDoc>();
    if (current?.status !== 'approved' || current.nextRunAt?.getTime() !== runAt.getTime()) return;
    const ran = ranAt ? { lastRunAt: ranAt } : {};
    // A lost claim: a cancel, pause or edit (or another scheduler) changed it first.
    await this.claim(current, next ? { nextRunAt: next, ...ran } : { nextRunAt: null, status: 'completed', ...ran });
  }

  async get(scope: Scope, id: string): Promise<Campaign> {
    return (await this.withUnfinished([await this.load(scope, id)]))[0]!;
  }

  /** One page of the campaign list (keyset on _id; status, title search, creation-date range). */
  async page(scope: Scope, query: ListWindow & { status?: CampaignStatus; limit: number }): Promise<Campaign[]> {
    const page = keysetPage(query, { dateField: 'createdAt', textField: 'title' });
    const filter = { ...scope.filter(), ...(query.status ? { status: query.status } : {}), ...page.match };
    const docs = await this.pageById(scope, query, filter);
    return docs.map((doc) => withViewFields(toCampaign(doc), doc));
  }

  /**
   * A page without a scan: the candidates in scope that the index says pass the list's
   * filters (status, title, creation dates; list-index.ts) in `_id` order, each read by `_id`
   * with the list's own filter until the page is full, so the answer is the scan's.
   */
  private async pageById(
    scope: Scope,
    query: ListWindow & { status?: CampaignStatus; limit: number },
    filter: Record<string, unknown>,
  ) {
    const newest = query.sort !== 'oldest';
    const cursor = newest ? query.before : query.after;
    const keep = indexFilter(query);
    const ids = (await campaignCandidates(scope.regionCode, newest, keep)).filter(
      (id) => !cursor || (newest ? id < cursor : id > cursor),
    );
    return this.readById(ids, filter, query.limit);
  }

  /** Each id by `_id` with `filter`, 8 in flight, in order, until `limit` are found. */
  private async readById(ids: string[], filter: Record<string, unknown>, limit: number): Promise<CampaignDoc[]> {
    const found: CampaignDoc[] = [];
    let at = 0;
    while (found.length < limit && at < ids.length) {
      const next = ids.slice(at, at + (limit - found.length));
      at += next.length;
      const docs = await mapLimit(next, 8, (id) =>
        CampaignModel.findOne({ ...filter, _id: id })
          .lean<CampaignDoc>()
          .exec(),
      );
      for (const doc of docs) if (doc) found.push(doc);
    }
    return found;
  }

  /**
   * The newest `limit` campaigns in scope by creation (with `status`), newest first; the
   * review queue (in_review) puts follow-ups first, then urgent ones. Chosen from the index,
   * read by `_id`.
   */
  async list(scope: Scope, status?: CampaignStatus, limit = 100): Promise<Campaign[]> {
    const docs = await this.newestById(scope, status, limit);
    // The review queue shows follow-ups (retracted, solved, expired) first, then urgent ones.
    if (status === 'in_review') docs.sort((a, b) => reviewRank(a) - reviewRank(b));
    return this.withUnfinished(docs);
  }

  /**
   * The calendar's campaigns: of the newest `limit` in scope by creation (with `status`),
   * those whose schedule can run inside [from, to), as the index holds them (no campaign read).
   */
  async forCalendar(
    scope: Scope,
    window: { from: Date; to: Date; status?: CampaignStatus },
    limit = 500,
  ): Promise<CalendarCampaign[]> {
    const from = window.from.getTime();
    const to = window.to.getTime();
    return (await this.newestIndexed(scope, window.status, limit))
      .filter((c) => c.runsFrom < to && c.runsTo >= from)
      .map((c) => ({
        id: c.id,
        title: c.title,
        status: c.status as CampaignStatus,
        priority: c.priority as Priority,
        noticeId: c.noticeId,
        schedule: toSchedule(c.schedule as CampaignDoc['schedule']),
        approvedAt: c.approvedAt,
        createdAt: new Date(c.createdAt),
      }));
  }

  /** The newest `limit` in scope by creation (with `status`), as `.sort({ createdAt: -1 })` (ties by _id). */
  private async newestIndexed(scope: Scope, status: CampaignStatus | undefined, limit: number) {
    const campaigns = await indexedCampaigns();
    const code = scope.regionCode;
    const inScope: IndexedCampaign[] = [];
    for (const c of campaigns.values()) {
      if (c.regionPath.includes(code) && (!status || c.status === status)) inScope.push(c);
    }
    inScope.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
    return inScope.slice(0, limit);
  }

  private async newestById(scope: Scope, status: CampaignStatus | undefined, limit: number): Promise<CampaignDoc[]> {
    const ids = (await this.newestIndexed(scope, status, limit)).map((c) => c.id);
    const filter = { ...scope.filter(), ...(status ? { status } : {}) };
    return this.readById(ids, filter, ids.length);
  }

  /** Campaigns with their unfinished intents (one read of the done markers for all). */
  private async withUnfinished(docs: CampaignDoc[]): Promise<Campaign[]> {
    const open = new Set((await unfinishedIntents(docs.flatMap((doc) => intentsOf(doc)))).map((i) => i.id));
    return docs.map((doc) =>
      withViewFields(
        {
          ...toCampaign(doc),
          unfinished: intentsOf(doc)
            .filter((intent) => open.has(intent.id))
            .map((intent) => ({ kind: intent.kind, at: intent.at })),
        },
        doc,
      ),
    );
  }

  /** What this caller may do with each campaign (the lifecycle table), and a retraction's follow-up. */
  async viewFor(by: Principal & { role: Role }, campaigns: Campaign[]): Promise<CampaignView[]> {
    // Each by its _id (an `$in` is a scan of every campaign on FerretDB): the follow-ups of the
    // retracted ones, and the campaigns not read whole by this service just before.
    const followUpIds = campaigns.filter((c) => c.retractedAt).map((c) => followUpIdFor(c.noticeId, 'retracted'));
    const found = await mapLimit(followUpIds, 8, (id) => CampaignModel.exists({ _id: id }));
    const existing = new Set(followUpIds.filter((_, i) => found[i]));
    const unread = campaigns.filter((c) => !viewFields.has(c));
    const read = await mapLimit(unread, 8, (c) =>
      mongoose.isValidObjectId(c.id)
        ? CampaignModel.findById(c.id, { editorIds: 1, submittedBy: 1, lastRunAt: 1 }).lean<ViewFields>().exec()
        : Promise.resolve(null),
    );
    const docs = new Map(unread.map((c, i) => [c.id, read[i] ?? null]));
    return campaigns.map((campaign) => {
      const followUpId = campaign.retractedAt ? followUpIdFor(campaign.noticeId, 'retracted') : null;
      const doc = viewFields.get(campaign) ?? docs.get(campaign.id);
      const hasFollowUp = followUpId !== null && existing.has(followUpId);
      return {
        ...campaign,
        followUpId: hasFollowUp ? followUpId : null,
        actions: actionsFor({
          userId: by.id,
          role: by.role,
          campaign: {
            status: campaign.status,
            authorId: campaign.authorId,
            editorIds: doc?.editorIds ?? [],
            submittedBy: doc?.submittedBy ?? null,
            retractedAt: campaign.retractedAt,
            followUpOfNotice: campaign.followUpOfNotice,
            retractionOf: campaign.retractionOf,
            schedule: { kind: campaign.schedule.kind } as CampaignDoc['schedule'],
            lastRunAt: doc?.lastRunAt ?? null,
          },
          unfinished: campaign.unfinished.length > 0,
          hasFollowUp,
        }),
      };
    });
  }

  /** When the campaign's latest run was created: its own record, or the engine's (a tick that lost its advance). */
  private async lastRun(current: CampaignDoc): Promise<Date | null> {
    return current.lastRunAt ?? (await this.deliveries.lastRunAt(String(current._id)));
  }

  /**
   * Edits go back to review; runs already created keep what was approved for them and wait
   * (held) until the campaign is approved again. A one-off campaign whose run exists cannot
   * be edited (its run would never carry the edit; a new approval must not send it twice).
   */
  async update(by: Principal, id: string, input: CampaignInput, ip?: string): Promise<Campaign> {
    const current = await this.load(by.scope, id);
    this.checkFrom('edit', current);
    if (current.schedule.kind !== 'cron' && (await this.lastRun(current))) {
      throw new Conflict('推送已开始发送，不能修改；如需更正请撤回或取消后新建推送');
    }
    const { priority } = await this.checkContent(by.scope, input);
    const status = current.status === 'draft' ? 'draft' : 'in_review';
    // Edits since the last approval accumulate their editors; editing approved content starts anew.
    const editors = current.status === 'draft' || current.status === 'in_review' ? (current.editorIds ?? []) : [];
    const updated = await this.change(
      by,
      'edit',
      current,
      {
        title: input.title.trim(),
        noticeId: input.noticeId,
        audience: input.audience,
        schedule: scheduleDoc(input.schedule),
        cardStyle: input.cardStyle ?? current.cardStyle,
        priority,
        status,
        // A pause survives the edit and the approval after it (only resume lifts it).
        paused: Boolean(current.paused) || current.status === 'paused',
        nextRunAt: null,
        reviewerId: null,
        approvedAt: null,
        revision: current.revision + 1,
        editorIds: [...new Set([...editors, by.id])],
        submittedBy: status === 'in_review' ? by.id : null,
      },
      { ip, filter: { revision: current.revision }, lost: '推送刚被他人修改，请刷新后重试' },
    );
    return updated;
  }

  async submit(by: Principal, id: string, ip?: string): Promise<Campaign> {
    const current = await this.load(by.scope, id);
    return this.change(by, 'submit', current, { status: 'in_review', reviewNote: null, submittedBy: by.id }, { ip });
  }

  /**
   * Four eyes: nobody who wrote the campaign, edited its content since it was last
   * approved, or submitted it may approve or reject it (admins included). Checked here and
   * repeated in the update's filter; the state claim orders it against a concurrent edit.
   */
  private checkReviewer(by: Principal, current: CampaignDoc): void {
    if (current.authorId === by.id) throw new Forbidden('不能审核自己创建的推送，请由其他审核人员审核');
    if ((current.editorIds ?? []).includes(by.id) || current.submittedBy === by.id) {
      throw new Forbidden('不能审核自己修改或提交的推送，请由其他审核人员审核');
    }
    if (current.status !== 'in_review') throw new Conflict(`推送当前为“${statusLabel(current.status)}”，不能审核`);
  }

  private static notReviewedBy(by: Principal, current: CampaignDoc) {
    return {
      revision: current.revision,
      authorId: { $ne: by.id },
      editorIds: { $ne: by.id },
      submittedBy: { $ne: by.id },
    };
  }

  async approve(by: Principal, id: string, ip?: string): Promise<Campaign> {
    const current = await this.load(by.scope, id);
    this.checkReviewer(by, current);
    const notice = await this.ports.findNotice(by.scope, current.noticeId);
    if (notice.problem) throw new Conflict(`推送所用的通告不能发送：${notice.problem}`);
    const now = this.clock.now();
    const schedule = toSchedule(current.schedule);
    const lastRunAt = await this.lastRun(current);
    // The tick's rule (runMissed): a normal run at 23:00 is due at 07:00, so not missed at 00:30.
    const quiet = this.options.quietHours ?? DEFAULT_QUIET_HOURS;
    if (schedule.kind === 'once' && !lastRunAt && runMissed(schedule.at, current.priority, now, quiet, this.timeZone)) {
      throw new Conflict('定时发送的时间已过去一小时以上，请修改计划后重新提交');
    }
    // A one-off campaign whose run exists runs no second time (its run waits for this approval).
    const nextRunAt =
      schedule.kind !== 'cron' && lastRunAt
        ? null
        : firstRunAt(schedule, lastRunAt && lastRunAt > now ? lastRunAt : now, this.timeZone);
    if (!nextRunAt && !lastRunAt) throw new Conflict('推送的发送时间都已过去，请修改计划');
    const paused = Boolean(current.paused);
    return this.change(
      by,
      'approve',
      current,
      {
        status: paused ? 'paused' : nextRunAt ? 'approved' : 'completed',
        reviewerId: by.id,
        approvedAt: now,
        nextRunAt,
        ...(lastRunAt ? { lastRunAt } : {}),
      },
      { ip, filter: CampaignService.notReviewedBy(by, current), lost: '推送刚被其他审核人员处理或被修改，请刷新' },
    );
  }

  async reject(by: Principal, id: string, note: string, ip?: string): Promise<Campaign> {
    const current = await this.load(by.scope, id);
    this.checkReviewer(by, current);
    return this.change(
      by,
      'reject',
      current,
      { status: 'draft', reviewNote: note, reviewerId: by.id, submittedBy: null },
      { ip, filter: CampaignService.notReviewedBy(by, current), lost: '推送刚被其他审核人员处理或被修改，请刷新' },
    );
  }

  /** Pausing holds deliveries not yet sent, also of a campaign whose last run is planned. */
  async pause(by: Principal, id: string, ip?: string): Promise<Campaign> {
    const current = await this.load(by.scope, id);
    return this.change(by, 'pause', current, { status: 'paused', paused: true }, { ip });
  }

  async resume(by: Principal, id: string, ip?: string): Promise<Campaign> {
    const current = await this.load(by.scope, id);
    if (current.status !== 'paused') {
      throw new Conflict(`推送当前为“${statusLabel(current.status)}”，只有已暂停的推送可以恢复`);
    }
    const now = this.clock.now();
    const schedule = toSchedule(current.schedule);
    // Cron runs missed while paused are not made up; a one-off that fell due runs now.
    const nextRunAt =
      current.nextRunAt && schedule.kind === 'cron' && current.nextRunAt < now
        ? firstRunAt(schedule, now, this.timeZone)
        : (current.nextRunAt ?? null);
    const status = nextRunAt ? 'approved' : 'completed';
    const resumed = await this.change(by, 'resume', current, { status, nextRunAt, paused: false }, { ip });
    // Its officers' open tasks are chased again from now (the notifier's watch list).
    await lookAtCampaignTasks(id, now);
    return resumed;
  }

  async cancel(by: Principal, id: string, ip?: string): Promise<Campaign> {
    const current = await this.load(by.scope, id);
    return this.change(by, 'cancel', current, { status: 'cancelled', nextRunAt: null }, { ip });
  }

  /**
   * Checks that a notice may be chosen as a correction follow-up: it can still be sent one
   * day (not archived, not withdrawn) and is not the notice being withdrawn.
   */
  private async checkFollowUpNotice(scope: Scope, followUpNoticeId: string, withdrawn: string): Promise<void> {
    if (followUpNoticeId === withdrawn) {
      throw new InvalidInput('更正通知不能是被撤回的通告本身，请选择或新写一条更正通告', 'followUpNoticeId');
    }
    const notice = await this.ports.findNotice(scope, followUpNoticeId);
    if (notice.withdrawn) {
      throw new InvalidInput(`所选更正通告“${notice.title}”已归档或已撤回，不能再发送，请另选`, 'followUpNoticeId');
    }
  }

  /**
   * Retraction (SPEC §3.8), in one step: stops what has not gone out yet, withdraws the notice
   * (no campaign can send it again) and, when a correction notice is chosen, creates an
   * urgent follow-up to every group that received the notice through any campaign
   * (`recipientsOfNotice`). The correction may also be attached afterwards
   * (attachFollowUp): 停止并撤回 at once, the correction drafted for review after.
   * The state change and what must follow it are one write (an intent): a process that dies
   * part-way leaves the rest to the next runner or the scheduler's sweep.
   */
  async retract(
    by: Principal,
    id: string,
    followUpNoticeId: string | null,
    ip?: string,
  ): Promise<{ retracted: Campaign; followUp: Campaign | null }> {
    const original = await this.load(by.scope, id);
    if (original.retractionOf || original.followUpOfNotice) throw new Conflict('撤回通知本身不能再撤回');
    if (original.retractedAt) {
      // Asked again while its steps are unfinished: finish them now.
      if ((await unfinishedIntents(intentsOf(original))).length > 0) {
        await this.finish(by, id);
        return { retracted: await this.get(by.scope, id), followUp: await this.followUpOf(original) };
      }
      throw new Conflict('此推送已撤回');
    }
    if (followUpNoticeId) await this.checkFollowUpNotice(by.scope, followUpNoticeId, original.noticeId);
    if (await this.ports.noticeWithdrawn(original.noticeId)) throw new Conflict('此通告已撤回，请刷新');
    const retracted = await this.change(
      by,
      'retract',
      original,
      { retractedAt: this.clock.now(), nextRunAt: null, status: 'cancelled' },
      { ip, args: { followUpNoticeId }, details: followUpNoticeId ? { followUpNoticeId } : undefined },
    );
    return { retracted, followUp: await this.followUpOf(original) };
  }

  private async followUpOf(original: Pick<CampaignDoc, 'noticeId'>): Promise<Campaign | null> {
    const doc = await CampaignModel.findById(followUpIdFor(original.noticeId, 'retracted')).lean<CampaignDoc>();
    return doc ? toCampaign(doc) : null;
  }

  /**
   * The correction follow-up of a retracted campaign, chosen after the retraction, or chosen
   * again when the one chosen can no longer be sent (archived, withdrawn): the follow-up
   * goes back to review with the new notice. Refused once the follow-up has run.
   */
  async attachFollowUp(by: Principal, id: string, followUpNoticeId: string, ip?: string): Promise<Campaign> {
    const original = await this.load(by.scope, id);
    if (!original.retractedAt) throw new Conflict('推送未撤回，无需更正通知');
    await this.checkFollowUpNotice(by.scope, followUpNoticeId, original.noticeId);
    const existing = await CampaignModel.findById(followUpIdFor(original.noticeId, 'retracted')).lean<CampaignDoc>();
    if (!existing) {
      const created = await this.createFollowUp(by, this.retractionFollowUp(original, followUpNoticeId));
      if (!created) throw new Conflict('此通告从未发出，没有需要更正的群');
      await this.audit.record({
        actor: by,
        action: 'campaign.follow_up',
        target: { kind: 'campaign', id },
        ip,
        details: { followUp: created.id, followUpNoticeId },
      });
      return created;
    }
    if (await this.followUpRan(existing)) throw new Conflict('更正通知已开始发送，不能更换');
    const main =
      existing.noticeId === followUpNoticeId && existing.status === 'in_review'
        ? toCampaign(existing)
        : await this.claimOrThrow(by, existing, this.newCorrection(by, existing, followUpNoticeId), 'campaign.follow_up', ip);
    await this.changeCorrectionElsewhere(by, original.noticeId, String(existing._id), followUpNoticeId, ip);
    return main;
  }

  private async followUpRan(followUp: CampaignDoc): Promise<boolean> {
    return Boolean(followUp.lastRunAt || (await this.deliveries.lastRunAt(String(followUp._id))));
  }

  /** A follow-up with another correction notice, back in review. */
  private newCorrection(by: Principal, followUp: CampaignDoc, followUpNoticeId: string): Record<string, unknown> {
    return {
      noticeId: followUpNoticeId,
      status: 'in_review',
      nextRunAt: null,
      reviewerId: null,
      approvedAt: null,
      revision: followUp.revision + 1,
      editorIds: [by.id],
      submittedBy: by.id,
    };
  }

  /**
   * The retraction's follow-ups filed at other regions (followUpsElsewhere) take the new
   * correction notice too, each back in review at its own region (its reviewers decide what
   * is posted into its groups); one that has started sending keeps what it sent.
   */
  private async changeCorrectionElsewhere(
    by: Principal,
    noticeId: string,
    mainId: string,
    followUpNoticeId: string,
    ip?: string,
  ): Promise<void> {
    const others = await CampaignModel.find({
      followUpOfNotice: noticeId,
      followUpOutcome: 'retracted',
      _id: { $ne: mainId },
    }).lean<CampaignDoc[]>();
    for (let other of others) {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (other.status === 'cancelled' || (await this.followUpRan(other))) break;
        if (other.noticeId === followUpNoticeId && other.status === 'in_review') break;
        if (await this.claim(other, this.newCorrection(by, other, followUpNoticeId))) {
          await this.audit.record({
            actor: by,
            action: 'campaign.follow_up',
            target: { kind: 'campaign', id: String(other._id) },
            ip,
            regionPath: other.regionPath,
            details: { followUpNoticeId },
          });
          break;
        }
        // Changed meanwhile (its reviewer acted): look again.
        const again = await CampaignModel.findById(other._id).lean<CampaignDoc>();
        if (!again) break;
        other = again;
      }
    }
  }

  /** Runs a campaign's unfinished intents now (the console's 继续完成 after a crash). */
  async finish(by: Principal, id: string): Promise<Campaign> {
    const current = await this.load(by.scope, id);
    for (const intent of await unfinishedIntents(intentsOf(current))) {
      const state = await runIntent(intent, this.owner, this.clock.now(), this.options.intentLeaseMs, () =>
        this.runEffects(current, intent),
      );
      if (state === 'busy') throw new Conflict('此推送的上一步操作仍在进行，请稍后刷新');
    }
    return this.get(by.scope, id);
  }

  /**
   * The scheduler's sweep: finishes every intent whose runner died (its lease lapsed) or never
   * started. Returns how many it ran. Reads the campaigns with intents recorded (a few).
   */
  async sweepIntents(): Promise<number> {
    return (await this.sweepIntentsLeft()).ran;
  }

  /** The sweep, with how many unfinished intents it left (too recent, or their runner lives). */
  async sweepIntentsLeft(): Promise<{ ran: number; left: number }> {
    const now = this.clock.now();
    // The index's campaigns with an intent this process has not seen done (list-index.ts), each
    // read by `_id`: not a scan, and a campaign whose intents are all done is not read again.
    const withIntents = [...(await indexedCampaigns()).values()]
      .filter((c) => c.intentIds.some((id) => !intentsSeenDone.has(id)))
      .map((c) => c.id);
    const found = await mapLimit(withIntents.sort(), 8, (id) =>
      CampaignModel.findOne({ _id: id, 'intents.0': { $exists: true } }).lean<CampaignDoc>(),
    );
    const docs = found.filter((doc): doc is NonNullable<typeof doc> => doc !== null);
    let ran = 0;
    let left = 0;
    const unfinished = await unfinishedIntents(docs.flatMap((doc) => intentsOf(doc)));
    const open = new Set(unfinished.map((intent) => intent.id));
    // A done intent never becomes unfinished again (its done marker is a unique claim).
    for (const intent of docs.flatMap((doc) => intentsOf(doc))) if (!open.has(intent.id)) intentsSeenDone.add(intent.id);
    for (const intent of unfinished) {
      if (now.getTime() - new Date(intent.at).getTime() < INTENT_SWEEP_AFTER_MS) {
        left += 1;
        continue;
      }
      const doc = docs.find((d) => intentsOf(d).some((i) => i.id === intent.id))!;
      const state = await runIntent(intent, this.owner, now, this.options.intentLeaseMs, () =>
        this.runEffects(doc, intent),
      );
      if (state === 'ran') ran += 1;
      if (state === 'busy') left += 1;
    }
    return { ran, left };
  }

  /** The follow-up of a retraction with this correction notice. */
  private retractionFollowUp(original: CampaignDoc, followUpNoticeId: string): FollowUpRequest {
    return {
      noticeId: original.noticeId,
      followUpNoticeId,
      outcome: 'retracted',
      from: {
        id: String(original._id),
        title: original.title,
        cardStyle: original.cardStyle,
        regionCode: original.regionCode,
        regionPath: original.regionPath,
      },
    };
  }

  /** The effects of an intent (the lifecycle table), in order, each safe to repeat. */
  private async runEffects(doc: CampaignDoc, intent: Intent): Promise<void> {
    const id = String(doc._id);
    const effects: readonly CampaignEffect[] = CAMPAIGN_LIFECYCLE[intent.kind as CampaignAction]?.effects ?? [];
    const by = { id: intent.by, username: intent.byName };
    for (const effect of effects) {
      this.trace(intent, effect);
      if (effect === 'release') await this.deliveries.requeue(id);
      else if (effect === 'stop')
        await this.deliveries.stop(id, intent.kind === 'retract' ? '通告已撤回' : '推送已取消');
      else if (effect === 'withdraw-tasks')
        await this.ports.withdrawTasks(id, doc.retractedAt ? 'retracted' : 'cancelled');
      else if (effect === 'withdraw-notice') await this.withdrawNotice(doc.noticeId, 'retracted');
      else if (effect === 'follow-up') {
        const followUpNoticeId = intent.args.followUpNoticeId as string | null | undefined;
        if (followUpNoticeId) await this.createFollowUp(by, this.retractionFollowUp(doc, followUpNoticeId));
      }
    }
    this.trace(intent, 'done');
  }

  /** Marks each step when `INTENT_TRACE` is set: the reliability scenario kills the process at one. */
  private trace(intent: Intent, step: string): void {
    if (this.options.trace) process.stderr.write(`intent-step ${intent.kind} ${intent.id} ${step}\n`);
  }

  /**
   * Withdraws a notice (a retraction, a case outcome): the one path. The notice is marked
   * (never sent again; a case outcome marked it already, with its intent), and every
   * campaign's batches of it are listed now, parked and later-due ones included, so their
   * pending deliveries are skipped at once and a follow-up waiting for them is not deferred,
   * and their officers' open tasks are withdrawn. Safe to repeat.
   */
  async withdrawNotice(noticeId: string, reason: 'retracted' | 'case_closed'): Promise<void> {
    await this.ports.markNoticeRetracted(noticeId);
    for (const campaignId of await this.deliveries.noticeWithdrawn(noticeId)) {
      await this.ports.withdrawTasks(campaignId, reason);
    }
  }

  /**
   * A follow-up to everyone who received a notice (any campaign), to be approved like any
   * other campaign. Its audience is resolved when it is planned, after every delivery of
   * the notice has settled. Null when the notice was never planned for delivery. Its id is
   * derived from the notice and outcome, so however many runners make it, it exists once.
   */
  async createFollowUp(by: { id: string; username: string }, request: FollowUpRequest): Promise<Campaign | null> {
    const _id = followUpIdFor(request.noticeId, request.outcome);
    const existing = await CampaignModel.findById(_id).lean<CampaignDoc>();
    if (!existing && !(await this.deliveries.noticePlanned(request.noticeId))) return null;
    const main = existing ? toCampaign(existing) : await this.insertFollowUp(_id, by, request, request.from, []);
    await this.followUpsElsewhere(by, request);
    return main;
  }

  /**
   * A follow-up stays inside its campaign's region (the planner reaches only the recipients
   * there: issue 26, finding 10). The notice's recipients in other counties (it also went out
   * through a wider campaign) get a follow-up filed at the narrowest region whose scope covers
   * both them and the author's region (county A and county B of one city: the city), in review
   * there, so reviewers who may see those groups decide what is posted into them; the author's
   * region is left out of it. Each is made once (its id derives from notice, outcome, region).
   */
  private async followUpsElsewhere(by: { id: string; username: string }, request: FollowUpRequest): Promise<void> {
    const counties = await this.deliveries.recipientCountiesOutside(request.noticeId, request.from.regionCode);
    const owners = new Map<string, string[]>();
    for (const county of counties) {
      let common = 0;
      while (common < county.regionPath.length && county.regionPath[common] === request.from.regionPath[common])
        common++;
      const path = county.regionPath.slice(0, Math.max(1, common));
      owners.set(path.at(-1)!, path);
    }
    for (const [code, regionPath] of owners) {
      const _id = createHash('sha256')
        .update(`follow-up:${request.noticeId}:${request.outcome}:${code}`)
        .digest('hex')
        .slice(0, 24);
      if (await CampaignModel.exists({ _id })) continue;
      const made = await this.insertFollowUp(_id, by, request, { regionCode: code, regionPath }, [
        request.from.regionCode,
      ]);
      if (!made) continue;
      await this.audit.record({
        actor: null,
        action: 'campaign.follow_up',
        target: { kind: 'campaign', id: made.id },
        ip: null,
        regionPath,
        details: { followUpOfNotice: request.noticeId, from: request.from.id, outcome: request.outcome },
      });
    }
  }

  private async insertFollowUp(
    _id: string,
    by: { id: string; username: string },
    request: FollowUpRequest,
    region: { regionCode: string; regionPath: string[] },
    excludeRegions: string[],
  ): Promise<Campaign | null> {
    try {
      const doc = await CampaignModel.create({
        _id,
        title: `【${request.label ?? FOLLOW_UP_LABELS[request.outcome]}】${request.from.title}`,
        noticeId: request.followUpNoticeId,
        audience: { ...EMPTY_AUDIENCE, recipientsOfNotice: request.noticeId, excludeRegions },
        schedule: { kind: 'now' },
        cardStyle: request.from.cardStyle,
        priority: 'urgent',
        status: 'in_review',
        authorId: by.id,
        authorName: by.username,
        submittedBy: by.id,
        regionCode: region.regionCode,
        regionPath: region.regionPath,
        retractionOf: request.outcome === 'retracted' ? request.from.id : null,
        followUpOfNotice: request.noticeId,
        followUpOutcome: request.outcome,
      });
      return toCampaign(doc.toObject() as CampaignDoc);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const made = await CampaignModel.findById(_id).lean<CampaignDoc>();
      return made ? toCampaign(made) : null;
    }
  }

  private checkFrom(action: CampaignAction, current: CampaignDoc): void {
    if (!CAMPAIGN_LIFECYCLE[action].from.includes(current.status)) {
      throw new Conflict(`推送当前为“${statusLabel(current.status)}”，不能${CAMPAIGN_LIFECYCLE[action].label}`);
    }
  }

  /**
   * The one place a campaign's state changes by staff: checks the lifecycle table's `from`,
   * claims the change (changeStateOnce), writes it together with the intent of its effects
   * (one write), audits it, then runs the effects. If this process dies after the write, the
   * intent is finished by the scheduler's sweep (or the console's 继续完成).
   */
  private async change(
    by: Principal,
    action: CampaignAction,
    current: CampaignDoc,
    set: Record<string, unknown>,
    options: {
      ip?: string;
      filter?: Record<string, unknown>;
      args?: Record<string, unknown>;
      details?: Record<string, unknown>;
      lost?: string;
    } = {},
  ): Promise<Campaign> {
    this.checkFrom(action, current);
    const now = this.clock.now();
    const effects = CAMPAIGN_LIFECYCLE[action].effects;
    const intent = effects.length > 0 ? newIntent(action, by, now, options.args ?? {}) : null;
    const updated = await changeStateOnce(
      CampaignModel,
      'campaign-state',
      'stateSeq',
      current,
      now,
      set,
      options.filter,
      intent,
    );
    if (!updated) throw new Conflict(options.lost ?? '推送状态刚刚改变，请刷新后重试');
    const id = String(current._id);
    await this.audit.record({
      actor: by,
      action: action === 'edit' ? 'campaign.update' : `campaign.${action}`,
      target: { kind: 'campaign', id },
      ip: options.ip,
      details: options.details,
    });
    if (intent) {
      // 'busy': the sweep took it up first; it finishes it.
      await runIntent(intent, this.owner, now, this.options.intentLeaseMs, () => this.runEffects(updated, intent));
    }
    return (await this.withUnfinished([updated]))[0]!;
  }

  private async claimOrThrow(
    by: Principal,
    current: CampaignDoc,
    set: Record<string, unknown>,
    action: string,
    ip?: string,
  ): Promise<Campaign> {
    const updated = await this.claim(current, set);
    if (!updated) throw new Conflict('推送状态刚刚改变，请刷新后重试');
    await this.audit.record({ actor: by, action, target: { kind: 'campaign', id: String(current._id) }, ip });
    return toCampaign(updated);
  }

  /** A state change without effects (the tick's advance, a follow-up's new notice). */
  private claim(current: CampaignDoc, set: Record<string, unknown>): Promise<CampaignDoc | null> {
    return changeStateOnce(CampaignModel, 'campaign-state', 'stateSeq', current, this.clock.now(), set);
  }
}

/** Intents this process has seen done (the scheduler's sweep skips campaigns with only these). */
const intentsSeenDone = new Set<string>();

function intentsOf(doc: CampaignDoc): Intent[] {
  return (doc.intents ?? []) as unknown as Intent[];
}

function reviewRank(doc: CampaignDoc): number {
  return doc.followUpOfNotice ? 0 : doc.priority === 'urgent' ? 1 : 2;
}

export function statusLabel(status: CampaignStatus): string {
  return {
    draft: '草稿',
    in_review: '待审核',
    approved: '已通过',
    paused: '已暂停',
    completed: '已完成',
    cancelled: '已取消',
  }[status];
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The list's filters as the index can test them (lib/keyset.ts's status, `q` on the title, from/to on createdAt). */
function indexFilter(query: ListWindow & { status?: CampaignStatus }): (campaign: IndexedCampaign) => boolean {
  const text = query.q?.trim();
  const title = text ? new RegExp(escapeRegex(text), 'i') : null;
  const from = query.from ? new Date(query.from).getTime() : Number.NEGATIVE_INFINITY;
  const to = query.to ? new Date(query.to).getTime() : Number.POSITIVE_INFINITY;
  return (c) =>
    (!query.status || c.status === query.status) &&
    (!title || title.test(c.title)) &&
    c.createdAt >= from &&
    c.createdAt < to;
}

// Campaigns: compose, four-eyes approval, pause / resume / cancel, edits that re-plan only
// future runs, and retraction follow-ups. Scheduling maths lives in schedule.ts.
import mongoose from 'mongoose';
import type { AuditService } from '../audit/service.js';
import type { Principal } from '../auth/principal.js';
import { ClaimModel, claimOnce, runResumable } from '../db/claims.js';
import type { Clock } from '../lib/clock.js';
import { type ListWindow, keysetPage } from '../lib/keyset.js';
import { Conflict, Forbidden, InvalidInput, NotFound } from '../lib/errors.js';
import type { Scope } from '../regions/scope.js';
import { type CampaignDoc, CampaignModel } from './model.js';
import type { AudienceSpec, AudienceSummary, CampaignPorts, DeliveryControl } from './ports.js';
import { type Priority, type Schedule, firstRunAt, validateSchedule } from './schedule.js';

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

const EDITABLE: CampaignStatus[] = ['draft', 'in_review', 'approved', 'paused'];

/** A run missed by more than this (service down, or approved too late) is skipped, not sent late. */
export const MISSED_RUN_MS = 60 * 60_000;
const STALE_STATE_CLAIM_MS = 60_000;
/** How long a retraction's runner may take before another may finish it (it takes seconds). */
const RETRACTION_LEASE_MS = 2 * 60_000;

export class CampaignService {
  private deliveries: DeliveryControl | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly timeZone: string,
    private readonly ports: CampaignPorts,
    private readonly audit: AuditService,
  ) {}

  /** The engine registers itself here (it comes after this room in the data path). */
  attachDeliveryControl(control: DeliveryControl): void {
    this.deliveries = control;
  }

  private control(): DeliveryControl {
    if (!this.deliveries) throw new Error('delivery control not attached');
    return this.deliveries;
  }

  private async load(scope: Scope, id: string): Promise<CampaignDoc> {
    if (!mongoose.isValidObjectId(id)) throw new NotFound(`活动 ${id}`);
    const doc = await CampaignModel.findOne({ _id: id, ...scope.filter() }).lean<CampaignDoc>();
    if (!doc) throw new NotFound(`活动 ${id}`);
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

  /** Approved campaigns whose next run is due (the scheduler tick). */
  async dueForRun(now: Date): Promise<Campaign[]> {
    const docs = await CampaignModel.find({ status: 'approved', nextRunAt: { $ne: null, $lte: now } }).lean<
      CampaignDoc[]
    >();
    return docs.map(toCampaign);
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
    await this.changeState(
      current,
      next ? { nextRunAt: next, ...ran } : { nextRunAt: null, status: 'completed', ...ran },
    );
  }

  async get(scope: Scope, id: string): Promise<Campaign> {
    return toCampaign(await this.load(scope, id));
  }

  /** One page of the campaign list (keyset on _id; title search, creation-date range). */
  async page(scope: Scope, query: ListWindow & { status?: CampaignStatus; limit: number }): Promise<Campaign[]> {
    const page = keysetPage(query, { dateField: 'createdAt', textField: 'title' });
    const filter = { ...scope.filter(), ...(query.status ? { status: query.status } : {}), ...page.match };
    const docs = await CampaignModel.find(filter).sort(page.sort).limit(query.limit).lean<CampaignDoc[]>();
    return docs.map(toCampaign);
  }

  async list(scope: Scope, status?: CampaignStatus, limit = 100): Promise<Campaign[]> {
    const filter = { ...scope.filter(), ...(status ? { status } : {}) };
    const docs = await CampaignModel.find(filter).sort({ createdAt: -1 }).limit(limit).lean<CampaignDoc[]>();
    // The review queue shows follow-ups (retracted, solved, expired) first, then urgent ones.
    if (status === 'in_review') docs.sort((a, b) => reviewRank(a) - reviewRank(b));
    return docs.map(toCampaign);
  }

  /**
   * Edits go back to review; runs already created keep what was approved for them and wait
   * (held) until the campaign is approved again. A one-off campaign whose run exists cannot
   * be edited (its run would never carry the edit; a new approval must not send it twice).
   */
  async update(by: Principal, id: string, input: CampaignInput, ip?: string): Promise<Campaign> {
    const current = await this.load(by.scope, id);
    if (!EDITABLE.includes(current.status)) throw new Conflict(`活动已${statusLabel(current.status)}，不能修改`);
    if (current.schedule.kind !== 'cron' && current.lastRunAt) {
      throw new Conflict('活动已开始发送，不能修改；如需更正请撤回或取消后新建活动');
    }
    const { priority } = await this.checkContent(by.scope, input);
    const status = current.status === 'draft' ? 'draft' : 'in_review';
    // Edits since the last approval accumulate their editors; editing approved content starts anew.
    const editors = current.status === 'draft' || current.status === 'in_review' ? (current.editorIds ?? []) : [];
    const updated = await this.changeState(
      current,
      {
        title: input.title.trim(),
        noticeId: input.noticeId,
        audience: input.audience,
        schedule: scheduleDoc(input.schedule),
        cardStyle: input.cardStyle ?? current.cardStyle,
        priority,
        status,
        nextRunAt: null,
        reviewerId: null,
        approvedAt: null,
        revision: current.revision + 1,
        editorIds: [...new Set([...editors, by.id])],
        submittedBy: status === 'in_review' ? by.id : null,
      },
      { revision: current.revision },
    );
    if (!updated) throw new Conflict('活动刚被他人修改，请刷新后重试');
    await this.audit.record({ actor: by, action: 'campaign.update', target: { kind: 'campaign', id }, ip });
    return toCampaign(updated);
  }

  async submit(by: Principal, id: string, ip?: string): Promise<Campaign> {
    return this.transition(
      by,
      id,
      ['draft'],
      { status: 'in_review', reviewNote: null, submittedBy: by.id },
      'campaign.submit',
      ip,
    );
  }

  /**
   * Four eyes: nobody who wrote the campaign, edited its content since it was last
   * approved, or submitted it may approve or reject it (admins included). Checked here and
   * repeated in the update's filter; the state claim orders it against a concurrent edit.
   */
  private checkReviewer(by: Principal, current: CampaignDoc): void {
    if (current.authorId === by.id) throw new Forbidden('不能审核自己创建的活动，请由其他审核人员审核');
    if ((current.editorIds ?? []).includes(by.id) || current.submittedBy === by.id) {
      throw new Forbidden('不能审核自己修改或提交的活动，请由其他审核人员审核');
    }
    if (current.status !== 'in_review') throw new Conflict(`活动当前为“${statusLabel(current.status)}”，不能审核`);
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
    if (notice.problem) throw new Conflict(`活动所用的通告不能发送：${notice.problem}`);
    const now = this.clock.now();
    const schedule = toSchedule(current.schedule);
    if (schedule.kind === 'once' && now.getTime() - schedule.at.getTime() > MISSED_RUN_MS) {
      throw new Conflict('定时发送的时间已过去一小时以上，请修改计划后重新提交');
    }
    // A one-off campaign whose run exists runs no second time (its run waits for this approval).
    const nextRunAt =
      schedule.kind !== 'cron' && current.lastRunAt
        ? null
        : firstRunAt(schedule, current.lastRunAt && current.lastRunAt > now ? current.lastRunAt : now, this.timeZone);
    if (!nextRunAt && !current.lastRunAt) throw new Conflict('活动的发送时间都已过去，请修改计划');
    const updated = await this.changeState(
      current,
      { status: nextRunAt ? 'approved' : 'completed', reviewerId: by.id, approvedAt: now, nextRunAt },
      CampaignService.notReviewedBy(by, current),
    );
    if (!updated) throw new Conflict('活动刚被其他审核人员处理或被修改，请刷新');
    // Runs created before an edit waited (parked) for this approval.
    await this.control().hold(id, false);
    await this.audit.record({ actor: by, action: 'campaign.approve', target: { kind: 'campaign', id }, ip });
    return toCampaign(updated);
  }

  async reject(by: Principal, id: string, note: string, ip?: string): Promise<Campaign> {
    const current = await this.load(by.scope, id);
    this.checkReviewer(by, current);
    const updated = await this.changeState(
      current,
      { status: 'draft', reviewNote: note, reviewerId: by.id, submittedBy: null },
      CampaignService.notReviewedBy(by, current),
    );
    if (!updated) throw new Conflict('活动刚被其他审核人员处理或被修改，请刷新');
    await this.audit.record({ actor: by, action: 'campaign.reject', target: { kind: 'campaign', id }, ip });
    return toCampaign(updated);
  }

  /** Pausing holds deliveries not yet sent, also of a campaign whose last run is planned. */
  async pause(by: Principal, id: string, ip?: string): Promise<Campaign> {
    const campaign = await this.transition(
      by,
      id,
      ['approved', 'completed'],
      { status: 'paused' },
      'campaign.pause',
      ip,
    );
    await this.control().hold(id, true);
    return campaign;
  }

  async resume(by: Principal, id: string, ip?: string): Promise<Campaign> {
    const current = await this.load(by.scope, id);
    if (current.status !== 'paused') {
      throw new Conflict(`活动当前为“${statusLabel(current.status)}”，只有已暂停的活动可以恢复`);
    }
    const now = this.clock.now();
    const schedule = toSchedule(current.schedule);
    // Cron runs missed while paused are not made up; a one-off that fell due runs now.
    const nextRunAt =
      current.nextRunAt && schedule.kind === 'cron' && current.nextRunAt < now
        ? firstRunAt(schedule, now, this.timeZone)
        : (current.nextRunAt ?? null);
    const status = nextRunAt ? 'approved' : 'completed';
    const campaign = await this.transition(by, id, ['paused'], { status, nextRunAt }, 'campaign.resume', ip);
    await this.control().hold(id, false);
    return campaign;
  }

  async cancel(by: Principal, id: string, ip?: string): Promise<Campaign> {
    const campaign = await this.transition(
      by,
      id,
      // A completed campaign may still have deliveries waiting (quiet hours, retries).
      ['draft', 'in_review', 'approved', 'paused', 'completed'],
      { status: 'cancelled', nextRunAt: null },
      'campaign.cancel',
      ip,
    );
    await this.control().skipPending(id, '活动已取消');
    return campaign;
  }

  /**
   * Retraction (SPEC §3.8): stops what has not gone out yet, marks the notice retracted
   * (no campaign can send it again) and creates an urgent follow-up to every group that
   * received the notice through any campaign (`recipientsOfNotice`).
   */
  async retract(
    by: Principal,
    id: string,
    followUpNoticeId: string,
    ip?: string,
  ): Promise<{ retracted: Campaign; followUp: Campaign | null }> {
    const original = await this.load(by.scope, id);
    if (original.retractionOf || original.followUpOfNotice) throw new Conflict('撤回通知本身不能再撤回');
    await this.ports.findNotice(by.scope, followUpNoticeId);
    // One retraction per notice, whichever campaign it comes through; one whose process
    // died part-way is finished by the next retract once its lease lapses (each step below
    // is safe to repeat).
    const run = await runResumable(
      `notice-retraction:${original.noticeId}`,
      by.id,
      this.clock.now(),
      RETRACTION_LEASE_MS,
      () => this.retractSteps(by, original, followUpNoticeId, ip),
    );
    if (run.state === 'done') throw new Conflict(original.retractedAt ? '此活动已撤回' : '此通告已撤回，请刷新');
    if (run.state === 'busy') throw new Conflict('此通告正在撤回，请稍后刷新');
    return run.value;
  }

  /** The steps of a retraction, each safe to repeat (see retract). */
  private async retractSteps(
    by: Principal,
    original: CampaignDoc,
    followUpNoticeId: string,
    ip?: string,
  ): Promise<{ retracted: Campaign; followUp: Campaign | null }> {
    const id = String(original._id);
    const marked = original.retractedAt
      ? original
      : await this.changeState(original, { retractedAt: this.clock.now(), nextRunAt: null, status: 'cancelled' });
    if (!marked) throw new Conflict('活动状态刚刚改变，请刷新后重试');
    await this.ports.markNoticeRetracted(original.noticeId);
    await this.control().skipPending(id, '通告已撤回');
    await this.control().noticeWithdrawn(original.noticeId);
    const retracted = toCampaign(marked);
    const followUp = await this.createFollowUp(by, {
      noticeId: original.noticeId,
      followUpNoticeId,
      outcome: 'retracted',
      from: {
        id,
        title: original.title,
        cardStyle: original.cardStyle,
        regionCode: original.regionCode,
        regionPath: original.regionPath,
      },
    });
    await this.audit.record({
      actor: by,
      action: 'campaign.retract',
      target: { kind: 'campaign', id },
      ip,
      details: followUp ? { followUp: followUp.id } : undefined,
    });
    return { retracted, followUp };
  }

  /**
   * A follow-up to everyone who received a notice (any campaign), to be approved like any
   * other campaign. Its audience is resolved when it is planned, after every delivery of
   * the notice has settled. Null when the notice was never planned for delivery.
   */
  async createFollowUp(by: Principal, request: FollowUpRequest): Promise<Campaign | null> {
    if (!(await this.control().noticePlanned(request.noticeId))) return null;
    // Made again by a retraction or case outcome that resumes after its runner died.
    const existing = await CampaignModel.findOne({
      followUpOfNotice: request.noticeId,
      followUpOutcome: request.outcome,
    }).lean<CampaignDoc>();
    if (existing) return toCampaign(existing);
    const doc = await CampaignModel.create({
      title: `【${request.label ?? FOLLOW_UP_LABELS[request.outcome]}】${request.from.title}`,
      noticeId: request.followUpNoticeId,
      audience: { ...EMPTY_AUDIENCE, recipientsOfNotice: request.noticeId },
      schedule: { kind: 'now' },
      cardStyle: request.from.cardStyle,
      priority: 'urgent',
      status: 'in_review',
      authorId: by.id,
      authorName: by.username,
      regionCode: request.from.regionCode,
      regionPath: request.from.regionPath,
      retractionOf: request.outcome === 'retracted' ? request.from.id : null,
      followUpOfNotice: request.noticeId,
      followUpOutcome: request.outcome,
    });
    return toCampaign(doc.toObject() as CampaignDoc);
  }

  private async transition(
    by: Principal,
    id: string,
    from: CampaignStatus[],
    set: Record<string, unknown>,
    action: string,
    ip?: string,
  ): Promise<Campaign> {
    const current = await this.load(by.scope, id);
    if (!from.includes(current.status)) {
      throw new Conflict(`活动当前为“${statusLabel(current.status)}”，不能执行此操作`);
    }
    const updated = await this.changeState(current, set);
    if (!updated) throw new Conflict('活动状态刚刚改变，请刷新后重试');
    await this.audit.record({ actor: by, action, target: { kind: 'campaign', id }, ip });
    return toCampaign(updated);
  }

  /**
   * Every change of a campaign's state claims its sequence number once (a unique insert):
   * of two changes made from the same state (a resume racing a cancel, two reviewers, an
   * edit racing an approval) exactly one wins, on FerretDB too, where a conditional update
   * is not atomic. A claim whose writer died before writing (older than a minute, the
   * document still at the previous number) is passed over. Null when another change won.
   */
  private async changeState(
    current: CampaignDoc,
    set: Record<string, unknown>,
    filter: Record<string, unknown> = {},
  ): Promise<CampaignDoc | null> {
    const now = this.clock.now();
    const first = (current.stateSeq ?? 0) + 1;
    for (let seq = first; seq < first + 5; seq++) {
      const key = `campaign-state:${current._id}#${seq}`;
      if (await claimOnce(key, 'campaigns', now)) {
        return CampaignModel.findOneAndUpdate(
          { _id: current._id, ...filter },
          { $set: { ...set, stateSeq: seq } },
          { new: true },
        ).lean<CampaignDoc>();
      }
      const claim = await ClaimModel.findById(key).lean();
      if (!claim || now.getTime() - claim.at.getTime() < STALE_STATE_CLAIM_MS) return null;
      const doc = await CampaignModel.findById(current._id, { stateSeq: 1 }).lean<CampaignDoc>();
      if ((doc?.stateSeq ?? 0) >= seq) return null; // it was written: our view is out of date
    }
    return null;
  }
}

function reviewRank(doc: CampaignDoc): number {
  return doc.followUpOfNotice ? 0 : doc.priority === 'urgent' ? 1 : 2;
}

export function statusLabel(status: CampaignStatus): string {
  return {
    draft: '草稿',
    in_review: '待审核',
    approved: '已批准',
    paused: '已暂停',
    completed: '已完成',
    cancelled: '已取消',
  }[status];
}

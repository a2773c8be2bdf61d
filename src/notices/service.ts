// The notice library: write, review (four eyes), approve as frozen versions, archive.
// Every read and write takes the caller's Scope; every change is audited.
import mongoose from 'mongoose';
import type { AuditService } from '../audit/service.js';
import type { Principal } from '../auth/principal.js';
import type { Clock } from '../lib/clock.js';
import { type Intent, changeStateOnce } from '../db/claims.js';
import { type NoticeAction, checkNoticeFrom } from './lifecycle.js';
import { STALE_MS, listIntent, listedIntents, unlistIntents } from './intent-list.js';
import { Conflict, Forbidden, InvalidInput, NotFound, isDuplicateKey } from '../lib/errors.js';
import { type ListWindow, keysetPage } from '../lib/keyset.js';
import type { MediaStore } from '../media/store.js';
import type { RegionService } from '../regions/service.js';
import type { Scope } from '../regions/scope.js';
import { type Category, defaultHotline } from './categories.js';
import {
  type NoticeDoc,
  NoticeModel,
  type NoticeStatus,
  ReviewDecisionModel,
  WithdrawnPictureModel,
  picturesOf,
} from './model.js';
import { type PersonalDataFinding, findPersonalData } from './personal-data.js';
import { type WantedFields, resolveWanted } from './wanted.js';

export type { WantedFields } from './wanted.js';
import type { CreateNoticeBody, UpdateNoticeBody } from './schemas.js';

export interface NoticeContent {
  category: Category;
  title: string;
  body: string;
  summary: string | null;
  media: { sha256: string; caption: string | null }[];
  video: { url: string; posterSha256: string } | null;
  issuingUnit: string;
  hotline: string;
  validFrom: Date | null;
  validUntil: Date | null;
  tags: string[];
  wanted: WantedFields | null;
}

export interface Notice {
  id: string;
  regionCode: string;
  regionPath: string[];
  status: NoticeStatus;
  version: number;
  approvedVersion: number | null;
  authorId: string;
  editorIds: string[];
  submittedBy: string | null;
  reviewNote: string | null;
  content: NoticeContent;
  versions: { version: number; approvedBy: string; approvedAt: Date }[];
  retractedAt: Date | null;
  archivedAt: Date | null;
  caseOutcomes: CaseOutcome[];
  createdAt: Date;
  updatedAt: Date;
}

/** How a wanted case ended (SPEC §3.8), with the follow-up drafted for it. */
export interface CaseOutcome {
  kind: 'expired' | 'caught' | 'solved';
  at: Date;
  by: string;
  note: string | null;
  followUpNoticeId: string | null;
  followUpCampaignId: string | null;
}

/** One approved version: what campaigns send and cards are drawn from. */
export interface ApprovedNotice {
  noticeId: string;
  version: number;
  regionCode: string;
  regionPath: string[];
  content: NoticeContent;
  approvedBy: string;
  approvedAt: Date;
}

export interface NoticeListQuery extends ListWindow {
  status?: NoticeStatus;
  category?: Category;
  approved?: boolean;
  limit: number;
}

interface Decision {
  decision: 'approve' | 'reject';
  by: string;
  at: Date;
  note: string | null;
}

type ContentInput = Partial<Omit<CreateNoticeBody, 'regionCode'>>;

const clean = (text: string) => text.trim();

function toContent(input: ContentInput, base: NoticeContent | null): NoticeContent {
  const category = input.category ?? base?.category;
  if (!category) throw new InvalidInput('缺少必填字段 "category"', 'category');
  const pick = <K extends keyof NoticeContent>(key: K, fallback: NoticeContent[K]): NoticeContent[K] =>
    (input as Record<string, unknown>)[key] !== undefined
      ? ((input as Record<string, unknown>)[key] as NoticeContent[K])
      : (base?.[key] ?? fallback);
  const date = (value: string | null | undefined, current: Date | null | undefined) =>
    value === undefined ? (current ?? null) : value === null ? null : new Date(value);
  const content: NoticeContent = {
    category,
    title: clean(pick('title', '')),
    body: pick('body', '').replace(/\r\n?/g, '\n').trim(),
    summary: pick('summary', null)?.trim() || null,
    media: pick('media', []).map((m) => ({ sha256: m.sha256, caption: m.caption?.trim() || null })),
    video: pick('video', null),
    issuingUnit: clean(pick('issuingUnit', '')),
    hotline: clean(pick('hotline', base && input.category === undefined ? base.hotline : defaultHotline(category))),
    validFrom: date(input.validFrom, base?.validFrom),
    validUntil: date(input.validUntil, base?.validUntil),
    tags: [...new Set(pick('tags', []).map(clean))],
    wanted: pick('wanted', null),
  };
  if (content.validFrom && content.validUntil && content.validFrom >= content.validUntil) {
    throw new InvalidInput('有效期结束时间必须晚于开始时间', 'validUntil');
  }
  if (content.category === 'wanted_clue' && !content.wanted) {
    throw new InvalidInput('协查通告需要填写 wanted（案情、嫌疑人特征、悬赏、联系人、截止日期）', 'wanted');
  }
  if (content.category !== 'wanted_clue' && content.wanted) {
    throw new InvalidInput('只有协查通告（wanted_clue）可以填写 wanted', 'wanted');
  }
  return content;
}

function toNotice(doc: NoticeDoc): Notice {
  return {
    id: String(doc._id),
    regionCode: doc.regionCode,
    regionPath: doc.regionPath,
    status: doc.status as NoticeStatus,
    version: doc.version,
    approvedVersion: doc.approvedVersion ?? null,
    authorId: doc.authorId,
    editorIds: doc.editorIds,
    submittedBy: doc.submittedBy ?? null,
    reviewNote: doc.reviewNote ?? null,
    content: doc.content as unknown as NoticeContent,
    versions: (doc.versions ?? []).map((v) => ({
      version: v.version,
      approvedBy: v.approvedBy,
      approvedAt: v.approvedAt,
    })),
    retractedAt: doc.retractedAt ?? null,
    archivedAt: doc.archivedAt ?? null,
    caseOutcomes: (doc.caseOutcomes ?? []) as unknown as CaseOutcome[],
    createdAt: (doc as unknown as { createdAt: Date }).createdAt,
    updatedAt: (doc as unknown as { updatedAt: Date }).updatedAt,
  };
}

function personalDataOf(doc: NoticeDoc): (PersonalDataFinding & { confirmed: boolean })[] {
  const content = doc.content as unknown as NoticeContent;
  if (!content.wanted) return [];
  const confirmed = new Set((doc.personalDataConfirmed ?? []).map((c) => c.key));
  const texts = [
    { field: 'title', text: content.title },
    { field: 'body', text: content.body },
    { field: 'summary', text: content.summary },
    ...(['caseSummary', 'suspectDescription', 'reward', 'contactName'] as const).map((key) => ({
      field: `wanted.${key}`,
      text: content.wanted![key],
    })),
  ];
  return findPersonalData(texts, [content.wanted.contactPhone, content.hotline]).map((finding) => ({
    ...finding,
    confirmed: confirmed.has(finding.key),
  }));
}

function objectId(id: string): mongoose.Types.ObjectId {
  if (!mongoose.isValidObjectId(id)) throw new NotFound(`通知 ${id}`);
  return new mongoose.Types.ObjectId(id);
}

/** How long a "may this picture be served" answer is kept by one process. */
const PICTURE_ANSWER_MS = 30_000;

export class NoticeService {
  private readonly pictureAnswers = new Map<string, { withdrawn: boolean; until: number }>();

  constructor(
    private readonly regions: RegionService,
    private readonly media: MediaStore,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    /** Whether a user id names an active user (the wanted notice's case officer). */
    /** A wanted notice's case officer: active staff whose region lies in the notice's line (context.ts). */
    private readonly caseOfficerOk: (id: string, regionPath: string[]) => Promise<boolean> = async () => true,
    /** Whose calendar decides whether a deadline has passed. */
    private readonly timeZone = 'Asia/Shanghai',
  ) {}

  private async load(scope: Scope, id: string): Promise<NoticeDoc> {
    const doc = await NoticeModel.findOne({ _id: objectId(id), ...scope.filter() }).lean<NoticeDoc>();
    if (!doc) throw new NotFound(`通知 ${id}`);
    return doc;
  }

  /** Pictures must already be uploaded (stored by hash) before a notice refers to them. */
  private async checkMedia(content: NoticeContent): Promise<void> {
    const refs = [
      ...content.media.map((m, i) => ({ sha256: m.sha256, field: `media.${i}.sha256` })),
      ...(content.video ? [{ sha256: content.video.posterSha256, field: 'video.posterSha256' }] : []),
    ];
    for (const ref of refs) {
      if (!(await this.media.info(ref.sha256))) {
        throw new InvalidInput(`图片 ${ref.sha256.slice(0, 12)}… 不存在，请先上传（POST /api/media）`, ref.field);
      }
    }
  }

  private async record(
    by: Principal,
    action: string,
    doc: NoticeDoc,
    ip: string | null,
    details?: Record<string, unknown>,
  ) {
    await this.audit.record({
      actor: by,
      action: `notice.${action}`,
      target: { kind: 'notice', id: String(doc._id) },
      ip,
      regionPath: doc.regionPath,
      details: { version: doc.version, title: doc.content.title, ...details },
    });
  }

  /**
   * The one place a notice changes: the lifecycle table's `from` is checked, then the change
   * claims the notice's next revision once (`notice-state:<id>#<revision>`, the same claim
   * as a campaign's state, db/claims.ts), so of two concurrent changes exactly one is
   * written, also on FerretDB where a revision-guarded findOneAndUpdate is not atomic.
   * Array operators are applied to the state the caller saw (it is the only writer of the
   * next revision).
   */
  private async transition(
    scope: Scope,
    seen: NoticeDoc,
    action: NoticeAction,
    update: { $set?: Record<string, unknown>; $push?: Record<string, unknown>; $addToSet?: Record<string, unknown> },
    intent: Intent | null = null,
  ): Promise<NoticeDoc> {
    checkNoticeFrom(action, seen.status);
    const updated = await this.claimChange(scope, seen, update, intent);
    if (!updated) throw new Conflict('通知刚被他人修改或审核，请刷新后重试');
    return updated;
  }

  /**
   * A change with an intent lists the intent first (intent-list.ts: the scheduler's sweep finds
   * it there, not by a scan of the notices), and takes it off again when the change was not made.
   */
  private async claimChange(
    scope: Scope,
    seen: NoticeDoc,
    update: { $set?: Record<string, unknown>; $push?: Record<string, unknown>; $addToSet?: Record<string, unknown> },
    intent: Intent | null = null,
  ): Promise<NoticeDoc | null> {
    if (!intent) return this.claimChangeOnce(scope, seen, update, null);
    await listIntent(String(seen._id), intent, this.clock.now());
    const updated = await this.claimChangeOnce(scope, seen, update, intent);
    if (!updated) await unlistIntents([intent.id]);
    return updated;
  }

  private claimChangeOnce(
    scope: Scope,
    seen: NoticeDoc,
    update: { $set?: Record<string, unknown>; $push?: Record<string, unknown>; $addToSet?: Record<string, unknown> },
    intent: Intent | null,
  ): Promise<NoticeDoc | null> {
    const set: Record<string, unknown> = { ...update.$set };
    const current = seen as unknown as Record<string, unknown[] | undefined>;
    for (const [field, value] of Object.entries(update.$push ?? {})) {
      const each = (value as { $each?: unknown[] }).$each ?? [value];
      set[field] = [...(current[field] ?? []), ...each];
    }
    for (const [field, value] of Object.entries(update.$addToSet ?? {})) {
      const list = current[field] ?? [];
      set[field] = list.includes(value) ? list : [...list, value];
    }
    return changeStateOnce(
      NoticeModel,
      'notice-state',
      'revision',
      seen,
      this.clock.now(),
      set,
      { ...scope.filter(), status: seen.status },
      intent,
    );
  }

  /**
   * A new draft. With `id` (a step that may run again after its process died, e.g. a case
   * outcome's follow-up), the draft with that id is returned if it already exists.
   */
  async create(
    by: Principal,
    input: CreateNoticeBody,
    ip: string | null = null,
    { id }: { id?: string } = {},
  ): Promise<Notice> {
    if (id) {
      const existing = await NoticeModel.findById(objectId(id)).lean<NoticeDoc>();
      if (existing) return toNotice(existing);
    }
    const region = await this.regions.get(by.scope, input.regionCode ?? by.scope.regionCode);
    const { regionCode: _ignored, ...fields } = input;
    const content = toContent(fields, null);
    await this.checkMedia(content);
    content.wanted = await resolveWanted(content.wanted, this.regions, this.caseOfficerOk, region.regionPath);
    const created = await NoticeModel.create({
      ...(id ? { _id: objectId(id) } : {}),
      regionCode: region.code,
      regionPath: region.regionPath,
      status: 'draft',
      version: 1,
      content,
      authorId: by.id,
      editorIds: [by.id],
      revision: 1,
    });
    const doc = created.toObject() as NoticeDoc;
    await this.record(by, 'create', doc, ip);
    return toNotice(doc);
  }

  /**
   * Edits the working copy. A draft is edited in place; an approved notice gets a new
   * working version (the approved one stays and is still what campaigns send) that must be
   * reviewed again. Notices in review or archived cannot change.
   */
  async update(by: Principal, id: string, changes: UpdateNoticeBody, ip: string | null = null): Promise<Notice> {
    const seen = await this.load(by.scope, id);
    if (seen.status === 'in_review') throw new Conflict('审核中的通知不能修改；请等待审核结果（驳回后可修改）');
    if (seen.status === 'archived') throw new Conflict('已归档的通知不能修改');
    const { regionCode, ...contentChanges } = changes;
    const region = regionCode === undefined ? null : await this.regionFor(by, seen, regionCode);
    const content = toContent(contentChanges, seen.content as unknown as NoticeContent);
    await this.checkMedia(content);
    content.wanted = await resolveWanted(
      content.wanted,
      this.regions,
      this.caseOfficerOk,
      region?.regionPath ?? seen.regionPath,
    );
    const newVersion = seen.status === 'approved';
    const move = region ? { regionCode: region.code, regionPath: region.regionPath } : {};
    const updated = await this.transition(
      by.scope,
      seen,
      'edit',
      newVersion
        ? {
            $set: {
              content,
              status: 'draft',
              version: seen.version + 1,
              editorIds: [by.id],
              reviewNote: null,
              submittedBy: null,
            },
          }
        : { $set: { content, ...move }, $addToSet: { editorIds: by.id } },
    );
    await this.record(by, 'update', updated, ip, { changed: Object.keys(changes), newVersion });
    return toNotice(updated);
  }

  /**
   * The region a notice moves to: inside the editor's scope, and only before its first
   * approval (approved versions have been sent and are public under their region).
   */
  private async regionFor(by: Principal, seen: NoticeDoc, code: string) {
    if (code === seen.regionCode) return null;
    if (seen.approvedVersion != null) {
      throw new Conflict('通知已审核通过，所属地区不能再改；如需以其他单位名义发布，请新建通知', 'regionCode');
    }
    return this.regions.get(by.scope, code);
  }

  /** A wanted notice asks for clues until its deadline: one already past cannot go to review. */
  private checkDeadline(content: NoticeContent): void {
    const deadline = (content.wanted as { deadline?: string } | null)?.deadline;
    if (content.category !== 'wanted_clue' || !deadline) return;
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: this.timeZone }).format(this.clock.now());
    if (deadline < today) {
      throw new InvalidInput(
        `协查截止日期 ${deadline} 已过（今天是 ${today}），请把截止日期改为今天或以后再提交审核`,
        'wanted.deadline',
      );
    }
  }

  async submit(by: Principal, id: string, ip: string | null = null): Promise<Notice> {
    const seen = await this.load(by.scope, id);
    if (seen.status !== 'draft') throw new Conflict('只有草稿可以提交审核');
    const unconfirmed = personalDataOf(seen).filter((finding) => !finding.confirmed);
    if (unconfirmed.length > 0) {
      const list = unconfirmed.map((f) => `${f.kind === 'phone' ? '电话' : '身份证号'} ${f.masked}（${f.field}）`);
      throw new Conflict(
        `通告中有未确认的个人信息：${list.join('；')}。请逐条确认确需公开后再提交（POST /api/notices/${id}/personal-data/confirm）`,
        'personalData',
      );
    }
    this.checkDeadline(seen.content as unknown as NoticeContent);
    const updated = await this.transition(
      by.scope,
      seen,
      'submit',
      {
        $set: { status: 'in_review', submittedBy: by.id, submittedAt: this.clock.now() },
      },
    );
    await this.record(by, 'submit', updated, ip);
    return toNotice(updated);
  }

  /** Four eyes: nobody who wrote or submitted this version may approve it. */
  async approve(by: Principal, id: string, note: string | null = null, ip: string | null = null): Promise<Notice> {
    return this.decide(by, id, { decision: 'approve', note: note?.trim() || null }, ip);
  }

  async reject(by: Principal, id: string, reason: string, ip: string | null = null): Promise<Notice> {
    return this.decide(by, id, { decision: 'reject', note: reason.trim() }, ip);
  }

  /**
   * A review decision: first claimed in the decisions collection (unique per review round,
   * so exactly one reviewer wins even where conditional updates are not atomic), then
   * applied to the notice.
   */
  private async decide(
    by: Principal,
    id: string,
    choice: { decision: 'approve' | 'reject'; note: string | null },
    ip: string | null,
  ): Promise<Notice> {
    const seen = await this.load(by.scope, id);
    if (seen.status !== 'in_review') {
      throw new Conflict(choice.decision === 'approve' ? '只有待审核的通知可以审核' : '只有待审核的通知可以驳回');
    }
    if (seen.editorIds.includes(by.id) || seen.submittedBy === by.id) {
      throw new Forbidden('不能审核自己编写或提交的通知，请由其他审核人审核');
    }
    const decision: Decision = { ...choice, by: by.id, at: this.clock.now() };
    // The state claim decides between two reviewers (and an archive or edit); the decision
    // record is written by the winner.
    const updated = await this.applyDecision(by.scope, seen, decision);
    if (!updated) throw new Conflict('该通知已由其他审核人处理，请刷新后查看');
    await ReviewDecisionModel.create({ noticeId: id, revision: seen.revision, version: seen.version, ...decision }).catch(
      (error: unknown) => {
        if (!isDuplicateKey(error)) throw error;
      },
    );
    await this.record(by, choice.decision, updated, ip, choice.note ? { note: choice.note } : undefined);
    return toNotice(updated);
  }

  private applyDecision(scope: Scope, seen: NoticeDoc, decision: Decision): Promise<NoticeDoc | null> {
    checkNoticeFrom(decision.decision, seen.status);
    const update =
      decision.decision === 'approve'
        ? {
            $set: { status: 'approved', approvedVersion: seen.version, reviewNote: decision.note },
            $push: {
              versions: {
                version: seen.version,
                content: seen.content,
                editorIds: seen.editorIds,
                approvedBy: decision.by,
                approvedAt: decision.at,
              },
            },
          }
        : { $set: { status: 'draft', reviewNote: decision.note, submittedBy: null, submittedAt: null } };
    return this.claimChange(scope, seen, update);
  }

  async archive(by: Principal, id: string, ip: string | null = null): Promise<Notice> {
    const seen = await this.load(by.scope, id);
    if (seen.status === 'archived') throw new Conflict('通知已归档');
    if (seen.status === 'in_review') throw new Conflict('审核中的通知不能归档，请先完成审核');
    await this.notePicturesWithdrawn(seen);
    const updated = await this.transition(
      by.scope,
      seen,
      'archive',
      { $set: { status: 'archived', archivedAt: this.clock.now() } },
    );
    this.pictureAnswers.clear();
    await this.record(by, 'archive', updated, ip);
    return toNotice(updated);
  }

  /** Resident IDs and phone numbers (other than the contact's) in a wanted notice's working copy. */
  async personalData(scope: Scope, id: string): Promise<(PersonalDataFinding & { confirmed: boolean })[]> {
    return personalDataOf(await this.load(scope, id));
  }

  /** The editor confirms, finding by finding, that these numbers are meant to be published. */
  async confirmPersonalData(
    by: Principal,
    id: string,
    keys: string[],
    ip: string | null = null,
  ): Promise<(PersonalDataFinding & { confirmed: boolean })[]> {
    const seen = await this.load(by.scope, id);
    if (seen.status !== 'draft') throw new Conflict('只有草稿需要确认个人信息');
    const findings = personalDataOf(seen);
    const named = findings.filter((finding) => keys.includes(finding.key));
    const unknown = keys.filter((key) => !findings.some((finding) => finding.key === key));
    if (unknown.length > 0) throw new InvalidInput(`${unknown.join('、')} 不是本通告当前文字中的个人信息`, 'keys');
    const at = this.clock.now();
    const updated = await this.transition(
      by.scope,
      seen,
      'confirm-personal-data',
      {
        $push: {
          personalDataConfirmed: {
            $each: [...new Map(named.map((f) => [f.key, { key: f.key, kind: f.kind, by: by.id, at }])).values()],
          },
        },
      },
    );
    await this.record(by, 'personal_data_confirm', updated, ip, {
      items: named.map(({ kind, field, masked }) => ({ kind, field, masked })),
    });
    return personalDataOf(updated);
  }

  async get(scope: Scope, id: string): Promise<Notice> {
    return toNotice(await this.load(scope, id));
  }

  /** A notice's category in scope (null: not found): one `_id` read of one field (the calendar). */
  async categoryOf(scope: Scope, id: string): Promise<string | null> {
    if (!mongoose.isValidObjectId(id)) return null;
    const doc = await NoticeModel.findOne({ _id: objectId(id), ...scope.filter() }, { 'content.category': 1 }).lean<{
      content?: { category?: string };
    }>();
    return doc?.content?.category ?? null;
  }

  async list(scope: Scope, query: NoticeListQuery): Promise<Notice[]> {
    const filter: Record<string, unknown> = { ...scope.filter() };
    if (query.status) filter.status = query.status;
    if (query.category) filter['content.category'] = query.category;
    if (query.approved !== undefined) filter.approvedVersion = query.approved ? { $ne: null } : null;
    const page = keysetPage(query, { dateField: 'createdAt', textField: 'content.title' });
    const docs = await NoticeModel.find({ ...filter, ...page.match }, { versions: 0 })
      .sort(page.sort)
      .limit(query.limit)
      .lean<NoticeDoc[]>();
    return docs.map(toNotice);
  }

  /**
   * An approved version for sending and rendering: the given one, or the latest approved.
   * Archived notices are not sent any more; their versions stay readable via getVersion.
   */
  async getApprovedVersion(scope: Scope, noticeId: string, version?: number): Promise<ApprovedNotice> {
    const doc = await this.load(scope, noticeId);
    if (doc.status === 'archived') throw new Conflict('通知已归档，不能再发送');
    if (doc.retractedAt) throw new Conflict('通知已撤回，不能再发送');
    if (doc.approvedVersion == null) throw new Conflict('通知尚无审核通过的版本');
    return this.frozen(doc, version ?? doc.approvedVersion);
  }

  /**
   * Withdraws a notice (its campaign was retracted): marked once, by whoever is first; a
   * no-op when it is withdrawn already (a case outcome marks it with its own change).
   */
  async markRetracted(noticeId: string, at: Date): Promise<void> {
    const doc = await NoticeModel.findById(objectId(noticeId), { content: 1, versions: 1 }).lean<NoticeDoc>();
    if (doc) await this.notePicturesWithdrawn(doc);
    this.pictureAnswers.clear();
    for (let tries = 0; tries < 5; tries++) {
      const seen = await NoticeModel.findById(objectId(noticeId)).lean<NoticeDoc>();
      if (!seen || seen.retractedAt) return;
      if (await this.claimChange(this.regions.rootScope(), seen, { $set: { retractedAt: at } })) return;
    }
    throw new Conflict('通知刚被修改，撤回未完成，请重试');
  }

  /**
   * Records how a wanted case ended and withdraws the notice, in one change claimed like any
   * other, together with the intent of what must follow (the follow-up, waking the notice's
   * batches: cases/service.ts). Null when that kind of outcome is recorded already.
   */
  async recordCaseOutcome(
    noticeId: string,
    outcome: CaseOutcome,
    sameKind: (kind: CaseOutcome['kind']) => boolean,
    intent: Intent,
  ): Promise<NoticeDoc | null> {
    this.pictureAnswers.clear();
    for (let tries = 0; tries < 5; tries++) {
      const seen = await NoticeModel.findById(objectId(noticeId)).lean<NoticeDoc>();
      if (!seen) throw new NotFound(`通知 ${noticeId}`);
      if ((seen.caseOutcomes ?? []).some((o) => sameKind(o.kind as CaseOutcome['kind']))) return null;
      checkNoticeFrom('case-outcome', seen.status);
      const updated = await this.claimChange(
        this.regions.rootScope(),
        seen,
        { $set: { retractedAt: seen.retractedAt ?? outcome.at }, $push: { caseOutcomes: outcome } },
        intent,
      );
      if (updated) return updated;
    }
    throw new Conflict('此案刚被他人处理，请刷新');
  }

  /**
   * Notices with intents listed as unfinished (a case outcome's steps; intent-list.ts), each
   * read by `_id`, with the listed intents it carries: the scheduler's sweep reads these. An
   * entry whose intent no notice carries STALE_MS after it was listed (its writer died before
   * the change) is taken off the list here.
   */
  async withIntents(): Promise<{ id: string; intents: Intent[]; regionPath: string[] }[]> {
    const listed = await listedIntents();
    if (listed.length === 0) return [];
    const byNotice = new Map<string, typeof listed>();
    for (const entry of listed) byNotice.set(entry.noticeId, [...(byNotice.get(entry.noticeId) ?? []), entry]);
    const now = this.clock.now().getTime();
    const out: { id: string; intents: Intent[]; regionPath: string[] }[] = [];
    const neverWritten: string[] = [];
    for (const [noticeId, entries] of byNotice) {
      const doc = mongoose.isValidObjectId(noticeId)
        ? await NoticeModel.findById(objectId(noticeId), { intents: 1, regionPath: 1 }).lean<NoticeDoc>()
        : null;
      const listedIds = new Set(entries.map((entry) => entry.intentId));
      const intents = ((doc?.intents ?? []) as unknown as Intent[]).filter((intent) => listedIds.has(intent.id));
      const carried = new Set(intents.map((intent) => intent.id));
      for (const entry of entries) {
        if (!carried.has(entry.intentId) && now - entry.at.getTime() > STALE_MS) neverWritten.push(entry.intentId);
      }
      if (doc && intents.length) out.push({ id: noticeId, intents, regionPath: doc.regionPath });
    }
    await unlistIntents(neverWritten);
    return out;
  }

  /** These intents are done (their markers exist): off the list (intent-list.ts). */
  async intentsDone(intentIds: string[]): Promise<void> {
    await unlistIntents(intentIds);
  }

  /**
   * Whether a picture belongs to a withdrawn (retracted or archived) notice and to no live one:
   * then it is no longer served publicly.
   */
  async pictureWithdrawn(sha256: string): Promise<boolean> {
    // Chat platforms fetch a campaign's picture once per group: remember the answer briefly
    // rather than scan the notices for every fetch. Withdrawing here forgets it at once.
    const now = this.clock.now().getTime();
    const known = this.pictureAnswers.get(sha256);
    if (known && known.until > now) return known.withdrawn;
    const withdrawn = await this.pictureUseWithdrawn(sha256);
    if (this.pictureAnswers.size > 10_000) this.pictureAnswers.clear();
    this.pictureAnswers.set(sha256, { withdrawn, until: now + PICTURE_ANSWER_MS });
    return withdrawn;
  }

  /** Files a notice's pictures as possibly withheld (before the notice is marked withdrawn). */
  private async notePicturesWithdrawn(doc: Parameters<typeof picturesOf>[0]): Promise<void> {
    const keys = picturesOf(doc);
    if (keys.length === 0) return;
    const at = this.clock.now();
    await WithdrawnPictureModel.bulkWrite(
      keys.map((key) => ({ updateOne: { filter: { _id: key }, update: { $setOnInsert: { at } }, upsert: true } })),
      { ordered: false },
    );
  }

  /** Files the pictures of notices withdrawn before the key table existed (at start; idempotent). */
  async backfillWithdrawnPictures(): Promise<void> {
    const docs = await NoticeModel.find(
      { $or: [{ retractedAt: { $ne: null } }, { status: 'archived' }] },
      { content: 1, versions: 1 },
    ).lean<NoticeDoc[]>();
    for (const doc of docs) await this.notePicturesWithdrawn(doc);
  }

  private async pictureUseWithdrawn(sha256: string): Promise<boolean> {
    // By key first: a picture no withdrawn notice ever used is served without reading notices.
    if (!(await WithdrawnPictureModel.exists({ _id: sha256 }))) return false;
    const uses = await NoticeModel.find(
      {
        $or: [
          { 'content.media.sha256': sha256 },
          { 'content.video.posterSha256': sha256 },
          { 'versions.content.media.sha256': sha256 },
          { 'versions.content.video.posterSha256': sha256 },
        ],
      },
      { status: 1, retractedAt: 1 },
    ).lean<Pick<NoticeDoc, 'status' | 'retractedAt'>[]>();
    const withdrawn = (doc: Pick<NoticeDoc, 'status' | 'retractedAt'>) =>
      doc.status === 'archived' || doc.retractedAt != null;
    return uses.some(withdrawn) && !uses.some((doc) => !withdrawn(doc));
  }

  /** Wanted notices still live (approved, not retracted or archived): the deadline sweep reads these. */
  async liveWantedNotices(): Promise<(ApprovedNotice & { caseOutcomes: CaseOutcome[] })[]> {
    const docs = await NoticeModel.find({
      'content.category': 'wanted_clue',
      approvedVersion: { $ne: null },
      retractedAt: null,
      status: { $ne: 'archived' },
    }).lean<NoticeDoc[]>();
    return docs.map((doc) => ({
      ...this.frozen(doc, doc.approvedVersion!),
      caseOutcomes: (doc.caseOutcomes ?? []) as unknown as CaseOutcome[],
    }));
  }

  /**
   * Wanted notices whose case ended (the latest outcome: deadline passed, caught, solved) at or
   * before `cutoff`: the tip retention purge reads these.
   */
  async casesEndedBefore(cutoff: Date): Promise<{ noticeId: string; endedAt: Date }[]> {
    const docs = await NoticeModel.find(
      { 'caseOutcomes.at': { $lte: cutoff } },
      { caseOutcomes: 1 },
    ).lean<Pick<NoticeDoc, '_id' | 'caseOutcomes'>[]>();
    return docs.flatMap((doc) => {
      const ends = (doc.caseOutcomes ?? []).map((outcome) => new Date(outcome.at).getTime());
      const endedAt = Math.max(...ends);
      return ends.length > 0 && endedAt <= cutoff.getTime() ? [{ noticeId: String(doc._id), endedAt: new Date(endedAt) }] : [];
    });
  }

  /** Any approved version, also of an archived notice (old versions stay readable). */
  async getVersion(scope: Scope, noticeId: string, version: number): Promise<ApprovedNotice> {
    return this.frozen(await this.load(scope, noticeId), version);
  }

  private frozen(doc: NoticeDoc, version: number): ApprovedNotice {
    const found = doc.versions.find((v) => v.version === version);
    if (!found) throw new NotFound(`通知 ${String(doc._id)} 的已审核版本 ${version}`);
    return {
      noticeId: String(doc._id),
      version,
      regionCode: doc.regionCode,
      regionPath: doc.regionPath,
      content: found.content as unknown as NoticeContent,
      approvedBy: found.approvedBy,
      approvedAt: found.approvedAt,
    };
  }
}

// Tips: residents' clues for a wanted notice, and the case's inbox. Receiving checks the
// notice still takes tips (sent, not withdrawn, before its deadline), limits per sender and
// per notice, normalises the photo like every upload, and keeps only what was typed. The
// inbox is the case officer's and the editors' whose scope holds the notice; every view
// and change is audited.
import mongoose from 'mongoose';
import type { AuditService } from '../audit/service.js';
import type { Principal } from '../auth/principal.js';
import { AUTHORS } from '../auth/roles.js';
import { localDay } from '../campaigns/schedule.js';
import type { Clock } from '../lib/clock.js';
import { claimOnce } from '../db/claims.js';
import { collectionToken } from '../db/versions.js';
import { Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests } from '../lib/errors.js';
import { type ListWindow, keysetPage } from '../lib/keyset.js';
import { normaliseImage } from '../media/normalise.js';
import type { MediaStore } from '../media/store.js';
import type { PublicState } from '../residents/publication.js';
import type { TipChallenges } from './challenge.js';
import type { TipLimiter } from './limits.js';
import { type TipDoc, TipModel, type TipStatus } from './model.js';

export const TIP_MAX_CHARS = 2000;

export interface TipInput {
  text: string;
  phone?: string | null;
  photo?: Buffer | null;
  /** The question's token and the typed answer, when the form asked one (challenge.ts). */
  challenge?: string | null;
  answer?: string | null;
}

/** At most one robot alert per notice in each such slot; tips in between wait for the next. */
export const TIP_ALERT_SLOT_MS = 5 * 60_000;
/** tellQueued re-reads the tips at least this often (a writer that died before changing the token). */
const QUEUED_KEEP_MS = 10 * 60_000;
const QUEUED = { status: 'queued', reason: '5 分钟内已提醒过，新线索合并到下一次提醒' } as const;

export interface Tip {
  id: string;
  noticeId: string;
  text: string;
  phone: string | null;
  hasPhoto: boolean;
  status: TipStatus;
  note: string | null;
  notified: { status: string; reason: string | null; at: Date } | null;
  receivedAt: Date;
  updatedAt: Date;
}

export interface TipListQuery extends ListWindow {
  noticeId?: string;
  status?: TipStatus;
  limit: number;
}

/** What receiving a tip needs from outside this room (wired in context.ts). */
export interface TipPorts {
  /** The notice's public state: whether it takes tips now. */
  publicState(noticeId: string): Promise<PublicState>;
  /** The notice's region path and case officer (the inbox's owners). */
  caseOf(noticeId: string): Promise<{ regionPath: string[]; contactUserId: string | null; title: string }>;
  /** Wanted cases whose (latest) outcome is at or before `cutoff`. */
  casesEndedBefore(cutoff: Date): Promise<{ noticeId: string; endedAt: Date }[]>;
  /** Tells the case officer that new tips wait (a count and a link, never the text). */
  tellCaseOfficer(
    contactUserId: string | null,
    notice: { id: string; title: string },
    newTips: number,
  ): Promise<{ status: 'sent' | 'skipped' | 'failed'; reason: string | null }>;
}

function toTip(doc: TipDoc): Tip {
  return {
    id: String(doc._id),
    noticeId: doc.noticeId,
    text: doc.text,
    phone: doc.phone ?? null,
    hasPhoto: Boolean(doc.photoSha256),
    status: doc.status as TipStatus,
    note: doc.note ?? null,
    notified: doc.notified?.status
      ? { status: doc.notified.status, reason: doc.notified.reason ?? null, at: doc.notified.at! }
      : null,
    receivedAt: doc.receivedAt,
    updatedAt: (doc as unknown as { updatedAt: Date }).updatedAt,
  };
}

const PHONE = /^\+?[0-9][0-9 -]{3,18}[0-9]$/;

/** The text as typed, checked: 1–2,000 characters (code points) after trimming. */
function checkInput(input: TipInput): { text: string; phone: string | null } {
  const text = (input.text ?? '').replace(/\r\n?/g, '\n').trim();
  if (text.length === 0) throw new InvalidInput('请填写线索内容', 'text');
  const length = [...text].length;
  if (length > TIP_MAX_CHARS) {
    throw new InvalidInput(`线索内容最多 ${TIP_MAX_CHARS} 字（现在 ${length} 字），请精简后再提交`, 'text');
  }
  const phone = input.phone?.trim() || null;
  if (phone && !PHONE.test(phone)) throw new InvalidInput('联系电话格式不正确（只填数字，可带 - 或空格）', 'phone');
  return { text, phone };
}

export class TipService {
  /** tellQueued's last full pass that found no tip queued: the tips' token read before it. */
  private queuedSeen: { token: string; at: number } | null = null;

  constructor(
    private readonly ports: TipPorts,
    private readonly photos: MediaStore,
    private readonly limiter: TipLimiter,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly timeZone: string,
    /** Days a case's tips are kept after its outcome (TIP_RETENTION_DAYS). */
    private readonly retentionDays = 180,
    private readonly challenges: TipChallenges | null = null,
  ) {}

  /** The question the notice's form must carry now (the notice is at its cap), else null. */
  challengeFor(noticeId: string): { question: string; token: string } | null {
    const now = this.clock.now();
    return this.challenges && this.limiter.busy(noticeId, now) ? this.challenges.issue(noticeId, now) : null;
  }

  /**
   * A resident's tip. `senderAddress` only feeds the in-memory limiter (hashed there); it is
   * not stored, logged or passed on.
   */
  async submit(noticeId: string, input: TipInput, senderAddress: string): Promise<Tip> {
    const state = await this.ports.publicState(noticeId);
    if (state.kind === 'missing') throw new NotFound('这条通知');
    if (state.kind === 'withdrawn') throw new Conflict('这条通告已撤回或结案，不再接收线索');
    if (state.tipForm === null) throw new NotFound('这条通知的线索征集');
    if (state.tipForm === 'closed_deadline') throw new Conflict('协查通告已过截止日期，线索征集已结束');
    const { text, phone } = checkInput(input);
    const now = this.clock.now();
    const day = localDay(now, this.timeZone);
    let verdict = this.limiter.take(senderAddress, noticeId, now, day);
    if (verdict.kind === 'prove' && this.challenges) {
      // Past the notice's cap: not refused, asked to show a little work (finding 4).
      const proof = this.challenges.redeem(noticeId, input.challenge, input.answer, now);
      if (proof === 'missing') throw new InvalidInput('提交线索的人较多，请先回答下面的算术题再提交', 'answer');
      if (proof === 'wrong') throw new InvalidInput('算术题的答案不对或已过期，请回答新的题目', 'answer');
      verdict = this.limiter.take(senderAddress, noticeId, now, day, true);
    }
    if (verdict.kind === 'prove') throw new TooManyRequests('这条通告收到的线索较多，请 10 分钟后再试', 600);
    if (verdict.kind === 'wait') {
      throw new TooManyRequests(`提交过于频繁，请 ${Math.ceil(verdict.seconds / 60)} 分钟后再试`, verdict.seconds);
    }
    let photoSha256: string | null = null;
    if (input.photo && input.photo.length > 0) {
      const image = await normaliseImage(input.photo).catch((error: Error) => {
        throw new InvalidInput(`照片：${error.message}`, 'photo');
      });
      photoSha256 = (await this.photos.put(image, null)).sha256;
    }
    const kase = await this.ports.caseOf(noticeId);
    const created = await TipModel.create({
      noticeId,
      regionPath: kase.regionPath,
      contactUserId: kase.contactUserId,
      text,
      phone,
      photoSha256,
      receivedAt: now,
    });
    const told = await this.alert(noticeId, kase, now, String(created._id));
    // No actor and no address: the sender is nobody the service knows.
    await this.audit.record({
      actor: null,
      action: 'tip.receive',
      target: { kind: 'tip', id: String(created._id) },
      ip: null,
      regionPath: kase.regionPath,
      details: { noticeId, photo: photoSha256 !== null, notified: told.status, reason: told.reason },
    });
    return toTip({ ...(created.toObject() as TipDoc), notified: { ...told, at: this.clock.now() } });
  }

  /**
   * Tells the case officer that tips wait, at most once per notice and TIP_ALERT_SLOT_MS (the
   * slot is claimed by a unique key, so every process together sends one): a count of the
   * notice's new tips and a link. A tip that arrives while the slot is spent is marked queued;
   * the next alert (the next tip after the slot, or the scheduler's `tellQueued`) covers it.
   */
  private async alert(
    noticeId: string,
    kase: { contactUserId: string | null; title: string },
    now: Date,
    tipId: string | null,
  ): Promise<{ status: string; reason: string | null }> {
    const slot = Math.floor(now.getTime() / TIP_ALERT_SLOT_MS);
    const mine = tipId ? [{ _id: new mongoose.Types.ObjectId(tipId) }] : [];
    if (!(await claimOnce(`tipalert:${noticeId}:${slot}`, 'tips', now))) {
      if (tipId)
        await TipModel.updateOne(
          { _id: new mongoose.Types.ObjectId(tipId) },
          { $set: { notified: { ...QUEUED, at: now } } },
        );
      return QUEUED;
    }
    const waiting = await TipModel.countDocuments({ noticeId, status: 'new' });
    const told = await this.ports
      .tellCaseOfficer(kase.contactUserId, { id: noticeId, title: kase.title }, waiting)
      .catch((error: Error) => ({ status: 'failed' as const, reason: error.message }));
    const notified = { ...told, at: this.clock.now() };
    // This alert covers the tip just received and every tip that waited for it.
    await TipModel.updateMany({ $or: [...mine, { noticeId, 'notified.status': 'queued' }] }, { $set: { notified } });
    return told;
  }

  /**
   * The alerts that tips queued in a spent slot still owe (run each minute by the scheduler):
   * one per notice whose slot has turned. Returns how many alerts were sent or tried.
   */
  async tellQueued(): Promise<number> {
    // Idle (no tip queued at the last full pass, no tip written since): one `_id` read of the
    // tips' version token (db/versions.ts), read before the tips; no scan of the tips.
    const token = await collectionToken('tips');
    const now = this.clock.now().getTime();
    const idle = this.queuedSeen;
    if (idle && token !== null && idle.token === token && now - idle.at < QUEUED_KEEP_MS) return 0;
    this.queuedSeen = null;
    const queued = await TipModel.find({ 'notified.status': 'queued' }, { noticeId: 1 }).lean<TipDoc[]>();
    if (queued.length === 0 && token !== null) this.queuedSeen = { token, at: now };
    let alerts = 0;
    for (const noticeId of new Set(queued.map((doc) => doc.noticeId))) {
      const kase = await this.ports.caseOf(noticeId);
      const told = await this.alert(noticeId, kase, this.clock.now(), null);
      if (told.status !== 'queued') alerts += 1;
    }
    return alerts;
  }

  /** Who sees a tip: the case officer, and the authors whose scope holds the notice. */
  private visibleFilter(by: Principal): Record<string, unknown> {
    const mine = { contactUserId: by.id };
    return AUTHORS.includes(by.role) ? { $or: [by.scope.filter(), mine] } : mine;
  }

  private async load(by: Principal, id: string): Promise<TipDoc> {
    if (!mongoose.isValidObjectId(id)) throw new NotFound(`线索 ${id}`);
    const doc = await TipModel.findOne({
      _id: new mongoose.Types.ObjectId(id),
      ...this.visibleFilter(by),
    }).lean<TipDoc>();
    if (!doc) throw new NotFound(`线索 ${id}`);
    return doc;
  }

  private async record(
    by: Principal,
    action: string,
    doc: TipDoc,
    ip: string | null,
    details?: Record<string, unknown>,
  ) {
    await this.audit.record({
      actor: by,
      action: `tip.${action}`,
      target: { kind: 'tip', id: String(doc._id) },
      ip,
      regionPath: doc.regionPath,
      details: { noticeId: doc.noticeId, ...details },
    });
  }

  async list(by: Principal, query: TipListQuery, ip: string | null = null): Promise<Tip[]> {
    const filter: Record<string, unknown> = this.visibleFilter(by);
    if (query.noticeId) filter.noticeId = query.noticeId;
    if (query.status) filter.status = query.status;
    const page = keysetPage(query, { dateField: 'receivedAt', textField: 'text' });
    const docs = await TipModel.find({ ...filter, ...page.match })
      .sort(page.sort)
      .limit(query.limit)
      .lean<TipDoc[]>();
    await this.audit.record({
      actor: by,
      action: 'tip.list',
      target: { kind: 'notice', id: query.noticeId ?? '*' },
      ip,
      details: { tipIds: docs.map((doc) => String(doc._id)), status: query.status ?? null },
    });
    return docs.map(toTip);
  }

  /** One tip; reading a new tip marks it read. */
  async get(by: Principal, id: string, ip: string | null = null): Promise<Tip> {
    let doc = await this.load(by, id);
    if (doc.status === 'new') {
      doc =
        (await TipModel.findOneAndUpdate(
          { _id: doc._id },
          { $set: { status: 'read', updatedBy: by.id } },
          { new: true },
        ).lean<TipDoc>()) ?? doc;
    }
    await this.record(by, 'view', doc, ip);
    return toTip(doc);
  }

  async update(
    by: Principal,
    id: string,
    changes: { status?: TipStatus; note?: string | null },
    ip: string | null = null,
  ): Promise<Tip> {
    const seen = await this.load(by, id);
    const set: Record<string, unknown> = { updatedBy: by.id };
    if (changes.status !== undefined) set.status = changes.status;
    if (changes.note !== undefined) set.note = changes.note?.trim() || null;
    const updated = await TipModel.findOneAndUpdate({ _id: seen._id }, { $set: set }, { new: true }).lean<TipDoc>();
    if (!updated) throw new NotFound(`线索 ${id}`);
    await this.record(by, 'update', updated, ip, {
      from: seen.status,
      to: updated.status,
      noteChanged: changes.note !== undefined,
    });
    return toTip(updated);
  }

  async photo(by: Principal, id: string, ip: string | null = null) {
    const doc = await this.load(by, id);
    const file = doc.photoSha256 ? await this.photos.read(doc.photoSha256) : null;
    if (!file) throw new NotFound(`线索 ${id} 的照片`);
    await this.record(by, 'photo_view', doc, ip);
    return file;
  }

  /**
   * Deletes one tip and its photo (when no other tip holds the same picture): the case
   * officer, or an admin whose scope holds the notice. Audited without the tip's content.
   */
  async delete(by: Principal, id: string, ip: string | null = null): Promise<{ ok: true }> {
    const doc = await this.load(by, id);
    if (by.role !== 'admin' && doc.contactUserId !== by.id) {
      throw new Forbidden('只有办案民警或管辖范围内的管理员可以删除线索');
    }
    const removed = await TipModel.deleteOne({ _id: doc._id });
    if (removed.deletedCount === 0) throw new NotFound(`线索 ${id}`);
    await this.dropPhotos([doc.photoSha256]);
    await this.record(by, 'delete', doc, ip, { status: doc.status, photo: Boolean(doc.photoSha256) });
    return { ok: true };
  }

  /**
   * The retention rule: the tips of every case whose outcome is more than TIP_RETENTION_DAYS
   * old are deleted with their photos, one audit entry per case (a count, never content).
   * Run by the scheduler role; returns how many tips went.
   */
  async purgeExpired(): Promise<number> {
    const cutoff = new Date(this.clock.now().getTime() - this.retentionDays * 24 * 3600_000);
    let purged = 0;
    const ended = await this.ports.casesEndedBefore(cutoff);
    if (ended.length === 0) return 0;
    // One read of the tips for every ended case (ended cases only accumulate: a read per case
    // each hour would grow with history).
    const byNotice = new Map<string, TipDoc[]>();
    const found = await TipModel.find(
      { noticeId: { $in: ended.map((c) => c.noticeId) } },
      { noticeId: 1, photoSha256: 1, regionPath: 1 },
    ).lean<TipDoc[]>();
    for (const doc of found) byNotice.set(doc.noticeId, [...(byNotice.get(doc.noticeId) ?? []), doc]);
    for (const { noticeId, endedAt } of ended) {
      const docs = byNotice.get(noticeId) ?? [];
      if (docs.length === 0) continue;
      const removed = await TipModel.deleteMany({ noticeId, _id: { $in: docs.map((doc) => doc._id) } });
      await this.dropPhotos(docs.map((doc) => doc.photoSha256));
      purged += removed.deletedCount;
      await this.audit.record({
        actor: null,
        action: 'tip.purge',
        target: { kind: 'notice', id: noticeId },
        ip: null,
        regionPath: docs[0]!.regionPath,
        details: { tips: removed.deletedCount, endedAt, retentionDays: this.retentionDays },
      });
    }
    return purged;
  }

  /** Removes tip photos no remaining tip refers to. */
  private async dropPhotos(shas: (string | null | undefined)[]): Promise<void> {
    for (const sha of new Set(shas.filter((s): s is string => Boolean(s)))) {
      if (!(await TipModel.exists({ photoSha256: sha }))) await this.photos.delete(sha);
    }
  }

  /** New (unread) tips per notice, for the case list's badge. */
  async newCounts(noticeIds: string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (noticeIds.length === 0) return counts;
    const docs = await TipModel.find({ noticeId: { $in: noticeIds }, status: 'new' }, { noticeId: 1 }).lean();
    for (const doc of docs) counts.set(doc.noticeId, (counts.get(doc.noticeId) ?? 0) + 1);
    return counts;
  }
}

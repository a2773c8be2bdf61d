// Manual channel: for personal WeChat groups with no API, the responsible officer gets a
// task with the ready-to-forward text and picture and confirms "posted" through a signed
// link (HMAC of the task id and the link's expiry, with a key derived from the credentials
// key), so no login is needed on the officer's phone and nobody can confirm a task they were
// not sent. Links are handed out to officers and admins only, and stop working after
// LINK_TTL_MS: a link that leaked (a forwarded screenshot, a shared phone) does not last.
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import mongoose from 'mongoose';
import type { SecretBox } from '../../lib/cipher.js';
import type { Clock } from '../../lib/clock.js';
import { mapLimit } from '../../lib/concurrency.js';
import { Forbidden, NotFound, isDuplicateKey } from '../../lib/errors.js';
import type { Scope } from '../../regions/scope.js';
import type { ChannelMessage, ChannelTarget } from '../types.js';
import { ManualConfirmationModel, type ManualTaskDoc, ManualImageModel, ManualTaskModel } from './model.js';

/** What a signed link carries besides the task id. */
export interface SignedLink {
  exp: number;
  sig: string;
}

export interface ManualTask {
  id: string;
  reference: string;
  groupId: string;
  groupName: string;
  officer: { name: string; phone: string | null } | null;
  title: string;
  text: string | null;
  url: string | null;
  hasImage: boolean;
  createdAt: Date;
  confirmedAt: Date | null;
  /** The group's village path, root first (the engine finds the delivery's batch by it). */
  regionPath: string[];
  /** The signed link the officer opens to see and confirm the task (null: not for this caller). */
  link: string | null;
}

/** How long a signed task link works from the moment it is handed out. */
export const LINK_TTL_MS = 7 * 24 * 3600_000;

export class ManualTaskService {
  readonly #linkKey: Buffer;
  #onConfirm: ((task: ManualTask) => Promise<void>) | null = null;

  constructor(
    box: SecretBox,
    private readonly clock: Clock,
    private readonly publicBaseUrl: string,
  ) {
    this.#linkKey = box.derive('manual-task-link');
  }

  /** The engine registers what to do when an officer confirms (e.g. mark the delivery confirmed). */
  onConfirm(listener: (task: ManualTask) => Promise<void>): void {
    this.#onConfirm = listener;
  }

  /** The expiry (unix seconds) is inside the signature: changing it breaks the link. */
  signature(taskId: string, expires: number): string {
    return createHmac('sha256', this.#linkKey).update(`${taskId}.${expires}`).digest('base64url');
  }

  /** `exp=…&sig=…` for a link handed out now. */
  signedQuery(taskId: string): string {
    const expires = Math.floor((this.clock.now().getTime() + LINK_TTL_MS) / 1000);
    return `exp=${expires}&sig=${this.signature(taskId, expires)}`;
  }

  linkFor(taskId: string): string {
    return `${this.publicBaseUrl}/task/${taskId}?${this.signedQuery(taskId)}`;
  }

  private toTask(doc: ManualTaskDoc, withLink = true): ManualTask {
    const id = String(doc._id);
    return {
      id,
      reference: doc.taskKey,
      groupId: doc.groupId,
      groupName: doc.groupName,
      officer: doc.officerName ? { name: doc.officerName, phone: doc.officerPhone ?? null } : null,
      title: doc.title,
      text: doc.text ?? null,
      url: doc.url ?? null,
      hasImage: Boolean(doc.imageSha256),
      createdAt: doc.createdAt,
      confirmedAt: doc.confirmedAt ?? null,
      regionPath: doc.regionPath ?? [],
      link: withLink ? this.linkFor(id) : null,
    };
  }

  /**
   * Creates the task once per reference; a repeat returns the existing one. Inserted first,
   * the unique taskKey deciding: a lookup first would be a scan of every task on FerretDB.
   */
  async createTask(target: ChannelTarget, message: ChannelMessage, reference?: string): Promise<ManualTask> {
    const taskKey = reference ?? randomUUID();
    let imageSha256: string | null = null;
    if (message.type === 'image') {
      imageSha256 = createHash('sha256').update(message.image.data).digest('hex');
      // Stored once per content: an insert that meets the same key finds it already done.
      await ManualImageModel.create({ _id: imageSha256, mime: message.image.mime, data: message.image.data }).catch(
        (error) => {
          if (!isDuplicateKey(error)) throw error;
        },
      );
    }
    const fields =
      message.type === 'text'
        ? { title: message.card.title, text: message.card.content, url: message.card.url }
        : { title: message.image.title ?? '图片', text: null, url: message.image.url ?? null };
    try {
      const doc = await ManualTaskModel.create({
        taskKey,
        groupId: target.groupId,
        groupName: target.groupName,
        regionPath: target.regionPath,
        officerName: target.officer?.name ?? null,
        officerPhone: target.officer?.phone ?? null,
        ...fields,
        imageSha256,
        createdAt: this.clock.now(),
      });
      return this.toTask(doc.toObject() as ManualTaskDoc);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      return this.toTask((await ManualTaskModel.findOne({ taskKey }).lean<ManualTaskDoc>())!);
    }
  }

  private async verified(taskId: string, link: SignedLink): Promise<ManualTaskDoc> {
    const expected = Buffer.from(this.signature(taskId, link.exp));
    const given = Buffer.from(link.sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new Forbidden('链接签名无效，请使用任务通知中的完整链接');
    }
    if (link.exp * 1000 <= this.clock.now().getTime()) {
      throw new Forbidden('链接已过期，请在转发任务列表中重新打开该任务');
    }
    const doc = mongoose.isValidObjectId(taskId) ? await ManualTaskModel.findById(taskId).lean<ManualTaskDoc>() : null;
    if (!doc) throw new NotFound(`转发任务 ${taskId}`);
    return doc;
  }

  async view(taskId: string, link: SignedLink): Promise<ManualTask> {
    return this.toTask(await this.verified(taskId, link));
  }

  async image(taskId: string, link: SignedLink): Promise<{ mime: string; data: Buffer }> {
    const doc = await this.verified(taskId, link);
    const image = doc.imageSha256 ? await ManualImageModel.findById(doc.imageSha256).lean() : null;
    if (!image) throw new NotFound('该任务的图片');
    return { mime: image.mime, data: Buffer.from(image.data.buffer ?? image.data) };
  }

  /** Confirms once: the first confirmation claims the task (unique insert); later ones change nothing. */
  async confirm(requestedId: string, link: SignedLink): Promise<{ task: ManualTask; firstTime: boolean }> {
    const taskId = String((await this.verified(requestedId, link))._id); // the claim's key: the stored spelling
    let claimedAt = this.clock.now();
    let firstTime = true;
    try {
      await ManualConfirmationModel.create({ _id: taskId, at: claimedAt });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      firstTime = false;
      claimedAt = (await ManualConfirmationModel.findById(taskId).lean<{ at: Date }>())?.at ?? claimedAt;
    }
    // Also completes a confirmation whose process stopped between the claim and these writes.
    await ManualTaskModel.updateOne({ _id: taskId, confirmedAt: null }, { $set: { confirmedAt: claimedAt } });
    const reference = await ManualTaskModel.findById(taskId, { taskKey: 1, regionPath: 1 }).lean<{
      taskKey: string;
      regionPath: string[];
    }>();
    if (reference) await recordByReference(reference.taskKey, claimedAt, reference.regionPath ?? []);
    const task = this.toTask((await ManualTaskModel.findById(taskId).lean<ManualTaskDoc>())!);
    // A listener that fails here is covered by the engine's sweep (confirmed tasks of awaiting deliveries).
    if (firstTime) await this.#onConfirm?.(task);
    return { task, firstTime };
  }

  /** Which of these references (delivery ids) an officer has confirmed, and when. */
  async confirmedReferences(references: string[]): Promise<Map<string, Date>> {
    // One _id lookup each (a filter on taskKey reads every task on FerretDB), 8 at a time.
    const found = await mapLimit(references, 8, (reference) =>
      ManualConfirmationModel.findById(referenceKey(reference)).lean<{ at: Date }>(),
    );
    return new Map(references.flatMap((reference, i) => (found[i] ? [[reference, found[i]!.at] as const] : [])));
  }

  /**
   * Confirmations filed since the instant, by reference: what the engine's sweep looks at to
   * catch a wake that failed (a scan of the small confirmations collection, not of tasks).
   */
  async confirmedSince(since: Date): Promise<{ reference: string; regionPath: string[] }[]> {
    const docs = await ManualConfirmationModel.find(
      { reference: { $ne: null }, at: { $gte: since } },
      { reference: 1, regionPath: 1 },
    ).lean<{ reference: string; regionPath?: string[] }[]>();
    return docs.map((doc) => ({ reference: doc.reference, regionPath: doc.regionPath ?? [] }));
  }

  /** Unconfirmed tasks created since the instant: what the officer notifier still chases. */
  async openTasksSince(since: Date): Promise<ManualTask[]> {
    const docs = await ManualTaskModel.find({ confirmedAt: null, createdAt: { $gte: since } }).lean<ManualTaskDoc[]>();
    return docs.map((doc) => this.toTask(doc));
  }

  /** Tasks inside a scope (officers see theirs), open ones first; signed links only when `withLinks`. */
  async list(
    scope: Scope,
    options: { open?: boolean; limit: number; withLinks: boolean; officerPhone?: string },
  ): Promise<ManualTask[]> {
    const filter: Record<string, unknown> = { ...scope.filter() };
    if (options.officerPhone !== undefined) filter.officerPhone = options.officerPhone;
    if (options.open !== undefined) filter.confirmedAt = options.open ? null : { $ne: null };
    const docs = await ManualTaskModel.find(filter)
      .sort({ createdAt: -1 })
      .limit(options.limit)
      .lean<ManualTaskDoc[]>();
    return docs.map((doc) => this.toTask(doc, options.withLinks));
  }
}

/** What a tracked platform task reports for one delivery (WeCom customer groups). */
export type SettlementStatus = 'sent' | 'failed' | 'skipped' | 'uncertain';

/** A delivery's settlement as the engine reads it: null status = an officer's confirmation. */
export interface Settlement {
  at: Date;
  status: SettlementStatus | null;
  reason: string | null;
}

/**
 * Files a platform's result for a delivery in the same store as officers' confirmations
 * (`reference:<delivery id>`), so the engine's lookup, sweep and wake carry both. Once per
 * delivery: a repeat finds it filed.
 */
export async function fileSettlement(
  reference: string,
  at: Date,
  regionPath: string[],
  status: SettlementStatus,
  reason: string | null,
): Promise<void> {
  await ManualConfirmationModel.create({ _id: referenceKey(reference), at, reference, regionPath, outcome: status, reason }).catch(
    (error) => {
      if (!isDuplicateKey(error)) throw error;
    },
  );
}

/** Settlements (confirmations and platform results) of these references, one _id lookup each. */
export async function settledReferences(references: string[]): Promise<Map<string, Settlement>> {
  const found = await mapLimit(references, 8, (reference) =>
    ManualConfirmationModel.findById(referenceKey(reference)).lean<{
      at: Date;
      outcome?: string | null;
      reason?: string | null;
    }>(),
  );
  return new Map(
    references.flatMap((reference, i) => {
      const doc = found[i];
      return doc
        ? [[reference, { at: doc.at, status: (doc.outcome ?? null) as SettlementStatus | null, reason: doc.reason ?? null }] as const]
        : [];
    }),
  );
}

/** The confirmation filed under the task's reference (the engine's delivery id), found by _id. */
function referenceKey(reference: string): string {
  return `reference:${reference}`;
}

async function recordByReference(reference: string, at: Date, regionPath: string[]): Promise<void> {
  await ManualConfirmationModel.create({ _id: referenceKey(reference), at, reference, regionPath }).catch((error) => {
    if (!isDuplicateKey(error)) throw error;
  });
}

// Manual channel: for personal WeChat groups with no API, the responsible officer gets a
// task with the ready-to-forward text and picture and confirms "posted" through a signed
// link (HMAC of the task id, the link's expiry and the task's link generation, with a key
// derived from the credentials key), so no login is needed on the officer's phone and nobody
// can confirm a task they were not sent. Links are handed out to officers and admins only
// (the public view never returns one), stop working after LINK_TTL_MS, and stop granting
// access when the task is confirmed, withdrawn or its links revoked (the generation moves on).
//
// A task follows its campaign and notice: every read (link, picture, lists, the notifier)
// asks the live state (`TaskStates`), so a retraction, cancel, case outcome or withdrawn
// notice takes effect at once: the link and picture answer 410, the task leaves the open
// list. `withdrawCampaignTasks` records the same durably (and rotates the links); it is
// idempotent, run by the notifier's sweep and callable as a step of any stop.
//
// A new task's writes, in order: its entries on the history lists and on its campaign's list
// (history.ts), the task, its watch entry (watch.ts). A kill after the lists leaves an entry
// naming no task (skipped by every reader); a kill after the insert leaves an open task that is
// not watched but is on its campaign's list, so a stop, which finds the campaign's tasks there
// by `_id`, still withdraws it; a retried send finds the task by its key and watches it.
// Making tasks needs no rankings marker: the history's made list (written before the insert,
// with the other lists) is what the rankings' fold reads (tracking/rank-tally.ts); confirming
// and withdrawing insert one marker before the update, naming it (rank-marks.ts: kept until the
// fold reads the tasks confirmed, or confirmed or withdrawn), so the rankings' tallies look at
// them again.
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import mongoose from 'mongoose';
import { backfillOnce } from '../../db/backfills.js';
import { MAX_UPDATES_PER_COMMAND } from '../../db/bulk.js';
import type { SecretBox } from '../../lib/cipher.js';
import type { Clock } from '../../lib/clock.js';
import { mapLimit } from '../../lib/concurrency.js';
import { Forbidden, Gone, InvalidInput, isDuplicateKey, NotFound } from '../../lib/errors.js';
import type { Scope } from '../../regions/scope.js';
import type { ChannelMessage, ChannelTarget } from '../types.js';
import { campaignTasks, type Entry, historyEntries, readInOrder, recordTasks, scopeKey } from './history.js';
import {
  ConfirmationWatchModel,
  ManualConfirmationModel,
  ManualImageModel,
  type ManualTaskDoc,
  ManualTaskModel,
} from './model.js';
import { OpenTaskRows } from './open-task-rows.js';
import { rankingsChanged } from './rank-marks.js';
import { lowerDue, markCampaignWithdrawn, setDue, unwatch, watchTasks } from './watch.js';

/**
 * A confirmation not finished this long after its claim is finished by the notifier's next
 * pass (every 15 s). Short: finishing is idempotent, so a repair beside a confirmation still
 * running does no harm, and the officer's delivery should not stay 待民警转发 for minutes
 * after a crash (2 minutes here left api-intents' killed confirmations awaiting past its wait).
 */
const CONFIRM_LEASE_MS = 20_000;

/** What a signed link carries besides the task id. */
export interface SignedLink {
  exp: number;
  sig: string;
}

/** Why a task was withdrawn. */
export type WithdrawReason = 'retracted' | 'cancelled' | 'case_closed' | 'archived';

/** Where a task's campaign and notice stand, read live. */
export type TaskLiveness =
  | { state: 'live' }
  | { state: 'paused' }
  | { state: 'withdrawn'; reason: WithdrawReason; followUpCampaignId: string | null };

/** Each campaign's liveness (absent: live). Read on every task read, never cached long. */
export type TaskStates = (campaignIds: string[]) => Promise<Map<string, TaskLiveness>>;

/** open: to forward; paused: its campaign is paused (not chased); withdrawn: never forward. */
export type TaskState = 'open' | 'paused' | 'confirmed' | 'withdrawn';

const WITHDRAWN_MESSAGES: Record<WithdrawReason, string> = {
  retracted: '该转发任务已撤回，请勿转发。如已转发，请在群内转发更正通知。',
  cancelled: '该转发任务已撤回（推送已取消），请勿转发。',
  case_closed: '该转发任务已撤回（案件已结案，原协查通告不再公开），请勿转发。',
  archived: '该转发任务已撤回（通告已撤下），请勿转发。',
};

/** What a retired link generation answers. */
const RETIRED_MESSAGES: Record<string, string> = {
  confirmed: '该任务已确认转发，此链接已失效。',
  revoked: '此链接已被管理员收回，请在转发任务列表中重新打开该任务。',
};

/** A link retired by its own task's confirmation: it answers when, not a warning. */
class LinkRetiredByConfirmation extends Gone {
  constructor(at: Date | null) {
    super(confirmedMessage(at));
  }
}

/** When a task was confirmed, in Beijing time. */
function confirmedMessage(at: Date | null): string {
  if (!at) return RETIRED_MESSAGES.confirmed!;
  const when = new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai',
    month: 'long',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  }).format(at);
  return `已于 ${when} 确认转发`;
}

/** `<campaignId>@<runAt>/<groupId>` (the engine's delivery id) → the campaign id; null for other references. */
export function campaignOfReference(reference: string): string | null {
  const at = reference.indexOf('@');
  const cut = reference.lastIndexOf('/');
  return at > 0 && cut > at ? reference.slice(0, at) : null;
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
  state: TaskState;
  /** Why the task was withdrawn (null unless withdrawn). */
  withdrawnReason: WithdrawReason | null;
  /** The group's village path, root first (the engine finds the delivery's batch by it). */
  regionPath: string[];
  /** The signed link the officer opens to see and confirm the task (null: not for this caller). */
  link: string | null;
}

/** How long a signed task link works from the moment it is handed out. */
export const LINK_TTL_MS = 7 * 24 * 3600_000;

/** What a new task copies from its delivery: the group, the officer and the card to forward. */
function taskFields(target: ChannelTarget, message: ChannelMessage, imageSha256: string | null) {
  const card =
    message.type === 'text'
      ? { title: message.card.title, text: message.card.content, url: message.card.url }
      : { title: message.image.title ?? '图片', text: null, url: message.image.url ?? null };
  return {
    groupId: target.groupId,
    groupName: target.groupName,
    regionPath: target.regionPath,
    officerName: target.officer?.name ?? null,
    officerPhone: target.officer?.phone ?? null,
    ...card,
    imageSha256,
  };
}

export class ManualTaskService {
  readonly #linkKey: Buffer;
  /** Pictures this process has stored (ManualImage, by content): not sent to the database again. */
  readonly #storedImages = new Set<string>();
  #onConfirm: ((task: ManualTask) => Promise<void>) | null = null;
  /** The open tasks per county, kept under the counts' token (the open list reads them). */
  private readonly openRows = new OpenTaskRows();

  constructor(
    box: SecretBox,
    private readonly clock: Clock,
    private readonly publicBaseUrl: string,
    /** The live state of campaigns (wired by the composition root); none: every task is live. */
    private readonly states: TaskStates = async () => new Map(),
    /** trace: writes `intent-step confirm <task> <step>` before each step of a confirmation (config.intentTrace). */
    private readonly options: { trace?: boolean } = {},
  ) {
    this.#linkKey = box.derive('manual-task-link');
  }

  /** The engine registers what to do when an officer confirms (e.g. mark the delivery confirmed). */
  onConfirm(listener: (task: ManualTask) => Promise<void>): void {
    this.#onConfirm = listener;
  }

  /** The expiry (unix seconds) and the task's link generation are inside the signature. */
  signature(taskId: string, expires: number, generation = 0): string {
    const signed = generation === 0 ? `${taskId}.${expires}` : `${taskId}.${expires}.${generation}`;
    return createHmac('sha256', this.#linkKey).update(signed).digest('base64url');
  }

  /** `exp=…&sig=…` for a link handed out now (of the task's current link generation). */
  signedQuery(taskId: string, generation = 0): string {
    const expires = Math.floor((this.clock.now().getTime() + LINK_TTL_MS) / 1000);
    return `exp=${expires}&sig=${this.signature(taskId, expires, generation)}`;
  }

  linkFor(taskId: string, generation = 0): string {
    return `${this.publicBaseUrl}/task/${taskId}?${this.signedQuery(taskId, generation)}`;
  }

  /** The live state of each task's campaign. */
  private async livenessOf(docs: ManualTaskDoc[], states: TaskStates = this.states): Promise<Map<string, TaskLiveness>> {
    const ids = [...new Set(docs.flatMap((doc) => campaignOfReference(doc.taskKey) ?? []))];
    return ids.length === 0 ? new Map() : states(ids);
  }

  private stateOf(doc: ManualTaskDoc, live: Map<string, TaskLiveness>): Pick<ManualTask, 'state' | 'withdrawnReason'> {
    if (doc.confirmedAt) return { state: 'confirmed', withdrawnReason: null };
    if (doc.withdrawnAt) return { state: 'withdrawn', withdrawnReason: doc.withdrawnReason as WithdrawReason };
    const campaignId = campaignOfReference(doc.taskKey);
    const liveness = campaignId ? live.get(campaignId) : undefined;
    if (liveness?.state === 'withdrawn') return { state: 'withdrawn', withdrawnReason: liveness.reason };
    return { state: liveness?.state === 'paused' ? 'paused' : 'open', withdrawnReason: null };
  }

  private toTask(doc: ManualTaskDoc, live: Map<string, TaskLiveness>, withLink = true): ManualTask {
    const id = String(doc._id);
    const state = this.stateOf(doc, live);
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
      ...state,
      regionPath: doc.regionPath ?? [],
      // A withdrawn task is never handed out again.
      link: withLink && state.state !== 'withdrawn' ? this.linkFor(id, doc.linkGeneration ?? 0) : null,
    };
  }

  private async toTasks(docs: ManualTaskDoc[], withLinks = true): Promise<ManualTask[]> {
    const live = await this.livenessOf(docs);
    return docs.map((doc) => this.toTask(doc, live, withLinks));
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
    try {
      const fields = taskFields(target, message, imageSha256);
      const _id = new mongoose.Types.ObjectId();
      const createdAt = this.clock.now();
      // On the history lists first (history.ts): no task exists without its entry; the made
      // list's record there is what the rankings' fold reads (no marker of its own).
      await recordTasks(
        [{ id: String(_id), createdAt, officerPhone: fields.officerPhone, regionPath: fields.regionPath, taskKey }],
        createdAt,
      );
      const doc = await ManualTaskModel.create({ _id, taskKey, ...fields, createdAt });
      const task = doc.toObject() as ManualTaskDoc;
      await this.watch(task);
      return this.toTask(task, new Map());
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const task = (await ManualTaskModel.findOne({ taskKey }).lean<ManualTaskDoc>())!;
      // A retry or a take-over: the task is on the watch list while it is open (idempotent).
      if (!task.confirmedAt && !task.withdrawnAt) await this.watch(task);
      return this.toTask(task, new Map());
    }
  }

  /**
   * Creates the tasks of many deliveries (one wave of the worker) in one insert and puts them
   * on the watch list in one write, instead of an insert, an upsert and a marker write per
   * task. Same contract as `createTask` for each: one task per reference, a repeat (a retried
   * wave, a take-over) finds the existing one and watches it if still open. Returns the
   * references whose task exists now; one whose insert failed otherwise is left out (the
   * caller creates it on its own).
   */
  async createTasks(
    list: { target: ChannelTarget; message: ChannelMessage; reference: string }[],
  ): Promise<Set<string>> {
    if (list.length === 0) return new Set();
    const now = this.clock.now();
    const images = new Map<string, { mime: string; data: Buffer }>();
    const docs = list.map(({ target, message, reference }) => {
      let imageSha256: string | null = null;
      if (message.type === 'image') {
        imageSha256 = createHash('sha256').update(message.image.data).digest('hex');
        images.set(imageSha256, { mime: message.image.mime, data: message.image.data });
      }
      // Every field the schema gives a new task (its defaults included): written by the driver.
      return {
        _id: new mongoose.Types.ObjectId(),
        taskKey: reference,
        ...taskFields(target, message, imageSha256),
        createdAt: now,
        confirmedAt: null,
        linkGeneration: 0,
        rotations: [],
        withdrawnAt: null,
        withdrawnReason: null,
        withdrawalAnnounced: false,
        toldAt: null,
      } satisfies ManualTaskDoc;
    });
    // A picture is stored once per content: pictures this process stored are not sent again.
    const unstored = [...images].filter(([sha]) => !this.#storedImages.has(sha));
    if (unstored.length > 0) {
      await ManualImageModel.collection
        .insertMany(
          unstored.map(([sha, image]) => ({ _id: sha as never, mime: image.mime, data: image.data })),
          { ordered: false },
        )
        .catch((error: unknown) => {
          if (!allDuplicates(error)) throw error;
        });
      for (const [sha] of unstored) this.#storedImages.add(sha);
    }
    // On the history lists first (history.ts): no task exists without its entry; the made
    // list's record in the same insert is what the rankings' fold reads (no marker of its own).
    await recordTasks(
      docs.map((doc) => ({
        id: String(doc._id),
        createdAt: doc.createdAt,
        officerPhone: doc.officerPhone,
        regionPath: doc.regionPath,
        taskKey: doc.taskKey,
      })),
      now,
    );
    const failed = new Set<number>();
    const repeated: number[] = [];
    await ManualTaskModel.collection.insertMany(docs, { ordered: false }).catch((error: unknown) => {
      const writeErrors = writeErrorsOf(error);
      if (!writeErrors) throw error;
      for (const { index, code } of writeErrors) {
        if (code === 11000) repeated.push(index);
        else failed.add(index);
      }
    });
    const tasks: ManualTaskDoc[] = docs.filter((_, i) => !failed.has(i) && !repeated.includes(i));
    // A retry or a take-over: the existing task (by its unique key; rare), watched while open.
    for (const i of repeated) {
      const task = await ManualTaskModel.findOne({ taskKey: docs[i]!.taskKey }).lean<ManualTaskDoc>();
      if (!task) failed.add(i);
      else if (!task.confirmedAt && !task.withdrawnAt) tasks.push(task);
    }
    // A wave's count log is written with the process's next flush (open-counts.ts): the worker
    // makes these waves one after another, and one log record serves a second of them.
    await watchTasks(
      tasks.map((doc) => this.watchFields(doc)),
      { deferLog: true },
    );
    return new Set(docs.filter((_, i) => !failed.has(i)).map((doc) => doc.taskKey));
  }

  /** Puts a task on the open-task watch list (watch.ts). */
  private watch(doc: ManualTaskDoc): Promise<void> {
    return watchTasks([this.watchFields(doc)]);
  }

  private watchFields(doc: ManualTaskDoc) {
    return {
      id: String(doc._id),
      kind: 'manual' as const,
      reference: doc.taskKey,
      regionPath: doc.regionPath,
      officerName: doc.officerName ?? null,
      officerPhone: doc.officerPhone ?? null,
      createdAt: doc.createdAt,
    };
  }

  /**
   * The task a link names, if the link is good: signed for the task's current link generation
   * and not expired. A link of a retired generation answers why (410 confirmed, 403 revoked),
   * except that `confirm` accepts one retired by the confirmation itself (a repeated tap).
   * A withdrawn task answers 410 whatever generation the link has.
   */
  private async verified(
    taskId: string,
    link: SignedLink,
    allowRetiredBy: 'confirmed' | null = null,
  ): Promise<{ doc: ManualTaskDoc; live: Map<string, TaskLiveness> }> {
    const doc = mongoose.isValidObjectId(taskId) ? await ManualTaskModel.findById(taskId).lean<ManualTaskDoc>() : null;
    const generation = doc?.linkGeneration ?? 0;
    const matches = (g: number) => {
      const expected = Buffer.from(this.signature(taskId, link.exp, g));
      const given = Buffer.from(link.sig);
      return expected.length === given.length && timingSafeEqual(expected, given);
    };
    let retiredBy: string | null = null;
    if (!matches(generation)) {
      // An older generation: say why it stopped working (bounded: a task is rotated a few times).
      const rotations = doc?.rotations ?? [];
      const older = rotations.findIndex((_, g) => g < generation && matches(g));
      if (older < 0) throw new Forbidden('链接签名无效，请使用任务通知中的完整链接');
      retiredBy = rotations[older] ?? 'revoked';
    }
    if (link.exp * 1000 <= this.clock.now().getTime()) {
      throw new Forbidden('链接已过期，请在转发任务列表中重新打开该任务');
    }
    if (!doc) throw new NotFound(`转发任务 ${taskId}`);
    const live = await this.livenessOf([doc]);
    const state = this.stateOf(doc, live);
    if (state.state === 'withdrawn') throw new Gone(WITHDRAWN_MESSAGES[state.withdrawnReason ?? 'retracted']);
    if (retiredBy === 'withdrawn') throw new Gone(WITHDRAWN_MESSAGES.retracted);
    if (retiredBy && retiredBy !== allowRetiredBy) {
      if (retiredBy === 'confirmed') throw new LinkRetiredByConfirmation(doc.confirmedAt ?? null);
      throw new Forbidden(RETIRED_MESSAGES.revoked!);
    }
    return { doc, live };
  }

  /** The public view: the task without any link (a view never hands out a fresh one). */
  async view(taskId: string, link: SignedLink): Promise<ManualTask> {
    const { doc, live } = await this.verified(taskId, link);
    return this.toTask(doc, live, false);
  }

  /** What the phone page's link answers before the page loads: null when good, else the status and why. */
  async linkProblem(
    taskId: string,
    link: SignedLink,
  ): Promise<{ status: number; message: string; confirmed: boolean } | null> {
    try {
      await this.verified(taskId, link);
      return null;
    } catch (error) {
      if (error instanceof Gone) {
        return { status: 410, message: error.message, confirmed: error instanceof LinkRetiredByConfirmation };
      }
      return null; // the page itself explains a bad or expired link
    }
  }

  async image(taskId: string, link: SignedLink): Promise<{ mime: string; data: Buffer }> {
    const { doc } = await this.verified(taskId, link);
    const image = doc.imageSha256 ? await ManualImageModel.findById(doc.imageSha256).lean() : null;
    if (!image) throw new NotFound('该任务的图片');
    return { mime: image.mime, data: Buffer.from(image.data.buffer ?? image.data) };
  }

  /** Confirms once: the first confirmation claims the task (unique insert); later ones change nothing. */
  async confirm(requestedId: string, link: SignedLink): Promise<{ task: ManualTask; firstTime: boolean }> {
    const taskId = String((await this.verified(requestedId, link, 'confirmed')).doc._id); // the claim's key: the stored spelling
    let claimedAt = this.clock.now();
    let firstTime = true;
    const step = (name: string) => {
      if (this.options.trace) process.stderr.write(`intent-step confirm ${taskId} ${name}\n`);
    };
    // Should this process stop part-way, the notifier looks at the task a lease later and
    // finishes the confirmation (repairConfirmations).
    await setDue([{ id: taskId, dueAt: new Date(claimedAt.getTime() + CONFIRM_LEASE_MS) }]);
    await lowerDue(new Date(claimedAt.getTime() + CONFIRM_LEASE_MS));
    try {
      step('claim');
      await ManualConfirmationModel.create({ _id: taskId, at: claimedAt });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      firstTime = false;
      claimedAt = (await ManualConfirmationModel.findById(taskId).lean<{ at: Date }>())?.at ?? claimedAt;
    }
    await this.completeConfirmation(taskId, claimedAt, step);
    const task = (await this.toTasks([(await ManualTaskModel.findById(taskId).lean<ManualTaskDoc>())!], false))[0]!;
    // A listener that fails here is covered by the engine's sweep (confirmed tasks of awaiting deliveries).
    step('wake');
    if (firstTime) await this.#onConfirm?.(task);
    return { task, firstTime };
  }

  /**
   * The writes after a confirmation's claim, each safe to repeat: the task's confirmedAt (and
   * its links retired: a leaked link cannot be used once the officer has posted), then the
   * copy under the reference the engine reads. Run by `confirm` and by `repairConfirmations`.
   */
  private async completeConfirmation(
    taskId: string,
    claimedAt: Date,
    step: (name: string) => void = () => undefined,
  ): Promise<void> {
    const doc = await ManualTaskModel.findById(taskId, { taskKey: 1, regionPath: 1, confirmedAt: 1 }).lean<{
      taskKey: string;
      regionPath: string[];
      confirmedAt: Date | null;
    }>();
    if (!doc) return;
    step('mark-task');
    if (!doc.confirmedAt) {
      // The rankings' marker before the update, kept until the task is seen confirmed
      // (rank-marks.ts); a repair writes it again.
      await rankingsChanged([taskId], this.clock.now(), 'confirm');
      await ManualTaskModel.updateOne(
        { _id: taskId, confirmedAt: null },
        { $set: { confirmedAt: claimedAt }, $inc: { linkGeneration: 1 }, $push: { rotations: 'confirmed' } },
      );
    }
    step('copy');
    await recordByReference(doc.taskKey, claimedAt, doc.regionPath ?? []);
    step('unwatch');
    await unwatch([taskId]);
  }

  /**
   * Finishes confirmations whose process stopped after the claim (task not marked, or the
   * engine's copy missing, so its delivery stayed `awaiting`): for each of these tasks (the
   * notifier's due watch entries; a confirmation makes its entry due a lease later, and
   * completing it removes the entry) with a claim, completed again (idempotent). The engine's
   * confirmation sweep then wakes the batch. Returns how many were repaired.
   */
  async repairConfirmations(taskIds: string[]): Promise<number> {
    const valid = taskIds.filter((id) => mongoose.isValidObjectId(id));
    const claims = (
      await mapLimit(valid, 8, (id) => ManualConfirmationModel.findById(id).lean<{ _id: string; at: Date }>())
    ).filter((claim): claim is { _id: string; at: Date } => claim !== null);
    let repaired = 0;
    for (const claim of claims) {
      const task = await ManualTaskModel.findById(claim._id, { taskKey: 1, confirmedAt: 1 }).lean<{
        taskKey: string;
        confirmedAt: Date | null;
      }>();
      if (!task) continue;
      const copied = await ManualConfirmationModel.exists({ _id: referenceKey(task.taskKey) });
      await this.completeConfirmation(claim._id, claim.at);
      if (task.confirmedAt && copied) continue;
      if (!copied) {
        // Filed now, so the engine's sweep of recent confirmations sees it.
        const now = this.clock.now();
        await ManualConfirmationModel.updateOne({ _id: referenceKey(task.taskKey) }, { $set: { at: now } });
        await watchConfirmation(task.taskKey, now, null);
      }
      repaired++;
    }
    return repaired;
  }

  /**
   * Withdraws a campaign's open tasks for good (idempotent): marks them withdrawn with the
   * reason and retires their links. The read paths already answer 410 from the live state;
   * this makes it durable. Returns the tasks withdrawn now. The campaign's tasks come from its
   * task list (history.ts, written before each task is inserted, so a task whose process died
   * before its watch entry is on it too), each updated by `_id`: bounded by the campaign's own
   * tasks, not the collection (a `taskKey` filter read every task ever made on FerretDB).
   */
  async withdrawCampaignTasks(campaignId: string, reason: WithdrawReason): Promise<number> {
    const now = this.clock.now();
    const ids = (await campaignTasks(campaignId)).map((entry) => entry[0]);
    const withdrawn = await this.markWithdrawn(ids, reason, now);
    await markCampaignWithdrawn(campaignId, now);
    return withdrawn;
  }

  /** Marks these tasks withdrawn unless confirmed or withdrawn already: one update by `_id` each, 20 a command. */
  private async markWithdrawn(ids: string[], reason: WithdrawReason, now: Date): Promise<number> {
    let modified = 0;
    const valid = ids.filter((id) => mongoose.isValidObjectId(id));
    // The rankings' marker before the updates, kept until each task is seen confirmed or
    // withdrawn (rank-marks.ts); the intent that withdraws runs again until done.
    await rankingsChanged(valid, now, 'withdraw');
    for (let i = 0; i < valid.length; i += MAX_UPDATES_PER_COMMAND) {
      const result = await ManualTaskModel.bulkWrite(
        valid.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({
          updateOne: {
            filter: { _id: id, confirmedAt: null, withdrawnAt: null },
            update: {
              $set: { withdrawnAt: now, withdrawnReason: reason },
              $inc: { linkGeneration: 1 },
              $push: { rotations: 'withdrawn' },
            },
          },
        })),
        { ordered: false },
      );
      modified += result.modifiedCount;
    }
    return modified;
  }

  /**
   * The notifier's last step for stopped tasks (after telling their officer): withdrawn for
   * good if not yet, and marked as announced so the notifier stops looking at them. By `_id`
   * (an `$in` on `_id` reads every task on FerretDB).
   */
  async withdrawTasks(taskIds: string[], reason: WithdrawReason): Promise<number> {
    if (taskIds.length === 0) return 0;
    const withdrawn = await this.markWithdrawn(taskIds, reason, this.clock.now());
    const valid = taskIds.filter((id) => mongoose.isValidObjectId(id));
    for (let i = 0; i < valid.length; i += MAX_UPDATES_PER_COMMAND) {
      await ManualTaskModel.bulkWrite(
        valid.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({
          updateOne: { filter: { _id: id }, update: { $set: { withdrawalAnnounced: true } } },
        })),
        { ordered: false },
      );
    }
    await unwatch(taskIds);
    return withdrawn;
  }

  /** An admin revokes every link of a task handed out so far (a new one comes from the task list). */
  async revokeLinks(scope: Scope, taskId: string): Promise<ManualTask> {
    const doc = mongoose.isValidObjectId(taskId)
      ? await ManualTaskModel.findOne({ _id: taskId, ...scope.filter() }).lean<ManualTaskDoc>()
      : null;
    if (!doc) throw new NotFound(`转发任务 ${taskId}`);
    await ManualTaskModel.updateOne({ _id: taskId }, { $inc: { linkGeneration: 1 }, $push: { rotations: 'revoked' } });
    return (await this.toTasks([(await ManualTaskModel.findById(taskId).lean<ManualTaskDoc>())!], false))[0]!;
  }

  /**
   * Marks tasks as listed in a digest (the next set of the run gets its own): one update by
   * `_id` each, 20 a command (an `$in` on `_id` reads every task ever made on FerretDB 1.24).
   */
  async markTold(taskIds: string[]): Promise<void> {
    const valid = taskIds.filter((id) => mongoose.isValidObjectId(id));
    const now = this.clock.now();
    for (let i = 0; i < valid.length; i += MAX_UPDATES_PER_COMMAND) {
      await ManualTaskModel.bulkWrite(
        valid.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({
          updateOne: { filter: { _id: id, toldAt: null }, update: { $set: { toldAt: now } } },
        })),
        { ordered: false },
      );
    }
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
   * catch a wake that failed. Read from the watch list (model.ts), which holds only the last
   * WATCH_KEEP_MS of filings: entries older than that are dropped here (every sweep of every
   * scheduler has looked at them by then). When nothing was filed lately it reads nothing.
   */
  async confirmedSince(since: Date): Promise<{ reference: string; regionPath: string[] }[]> {
    const docs = await ConfirmationWatchModel.find({}).lean<
      { _id: string; at: Date; reference: string; regionPath?: string[] }[]
    >();
    const cutoff = this.clock.now().getTime() - WATCH_KEEP_MS;
    for (const doc of docs) if (doc.at.getTime() < cutoff) await ConfirmationWatchModel.deleteOne({ _id: doc._id });
    return docs
      .filter((doc) => doc.at >= since)
      .map((doc) => ({ reference: doc.reference, regionPath: doc.regionPath ?? [] }));
  }

  /**
   * For an install written before the watch list existed (once, at start): the copies filed
   * in the last day go on the watch list, so the first sweeps see what they saw before.
   */
  async backfillConfirmationWatch(): Promise<void> {
    await backfillOnce('confirmation-watch', async () => {
      const since = new Date(this.clock.now().getTime() - 24 * 60 * 60_000);
      const docs = await ManualConfirmationModel.find(
        { reference: { $ne: null }, at: { $gte: since } },
        { at: 1, reference: 1, regionPath: 1 },
      ).lean<{ at: Date; reference: string; regionPath?: string[] }[]>();
      for (const doc of docs) await watchConfirmation(doc.reference, doc.at, doc.regionPath ?? []);
    });
  }

  /**
   * These tasks (by `_id`, from the watch list), with their live state: what the officer
   * notifier chases (open), holds (paused) or announces as withdrawn (withdrawn, with a
   * retraction's correction campaign). Confirmed and announced ones are left out.
   */
  async notifierTasks(
    ids: string[],
    states: TaskStates = this.states,
  ): Promise<(ManualTask & { told: boolean; followUpCampaignId: string | null })[]> {
    const found = await mapLimit(
      ids.filter((id) => mongoose.isValidObjectId(id)),
      8,
      (id) => ManualTaskModel.findById(id).lean<ManualTaskDoc>(),
    );
    const docs = found.filter(
      (doc): doc is ManualTaskDoc => doc !== null && !doc.confirmedAt && doc.withdrawalAnnounced !== true,
    );
    const live = await this.livenessOf(docs, states);
    return docs.map((doc) => {
      const campaignId = campaignOfReference(doc.taskKey);
      const liveness = campaignId ? live.get(campaignId) : undefined;
      return {
        ...this.toTask(doc, live),
        told: Boolean(doc.toldAt),
        followUpCampaignId: liveness?.state === 'withdrawn' ? liveness.followUpCampaignId : null,
      };
    });
  }

  /**
   * Tasks inside a scope (officers see theirs), newest first; signed links only when
   * `withLinks`. Open ones from the watch list; the history (all, or `open: false` the
   * confirmed ones) from the task lists (history.ts): a page after the task `before`, read by
   * `_id`, never the whole collection.
   */
  async list(
    scope: Scope,
    options: { open?: boolean; limit: number; withLinks: boolean; officerPhone?: string; before?: string },
  ): Promise<ManualTask[]> {
    if (options.open) return this.listOpen(scope, options);
    let cursor: { createdAt: number; id: string } | null = null;
    if (options.before) {
      const last = await ManualTaskModel.findById(options.before, {
        createdAt: 1,
        regionPath: 1,
      }).lean<ManualTaskDoc>();
      if (!last || !scope.contains(last.regionPath))
        throw new InvalidInput('翻页位置（before）已失效，请从第一页重新查看', 'before');
      cursor = { createdAt: new Date(last.createdAt).getTime(), id: options.before };
    }
    const phone = options.officerPhone;
    const key = phone !== undefined ? `o:${phone}` : scopeKey(scope.regionCode);
    const keep = (entry: Entry) => entry[3].includes(scope.regionCode) && (phone === undefined || entry[2] === phone);
    const accept = (doc: ManualTaskDoc) =>
      scope.contains(doc.regionPath) &&
      (phone === undefined || doc.officerPhone === phone) &&
      (options.open === undefined || Boolean(doc.confirmedAt));
    const docs: ManualTaskDoc[] = [];
    // More entries are read only when some named no task (a failed insert) or were not accepted.
    for (let want = options.limit; ; want *= 2) {
      const entries = await historyEntries(key, want, keep, cursor);
      const page = await readInOrder(
        entries,
        options.limit,
        (id) => ManualTaskModel.findById(id).lean<ManualTaskDoc>().exec(),
        accept,
      );
      if (page.docs.length >= options.limit || entries.length < want) {
        docs.push(...page.docs);
        break;
      }
    }
    return this.toTasks(docs, options.withLinks);
  }

  /**
   * Open tasks from the per-county open-task documents kept in the process
   * (open-task-rows.ts: no read of the watch list), newest first, then a page of
   * tasks by `_id`. Bounded by the page and the counties written since the last call, not by
   * the open tasks.
   */
  private async listOpen(
    scope: Scope,
    options: { limit: number; withLinks: boolean; officerPhone?: string },
  ): Promise<ManualTask[]> {
    const rows = await this.openRows.of(scope, this.clock.now());
    const entries = rows
      .filter((row) => options.officerPhone === undefined || row.officerPhone === options.officerPhone)
      .map((row) => ({ _id: row.id, createdAt: row.createdAt }))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a._id < b._id ? 1 : -1));
    const tasks: ManualTask[] = [];
    // Read a page at a time: a task withdrawn live (not yet on the list) is skipped.
    for (let i = 0; i < entries.length && tasks.length < options.limit; i += options.limit) {
      const found = await mapLimit(entries.slice(i, i + options.limit), 8, (entry) =>
        ManualTaskModel.findById(entry._id).lean<ManualTaskDoc>(),
      );
      const docs = found.filter((doc): doc is ManualTaskDoc => doc !== null && !doc.confirmedAt && !doc.withdrawnAt);
      const page = await this.toTasks(docs, options.withLinks);
      tasks.push(...page.filter((task) => task.state !== 'withdrawn'));
    }
    return tasks.slice(0, options.limit);
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
  await watchConfirmation(reference, at, regionPath);
  await ManualConfirmationModel.create({
    _id: referenceKey(reference),
    at,
    reference,
    regionPath,
    outcome: status,
    reason,
  }).catch((error) => {
    if (!isDuplicateKey(error)) throw error;
  });
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
        ? [
            [
              reference,
              { at: doc.at, status: (doc.outcome ?? null) as SettlementStatus | null, reason: doc.reason ?? null },
            ] as const,
          ]
        : [];
    }),
  );
}

/** The confirmation filed under the task's reference (the engine's delivery id), found by _id. */
function referenceKey(reference: string): string {
  return `reference:${reference}`;
}

/**
 * How long a filing stays on the confirmation sweep's watch list: the sweep runs every minute
 * and looks one period back, so ten minutes leaves room for slow sweeps and late clocks.
 */
export const WATCH_KEEP_MS = 10 * 60_000;

/**
 * Files a confirmation on the sweep's watch list, BEFORE its copy is written: a process that
 * dies in between leaves an entry whose wake finds nothing new (harmless), never a copy the
 * sweep cannot see. `regionPath` null: the entry's path is kept (a re-filing).
 */
async function watchConfirmation(reference: string, at: Date, regionPath: string[] | null): Promise<void> {
  await ConfirmationWatchModel.updateOne(
    { _id: referenceKey(reference) },
    { $set: { at, reference, ...(regionPath ? { regionPath } : {}) } },
    { upsert: true },
  );
}

async function recordByReference(reference: string, at: Date, regionPath: string[]): Promise<void> {
  await watchConfirmation(reference, at, regionPath);
  await ManualConfirmationModel.create({ _id: referenceKey(reference), at, reference, regionPath }).catch((error) => {
    if (!isDuplicateKey(error)) throw error;
  });
}

/** The per-document errors of an unordered insert (index in the batch, code), or null for another error. */
function writeErrorsOf(error: unknown): { index: number; code: number }[] | null {
  const errors = (error as { writeErrors?: unknown } | null)?.writeErrors;
  if (!errors) return null;
  const list = (Array.isArray(errors) ? errors : [errors]) as { index: number; code: number }[];
  return list.map((e) => ({ index: e.index, code: e.code }));
}

function allDuplicates(error: unknown): boolean {
  const errors = writeErrorsOf(error);
  return errors !== null && errors.every((e) => e.code === 11000);
}

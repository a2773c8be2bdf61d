// WeCom customer groups (企业微信客户群): a run's groups become one add_msg_template task per
// owner, which the owner confirms once in WeCom's 群发助手; WeCom then reports, group by group,
// what was sent. Facts: ../shared/reference/wecom-customer-groups.md ("ref §n").
//
//   enqueue   the engine's send of one group: the group joins its owner's task of the run
//             (checked against the county's app, the text limit and the group's receive
//             cap); its delivery is `awaiting`
//   flush     once an owner's groups of a run stopped arriving (SETTLE_MS), their task is
//             created (≤ 2,000 chats; the run's picture uploaded once as media). The task
//             document's unique _id decides who creates it: never two tasks for one part
//   poll      each open task's result (get_groupmsg_task, then get_groupmsg_send_result),
//             bounded: a few tasks per tick, each asked every minute for the first hour,
//             then every 10 minutes, until the horizon closes it
//   stop      a cancelled or retracted campaign (or withdrawn notice) cancels the tasks not
//             yet sent (cancel_groupmsg_send); groups WeCom reported sent stay sent (they get
//             the follow-up), the rest are skipped. A pause cancels too, and the groups wait
//             in the queue for a new task on resume
//
// Each group's result is filed like an officer's confirmation (manual/tasks.ts,
// fileSettlement): the same store, sweep and wake carry it to the delivery's batch.
import { createHash } from 'node:crypto';
import { MAX_UPDATES_PER_COMMAND } from '../../db/bulk.js';
import { claimOnce } from '../../db/claims.js';
import { type DueMark, WECOM_GROUPS_DUE, lowerDue, notDueYet, raiseDue, readDue } from '../../db/due-marks.js';
import { collectionToken } from '../../db/versions.js';
import type { SecretBox } from '../../lib/cipher.js';
import type { Clock } from '../../lib/clock.js';
import { mapLimit } from '../../lib/concurrency.js';
import { InvalidInput, isDuplicateKey } from '../../lib/errors.js';
import { ManualImageModel } from '../manual/model.js';
import { fileSettlement, type SettlementStatus } from '../manual/tasks.js';
import { unwatch, watchTasks } from '../manual/watch.js';
import { campaignTaskIds, listCampaignTasks } from './campaign-tasks.js';
import { addCapSends, capSendsUsed } from './cap-sends.js';
import { itemEntry, listLive, liveDocs, taskEntry, unlistLive } from './live.js';
import type { ChannelMessage, ChannelTarget, Outcome } from '../types.js';
import type { ApiAnswer, WecomApiClient, WecomApp } from './api.js';
import type { WecomGroupCredentials } from './credentials.js';
import {
  WECOM_GROUP_CANCELLED,
  WECOM_GROUP_IMAGE_MAX_BYTES,
  WECOM_GROUP_LINK_DESC_MAX_BYTES,
  WECOM_GROUP_LINK_TITLE_MAX_BYTES,
  WECOM_GROUP_MAX_CHATS_PER_TASK,
  WECOM_GROUP_MEDIA_REUSE_MS,
  WECOM_GROUP_REMINDERS_PER_DAY,
  WECOM_GROUP_REMIND_LIMITED,
  WECOM_GROUP_RESULT_PAGE,
  WECOM_GROUP_TEXT_MAX_BYTES,
  type WecomCapPolicy,
} from './limits.js';
import {
  type WecomAppDoc,
  WecomAppModel,
  type WecomItemDoc,
  WecomItemModel,
  type WecomMessageDoc,
  WecomMessageModel,
  type WecomTaskDoc,
  WecomTaskModel,
} from './model.js';

/** What the campaign allows now (the worker's verdict, for a run's WeCom tasks). */
export type RunVerdict = { kind: 'send' } | { kind: 'hold' } | { kind: 'stop'; reason: string };

export interface WecomGroupPorts {
  runState(campaignId: string): Promise<RunVerdict>;
  /** The campaign's priority and notice (the task keeps them for the officer's steps). */
  campaign(campaignId: string): Promise<{ priority: string; noticeId: string } | null>;
  /** Whether a run of this priority must wait now (quiet hours hold normal runs, not urgent ones). */
  quietNow(priority: string): boolean;
}

export interface WecomGroupSettings {
  /** An owner's groups of a run count as complete once none was added for this long. */
  settleMs: number;
  /** A task the owner never sends is closed (its groups reported unsent) after this long. */
  horizonMs: number;
  timeZone: string;
  /** Tasks polled per tick (each poll is 1–3 calls). */
  pollsPerTick: number;
}

export const DEFAULT_WECOM_GROUP_SETTINGS: WecomGroupSettings = {
  settleMs: 60_000,
  horizonMs: 3 * 24 * 3600_000,
  timeZone: 'Asia/Shanghai',
  pollsPerTick: 20,
};

/** An idle loop makes one full pass this often (what a lost lowering of its marker costs at most). */
const MAX_IDLE_MS = 10 * 60_000;
/** Poll every minute during the first hour of a task, then every 10 minutes. */
const POLL_EARLY_MS = 60_000;
const POLL_LATE_MS = 10 * 60_000;
const POLL_EARLY_FOR_MS = 3600_000;
const RETRY_BASE_MS = 30_000;
const MAX_CREATE_ATTEMPTS = 6;

export interface WecomAppView {
  countyCode: string;
  corpId: string;
  hasSecret: true;
  capPolicy: WecomCapPolicy;
  updatedAt: Date;
  updatedBy: string;
}

/** One open group of an owner's task, as the officer notifier sees it. */
export interface OpenWecomItem {
  reference: string;
  groupId: string;
  groupName: string;
  regionPath: string[];
  /** A digest listed it already. */
  told: boolean;
  officer: { name: string; phone: string | null } | null;
  /** When WeCom accepted the task (the digest counts from here). */
  createdAt: Date;
  taskId: string;
}

export interface WecomTaskReport {
  id: string;
  ownerUserId: string;
  officerName: string | null;
  state: string;
  msgid: string | null;
  openedAt: Date | null;
  sentAt: Date | null;
  reminders: number;
  lastError: string | null;
  groups: { groupId: string; groupName: string; chatId: string; state: string; sentAt: Date | null; reason: string | null }[];
}

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

function cutBytes(text: string, max: number): string {
  if (bytes(text) <= max) return text;
  let out = '';
  for (const char of text) {
    if (bytes(out + char) > max - 3) break;
    out += char;
  }
  return `${out}…`;
}

/** `<campaignId>@<runAt>/<groupId>` → its run and campaign. */
function runOf(reference: string): { occurrenceId: string; campaignId: string } | null {
  const cut = reference.lastIndexOf('/');
  const at = reference.indexOf('@');
  if (cut < 0 || at < 0 || at > cut) return null;
  return { occurrenceId: reference.slice(0, cut), campaignId: reference.slice(0, at) };
}

/** Local calendar parts of an instant in the zone. */
function localParts(at: Date, timeZone: string): { year: number; month: number; day: number; weekday: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    weekday: 'short',
  }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const weekday = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(get('weekday'));
  return { year: Number(get('year')), month: Number(get('month')), day: Number(get('day')), weekday };
}

/**
 * The cap's period an instant falls in and its limit (ref §7: days-in-month per month, 7 a
 * week, 1 a day). Calendar periods in the service's zone: WeCom's boundaries are unverified.
 */
export function capPeriod(at: Date, policy: WecomCapPolicy, timeZone: string): { period: string; limit: number } {
  const { year, month, day, weekday } = localParts(at, timeZone);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (policy === 'day') return { period: `${year}-${pad(month)}-${pad(day)}`, limit: 1 };
  if (policy === 'week') {
    const monday = new Date(Date.UTC(year, month - 1, day - weekday));
    return { period: `W${monday.toISOString().slice(0, 10)}`, limit: 7 };
  }
  return { period: `${year}-${pad(month)}`, limit: new Date(Date.UTC(year, month, 0)).getUTCDate() };
}

const CAP_WORDS: Record<WecomCapPolicy, string> = { month: '本月', week: '本周', day: '今天' };

// Reads and writes of several items or tasks go one `_id` each: on FerretDB 1.24 an
// `_id: {$in}` (or any filter but one `_id` equality) reads the whole collection, and these
// collections keep every customer-group delivery and task ever made.

/** The items with these ids (one read each, 8 at a time); missing ones left out, order kept. */
async function itemsById(ids: string[]): Promise<WecomItemDoc[]> {
  const docs = await mapLimit(ids, 8, (id) => WecomItemModel.findById(id).lean<WecomItemDoc>());
  return docs.filter((doc): doc is WecomItemDoc => doc !== null);
}

/** The tasks with these ids (one read each, 8 at a time); missing ones left out, order kept. */
async function tasksById(ids: string[]): Promise<WecomTaskDoc[]> {
  const docs = await mapLimit(ids, 8, (id) => WecomTaskModel.findById(id).lean<WecomTaskDoc>());
  return docs.filter((doc): doc is WecomTaskDoc => doc !== null);
}

/** The same `$set` on these items: one `{_id}` statement each, MAX_UPDATES_PER_COMMAND a command. */
async function setItems(ids: string[], set: Record<string, unknown>): Promise<void> {
  for (let i = 0; i < ids.length; i += MAX_UPDATES_PER_COMMAND) {
    await WecomItemModel.bulkWrite(
      ids.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({ updateOne: { filter: { _id: id }, update: { $set: set } } })),
      { ordered: false },
    );
  }
}

export class WecomGroupService {
  #onSettled: ((reference: string, regionPath: string[]) => Promise<void>) | null = null;
  #ports: WecomGroupPorts | null = null;
  /** Whether this process made a full pass yet (its first pass is always full). */
  #passed = false;
  /** The stop tokens read before the last full pass, when it left tasks open (else null). */
  #openUnder: { campaigns: string | null; notices: string | null } | null = null;

  constructor(
    private readonly box: SecretBox,
    private readonly api: WecomApiClient,
    private readonly clock: Clock,
    private readonly settings: WecomGroupSettings = DEFAULT_WECOM_GROUP_SETTINGS,
  ) {}

  /** The engine wakes the delivery's batch when a group's result is filed. */
  onSettled(listener: (reference: string, regionPath: string[]) => Promise<void>): void {
    this.#onSettled = listener;
  }

  attach(ports: WecomGroupPorts): void {
    this.#ports = ports;
  }

  // ---- the county's app ----------------------------------------------------------------

  async setApp(
    countyCode: string,
    input: { corpId: string; secret?: string | null; capPolicy?: WecomCapPolicy },
    by: string,
  ): Promise<WecomAppView> {
    const corpId = input.corpId.trim();
    if (!/^[A-Za-z0-9]{6,64}$/.test(corpId)) throw new InvalidInput('企业 ID 格式不正确（应为 ww 开头的字母数字）', 'corpId');
    const existing = await WecomAppModel.findById(countyCode).lean<WecomAppDoc>();
    const secret = input.secret?.trim();
    if (!secret && !existing) throw new InvalidInput('请填写应用 Secret', 'secret');
    if (secret && !/^[A-Za-z0-9_-]{16,128}$/.test(secret)) throw new InvalidInput('Secret 格式不正确', 'secret');
    const doc = {
      corpId,
      secretSealed: secret ? this.box.seal(secret, `wecom-app:${countyCode}`) : existing!.secretSealed,
      capPolicy: input.capPolicy ?? existing?.capPolicy ?? 'month',
      updatedAt: this.clock.now(),
      updatedBy: by,
    };
    await WecomAppModel.updateOne({ _id: countyCode }, { $set: doc }, { upsert: true });
    return this.view(countyCode, doc as WecomAppDoc);
  }

  private view(countyCode: string, doc: WecomAppDoc): WecomAppView {
    return {
      countyCode,
      corpId: doc.corpId,
      hasSecret: true,
      capPolicy: doc.capPolicy as WecomCapPolicy,
      updatedAt: doc.updatedAt,
      updatedBy: doc.updatedBy,
    };
  }

  async getApp(countyCode: string): Promise<WecomAppView | null> {
    const doc = await WecomAppModel.findById(countyCode).lean<WecomAppDoc>();
    return doc ? this.view(countyCode, doc) : null;
  }

  /** The app with its secret opened, for calls (never leaves the server). */
  async appFor(countyCode: string): Promise<(WecomApp & { capPolicy: WecomCapPolicy }) | null> {
    const doc = await WecomAppModel.findById(countyCode).lean<WecomAppDoc>();
    if (!doc) return null;
    return {
      corpId: doc.corpId,
      secret: this.box.open(doc.secretSealed, `wecom-app:${countyCode}`),
      capPolicy: doc.capPolicy as WecomCapPolicy,
    };
  }

  /** Calls WeCom with the county's app (the sync uses it too). */
  async call<T>(countyCode: string, api: string, body: object): Promise<ApiAnswer<T>> {
    const app = await this.appFor(countyCode);
    if (!app)
      return {
        ok: false,
        failure: { status: 'permanent', code: 'wecom_app_missing', message: '本县尚未设置企业微信应用', groupProblem: false },
      };
    return this.api.call<T>(app, api, body);
  }

  // ---- the monthly cap -----------------------------------------------------------------

  /**
   * Sends counted against each group's cap in the current period (queued, tasked or sent),
   * for comparing with `limit`: exact at or above it, an upper bound below it (cap-sends.ts).
   */
  async capUsage(
    countyCode: string,
    groupIds: string[],
  ): Promise<{ limit: number; words: string; used: Map<string, number> }> {
    const policy = ((await WecomAppModel.findById(countyCode, { capPolicy: 1 }).lean<WecomAppDoc>())?.capPolicy ??
      'month') as WecomCapPolicy;
    const { period, limit } = capPeriod(this.clock.now(), policy, this.settings.timeZone);
    const used = await capSendsUsed(groupIds, period, limit);
    return { limit, words: CAP_WORDS[policy], used };
  }

  /** How many of these groups have no room left under their cap (shown before approval). */
  async overCap(groups: { groupId: string; countyCode: string }[]): Promise<number> {
    const byCounty = new Map<string, string[]>();
    for (const g of groups) byCounty.set(g.countyCode, [...(byCounty.get(g.countyCode) ?? []), g.groupId]);
    let over = 0;
    for (const [county, ids] of byCounty) {
      const { limit, used } = await this.capUsage(county, ids);
      over += ids.filter((id) => (used.get(id) ?? 0) >= limit).length;
    }
    return over;
  }

  // ---- enqueue (the adapter's send) ------------------------------------------------------

  async enqueue(target: ChannelTarget, message: ChannelMessage, reference?: string): Promise<Outcome> {
    const credentials = target.credentials as WecomGroupCredentials;
    const run = reference ? runOf(reference) : null;
    if (!run)
      return {
        status: 'permanent',
        code: 'wecom_group_test_unsupported',
        message: '企业微信客户群只能通过推送群发（群主在群发助手确认），不支持单条测试发送',
        groupProblem: false,
      };
    const existing = await WecomItemModel.findById(reference, { _id: 1 }).lean();
    if (existing) return { status: 'sent', taskId: `wecom:${reference}` };
    const app = await WecomAppModel.findById(credentials.countyCode, { capPolicy: 1 }).lean<WecomAppDoc>();
    if (!app)
      return {
        status: 'permanent',
        code: 'wecom_app_missing',
        message: '本县尚未设置企业微信应用（企业 ID 与 Secret），无法创建客户群群发任务',
        groupProblem: false,
      };
    const stored = await this.storeMessage(`${run.occurrenceId}|${credentials.countyCode}`, message);
    if (stored) return stored;
    const policy = app.capPolicy as WecomCapPolicy;
    const now = this.clock.now();
    const { period, limit } = capPeriod(now, policy, this.settings.timeZone);
    const used = (await this.capUsage(credentials.countyCode, [target.groupId])).used.get(target.groupId) ?? 0;
    if (used >= limit)
      return {
        status: 'permanent',
        code: 'wecom_group_cap',
        message: `该群${CAP_WORDS[policy]}已收到 ${used} 次群发，达到企业微信接收上限（${limit} 次），本次不发送`,
        groupProblem: false,
      };
    // On the loop's live list and counted against the group's cap before it is queued (live.ts, cap-sends.ts).
    await listLive([itemEntry(reference!)], now);
    await addCapSends([{ groupId: target.groupId, period, reference: reference! }]);
    try {
      await WecomItemModel.create({
        _id: reference,
        occurrenceId: run.occurrenceId,
        campaignId: run.campaignId,
        countyCode: credentials.countyCode,
        ownerUserId: credentials.ownerUserId,
        chatId: credentials.chatId,
        groupId: target.groupId,
        groupName: target.groupName,
        regionPath: target.regionPath,
        officerName: target.officer?.name ?? null,
        officerPhone: target.officer?.phone ?? null,
        period,
        createdAt: now,
      });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    // The loop's idle passes read only their marker: the owner's groups may settle from then.
    await lowerDue(WECOM_GROUPS_DUE, new Date(now.getTime() + this.settings.settleMs));
    return { status: 'sent', taskId: `wecom:${reference}` };
  }

  /** The run's message, stored once (the first group's card): an outcome when it cannot be sent. */
  private async storeMessage(id: string, message: ChannelMessage): Promise<Outcome | null> {
    let fields: Partial<WecomMessageDoc>;
    if (message.type === 'image') {
      const { data, mime, title, url } = message.image;
      if (data.length > WECOM_GROUP_IMAGE_MAX_BYTES)
        return { status: 'permanent', code: 'image_invalid', message: '图片须不超过 2MB', groupProblem: false };
      const sha = createHash('sha256').update(data).digest('hex');
      await ManualImageModel.create({ _id: sha, mime, data }).catch((error) => {
        if (!isDuplicateKey(error)) throw error;
      });
      // The picture carries the QR code; the text names the notice and its link, as the card does.
      const text = [title, url ? `详情：${url}` : null].filter(Boolean).join('\n') || null;
      fields = { text, imageSha256: sha, imageMime: mime };
    } else {
      const { card } = message;
      if (card.format === 'text') fields = { text: card.content };
      else
        fields = {
          text: card.title,
          link: {
            title: cutBytes(card.title, WECOM_GROUP_LINK_TITLE_MAX_BYTES),
            url: card.url,
            desc: cutBytes(card.content, WECOM_GROUP_LINK_DESC_MAX_BYTES),
            ...(card.pictureUrl ? { picurl: card.pictureUrl } : {}),
          },
        };
    }
    if (fields.text && bytes(fields.text) > WECOM_GROUP_TEXT_MAX_BYTES)
      return {
        status: 'permanent',
        code: 'content_too_long',
        message: `群发文字超过企业微信的 ${WECOM_GROUP_TEXT_MAX_BYTES} 字节上限`,
        groupProblem: false,
      };
    await WecomMessageModel.create({ _id: id, ...fields }).catch((error) => {
      if (!isDuplicateKey(error)) throw error;
    });
    return null;
  }

  // ---- the scheduler's tick ----------------------------------------------------------------

  /** One pass: create settled tasks, retry failed creations, poll open tasks, apply stops. */
  async tick(): Promise<{ created: number; polled: number }> {
    return this.pass(await readDue(WECOM_GROUPS_DUE));
  }

  /**
   * The pass as the loop runs it (main.ts): while the due marker (db/due-marks.ts) lies ahead,
   * one `_id` read and nothing else, or three while customer-group tasks are open (the marker
   * and the campaigns' and notices' version tokens, db/versions.ts: a stop, pause, retraction
   * or withdrawal changes one of them, and must reach an open task at the next pass). The
   * marker is lowered by every group queued (to when its owner's groups may have settled) and
   * raised after a full pass when no group is queued and no task waits for a retry: to the
   * earliest next look of an open task, else 10 minutes ahead. A process's first pass is full.
   */
  async tickWhenDue(): Promise<{ created: number; polled: number }> {
    const mark = await readDue(WECOM_GROUPS_DUE);
    if (this.#passed && notDueYet(mark, this.clock.now())) {
      const open = this.#openUnder;
      if (!open) return { created: 0, polled: 0 };
      const now = await this.stopTokens();
      if (now.campaigns !== null && now.notices !== null && now.campaigns === open.campaigns && now.notices === open.notices)
        return { created: 0, polled: 0 };
    }
    return this.pass(mark);
  }

  /** The campaigns' and notices' version tokens: what a run's verdict (runState) reads. */
  private async stopTokens(): Promise<{ campaigns: string | null; notices: string | null }> {
    return { campaigns: await collectionToken('campaigns'), notices: await collectionToken('notices') };
  }

  private async pass(mark: DueMark): Promise<{ created: number; polled: number }> {
    // Read before the pass's verdicts: a stop written during the pass changes them after.
    const tokens = await this.stopTokens();
    this.#passed = true;
    const created = await this.flush();
    const polled = await this.poll();
    this.#openUnder = null;
    const live = await this.live();
    const busy = live.queued.length > 0 || live.tasks.some((task) => task.state === 'retry');
    if (busy) return { created, polled };
    const now = this.clock.now().getTime();
    let at = now + MAX_IDLE_MS;
    const open = live.tasks.filter((task) => task.state === 'open');
    if (open.length) {
      this.#openUnder = tokens;
      at = Math.min(at, ...open.map((task) => task.nextPollAt?.getTime() ?? now));
    }
    if (at > now) await raiseDue(WECOM_GROUPS_DUE, mark, new Date(at));
    return { created, polled };
  }

  /** The queued groups and the tasks not final, through the live list (live.ts): nothing else is read. */
  private live(): Promise<{ queued: WecomItemDoc[]; tasks: WecomTaskDoc[] }> {
    return liveDocs<WecomItemDoc, WecomTaskDoc>(this.clock.now());
  }

  private async verdict(campaignId: string, cache: Map<string, RunVerdict>): Promise<RunVerdict> {
    let verdict = cache.get(campaignId);
    if (!verdict) {
      verdict = this.#ports ? await this.#ports.runState(campaignId) : { kind: 'send' };
      cache.set(campaignId, verdict);
    }
    return verdict;
  }

  /** Queued groups whose owner's run has settled become tasks; retries are made again. */
  async flush(): Promise<number> {
    const now = this.clock.now();
    const verdicts = new Map<string, RunVerdict>();
    const live = await this.live();
    const queued = live.queued;
    const runs = new Map<string, WecomItemDoc[]>();
    for (const item of queued) {
      const key = `${item.occurrenceId}|${item.countyCode}|${item.ownerUserId}`;
      runs.set(key, [...(runs.get(key) ?? []), item]);
    }
    let created = 0;
    const claims: { id: string; items: WecomItemDoc[] }[] = [];
    for (const [key, items] of runs) {
      const newest = Math.max(...items.map((i) => i.createdAt.getTime()));
      if (now.getTime() - newest < this.settings.settleMs) continue;
      const verdict = await this.verdict(items[0]!.campaignId, verdicts);
      if (verdict.kind === 'hold') continue;
      // A normal run's task waits for the end of quiet hours, as every channel's send does.
      if (verdict.kind === 'send' && this.#ports?.quietNow((await this.#ports.campaign(items[0]!.campaignId))?.priority ?? 'normal'))
        continue;
      if (verdict.kind === 'stop') {
        await this.settleItems(items, 'cancelled', 'skipped', `${verdict.reason}（群发任务未创建）`);
        continue;
      }
      // The parts this owner's run has already (by `_id`: a filter on the run reads every task).
      let part = 0;
      while (await WecomTaskModel.exists({ _id: `${key}|${part + 1}` })) part += 1;
      items.sort((a, b) => (a.groupId < b.groupId ? -1 : 1));
      for (let i = 0; i < items.length; i += WECOM_GROUP_MAX_CHATS_PER_TASK) {
        part += 1;
        claims.push({ id: `${key}|${part}`, items: items.slice(i, i + WECOM_GROUP_MAX_CHATS_PER_TASK) });
      }
    }
    // Listed on their campaigns before they are inserted (campaign-tasks.ts): one insert per campaign.
    const byCampaign = new Map<string, string[]>();
    for (const { id, items } of claims) {
      const campaignId = items[0]!.campaignId;
      byCampaign.set(campaignId, [...(byCampaign.get(campaignId) ?? []), id]);
    }
    await listCampaignTasks(byCampaign);
    for (const { id, items } of claims) {
      const task = await this.claimTask(id, items);
      if (!task) continue;
      await this.create(task, items);
      created += 1;
    }
    const retries = live.tasks.filter(
      (task) => task.state === 'retry' && task.nextAt && task.nextAt.getTime() <= now.getTime(),
    );
    for (const task of retries) {
      // One creator per attempt: the attempt's key is inserted once (db/claims.ts).
      if (!(await claimOnce(`wecom-task:${task._id}#${task.attempts + 1}`, 'wecom-group', now))) continue;
      await WecomTaskModel.updateOne({ _id: task._id }, { $set: { state: 'creating', attempts: task.attempts + 1 } });
      const verdict = await this.verdict(task.campaignId, verdicts);
      if (verdict.kind !== 'send') {
        await this.afterStop({ ...task, state: 'creating' }, verdict);
        continue;
      }
      await this.create({ ...task, attempts: task.attempts + 1 });
    }
    return created;
  }

  /** Inserts the task (its unique _id decides the creator) and moves its groups into it. */
  private async claimTask(id: string, items: WecomItemDoc[]): Promise<WecomTaskDoc | null> {
    const first = items[0]!;
    const campaign = await this.#ports?.campaign(first.campaignId);
    const doc = {
      _id: id,
      occurrenceId: first.occurrenceId,
      campaignId: first.campaignId,
      noticeId: campaign?.noticeId ?? null,
      countyCode: first.countyCode,
      ownerUserId: first.ownerUserId,
      officerName: first.officerName,
      officerPhone: first.officerPhone,
      priority: campaign?.priority ?? 'normal',
      itemIds: items.map((i) => i._id),
      state: 'creating',
      attempts: 1,
      createdAt: this.clock.now(),
    };
    await listLive([taskEntry(id)], this.clock.now());
    try {
      await WecomTaskModel.create(doc);
    } catch (error) {
      if (isDuplicateKey(error)) return null;
      throw error;
    }
    await setItems(doc.itemIds, { state: 'tasked', taskId: id });
    // Tasked: live through their task from now.
    await unlistLive(doc.itemIds.map(itemEntry));
    return (await WecomTaskModel.findById(id).lean<WecomTaskDoc>())!;
  }

  /** The run's picture as a media_id, uploaded once per run (and again after 3 days). */
  private async mediaFor(
    app: WecomApp,
    messageId: string,
    message: WecomMessageDoc,
  ): Promise<ApiAnswer<string | null>> {
    if (!message.imageSha256) return { ok: true, data: null };
    const now = this.clock.now().getTime();
    if (message.mediaId && message.mediaAt && now - message.mediaAt.getTime() < WECOM_GROUP_MEDIA_REUSE_MS)
      return { ok: true, data: message.mediaId };
    const image = await ManualImageModel.findById(message.imageSha256).lean();
    if (!image)
      return {
        ok: false,
        failure: { status: 'permanent', code: 'image_missing', message: '群发图片已丢失', groupProblem: false },
      };
    const uploaded = await this.api.uploadImage(app, Buffer.from(image.data.buffer ?? image.data), image.mime);
    if (!uploaded.ok) return uploaded;
    const at = new Date(Number(uploaded.data.created_at) * 1000 || now);
    await WecomMessageModel.updateOne({ _id: messageId }, { $set: { mediaId: uploaded.data.media_id, mediaAt: at } });
    return { ok: true, data: uploaded.data.media_id };
  }

  /**
   * add_msg_template for a claimed task, and what its answer means for its groups (`items`:
   * the task's groups as its claim read them; a retry reads them by `_id`).
   */
  private async create(task: WecomTaskDoc, claimed?: WecomItemDoc[]): Promise<void> {
    const now = this.clock.now();
    const app = await this.appFor(task.countyCode);
    const items = claimed ?? (await itemsById(task.itemIds));
    const messageId = `${task.occurrenceId}|${task.countyCode}`;
    const message = await WecomMessageModel.findById(messageId).lean<WecomMessageDoc>();
    if (!app || !message) {
      await this.failTask(task, items, app ? '群发内容已丢失' : '本县尚未设置企业微信应用');
      return;
    }
    const media = await this.mediaFor(app, messageId, message);
    if (!media.ok) return this.creationFailed(task, items, media.failure);
    const attachments: object[] = [];
    if (media.data) attachments.push({ msgtype: 'image', image: { media_id: media.data } });
    if (message.link) attachments.push({ msgtype: 'link', link: message.link });
    const body = {
      chat_type: 'group',
      sender: task.ownerUserId,
      chat_id_list: items.map((i) => i.chatId),
      allow_select: false,
      ...(message.text ? { text: { content: message.text } } : {}),
      ...(attachments.length ? { attachments } : {}),
    };
    const answer = await this.api.call<{ msgid: string; fail_list?: string[] }>(app, 'externalcontact/add_msg_template', body);
    if (!answer.ok) return this.creationFailed(task, items, answer.failure);
    await WecomTaskModel.updateOne(
      { _id: task._id },
      {
        $set: {
          state: 'open',
          msgid: answer.data.msgid,
          openedAt: now,
          nextPollAt: new Date(now.getTime() + POLL_EARLY_MS),
          lastError: null,
        },
      },
    );
    const refused = new Set(answer.data.fail_list ?? []);
    // The owner's groups are open tasks now: on the watch list until reported (manual/watch.ts).
    await watchTasks(
      items
        .filter((i) => !refused.has(i.chatId))
        .map((i) => ({
          id: `wecom:${i._id}`,
          kind: 'wecom' as const,
          reference: i._id,
          regionPath: i.regionPath ?? [],
          officerName: i.officerName ?? null,
          officerPhone: i.officerPhone ?? null,
          createdAt: now,
        })),
    );
    if (refused.size)
      await this.settleItems(
        items.filter((i) => refused.has(i.chatId)),
        'failed',
        'failed',
        '企业微信未接受该群（fail_list：群主已不是该群群主，或群已解散），请重新同步客户群',
      );
  }

  private async creationFailed(
    task: WecomTaskDoc,
    items: WecomItemDoc[],
    failure: Exclude<Outcome, { status: 'sent' }>,
  ): Promise<void> {
    if (failure.status === 'retryable' && task.attempts < MAX_CREATE_ATTEMPTS) {
      const wait = failure.retryAfterMs ?? RETRY_BASE_MS * 2 ** (task.attempts - 1);
      await WecomTaskModel.updateOne(
        { _id: task._id },
        { $set: { state: 'retry', nextAt: new Date(this.clock.now().getTime() + wait), lastError: failure.message } },
      );
      return;
    }
    if (failure.status === 'uncertain') {
      // The task may exist at WeCom: never created a second time; its groups are uncertain.
      await WecomTaskModel.updateOne({ _id: task._id }, { $set: { state: 'failed', lastError: failure.message } });
      await unlistLive([taskEntry(task._id)]);
      await this.settleItems(items, 'failed', 'uncertain', `创建群发任务时未收到应答，任务可能已创建：${failure.message}`);
      return;
    }
    await this.failTask(task, items, failure.message);
  }

  private async failTask(task: WecomTaskDoc, items: WecomItemDoc[], reason: string): Promise<void> {
    await WecomTaskModel.updateOne({ _id: task._id }, { $set: { state: 'failed', lastError: reason } });
    await unlistLive([taskEntry(task._id)]);
    await this.settleItems(items, 'failed', 'failed', `群发任务创建失败：${reason}`);
  }

  /** Files each group's result where the engine looks (the officers' confirmation store) and wakes its batch. */
  private async settleItems(
    items: WecomItemDoc[],
    state: WecomItemDoc['state'],
    status: SettlementStatus,
    reason: string | null,
    sentAt: (item: WecomItemDoc) => Date = () => this.clock.now(),
  ): Promise<void> {
    for (const item of items) {
      const at = sentAt(item);
      await WecomItemModel.updateOne(
        { _id: item._id },
        { $set: { state, reason, sentAt: status === 'sent' ? at : null } },
      );
      await fileSettlement(item._id, at, item.regionPath ?? [], status, reason);
      await unwatch([`wecom:${item._id}`]);
      await this.#onSettled?.(item._id, item.regionPath ?? []).catch(() => undefined);
    }
  }

  /** Open tasks due for a look: stops first, then WeCom's report of what was sent. */
  async poll(): Promise<number> {
    const now = this.clock.now();
    const verdicts = new Map<string, RunVerdict>();
    const open = (await this.live()).tasks.filter((task) => task.state === 'open');
    const due = open
      .filter((task) => task.nextPollAt && task.nextPollAt.getTime() <= now.getTime())
      .sort((a, b) => a.nextPollAt!.getTime() - b.nextPollAt!.getTime())
      .slice(0, this.settings.pollsPerTick);
    // A stop must not wait for the task's next look: open tasks of stopped campaigns too.
    const stopped: WecomTaskDoc[] = [];
    for (const task of open) {
      const verdict = await this.verdict(task.campaignId, verdicts);
      if (verdict.kind !== 'send' && !due.some((d) => d._id === task._id)) stopped.push(task);
    }
    for (const task of [...stopped, ...due]) {
      const verdict = await this.verdict(task.campaignId, verdicts);
      if (verdict.kind !== 'send') await this.stopTask(task, verdict);
      else await this.look(task);
    }
    return due.length + stopped.length;
  }

  private async app(task: WecomTaskDoc): Promise<WecomApp | null> {
    return this.appFor(task.countyCode);
  }

  /** Asks WeCom whether the owner sent the task; records the groups' results when so. */
  private async look(task: WecomTaskDoc): Promise<'sent' | 'open' | 'error'> {
    const now = this.clock.now();
    const app = await this.app(task);
    if (!app || !task.msgid) return 'error';
    const status = await this.api.call<{ task_list: { userid: string; status: number; send_time?: number }[] }>(
      app,
      'externalcontact/get_groupmsg_task',
      { msgid: task.msgid, limit: 1000 },
    );
    const later = (ms: number) =>
      WecomTaskModel.updateOne(
        { _id: task._id },
        { $set: { nextPollAt: new Date(now.getTime() + ms) }, $inc: { polls: 1 } },
      );
    if (!status.ok) {
      await later(status.failure.status === 'retryable' ? (status.failure.retryAfterMs ?? POLL_EARLY_MS) : POLL_LATE_MS);
      await WecomTaskModel.updateOne({ _id: task._id }, { $set: { lastError: status.failure.message } });
      return 'error';
    }
    const row = status.data.task_list.find((r) => r.userid === task.ownerUserId);
    if (row?.status !== 2) {
      const age = now.getTime() - (task.openedAt ?? task.createdAt).getTime();
      if (age >= this.settings.horizonMs) {
        await this.closeUnsent(task, app);
        return 'open';
      }
      await later(age < POLL_EARLY_FOR_MS ? POLL_EARLY_MS : POLL_LATE_MS);
      return 'open';
    }
    const recorded = await this.recordResults(task, app, row.send_time ?? null);
    if (!recorded) {
      await later(POLL_EARLY_MS);
      return 'error';
    }
    return 'sent';
  }

  /** get_groupmsg_send_result, paged: sent rows become sent; the task's other groups are reported with the reason. */
  private async recordResults(task: WecomTaskDoc, app: WecomApp, sendTime: number | null): Promise<boolean> {
    const sent = new Map<string, { status: number; sendTime: number | null }>();
    let cursor = '';
    do {
      const page = await this.api.call<{
        send_list: { chat_id?: string; status: number; send_time?: number }[];
        next_cursor?: string;
      }>(app, 'externalcontact/get_groupmsg_send_result', {
        msgid: task.msgid,
        userid: task.ownerUserId,
        limit: WECOM_GROUP_RESULT_PAGE,
        ...(cursor ? { cursor } : {}),
      });
      if (!page.ok) return false;
      for (const row of page.data.send_list) if (row.chat_id) sent.set(row.chat_id, { status: row.status, sendTime: row.send_time ?? null });
      cursor = page.data.next_cursor ?? '';
    } while (cursor);
    const items = (await itemsById(task.itemIds)).filter((i) => i.state === 'tasked');
    const at = (seconds: number | null) => new Date(seconds ? seconds * 1000 : this.clock.now().getTime());
    const delivered = items.filter((i) => sent.get(i.chatId)?.status === 1);
    await this.settleItems(delivered, 'sent', 'sent', null, (i) => at(sent.get(i.chatId)?.sendTime ?? sendTime));
    const rest = items.filter((i) => sent.get(i.chatId)?.status !== 1);
    if (rest.length) {
      const { limit, used, words } = await this.capUsage(task.countyCode, rest.map((i) => i.groupId));
      for (const item of rest) {
        const row = sent.get(item.chatId);
        // Our own count includes this send: at or over the limit means WeCom's cap was already spent.
        const capped = row?.status === 3 || (used.get(item.groupId) ?? 0) > limit;
        await this.settleItems(
          [item],
          'failed',
          'failed',
          capped
            ? `该群${words}已达到企业微信群发接收上限，企业微信未发送`
            : '群主发送时未包含该群（未选择该群，或该群已超出企业微信接收上限）',
        );
      }
    }
    await WecomTaskModel.updateOne(
      { _id: task._id },
      { $set: { state: 'sent', sentAt: at(sendTime), nextPollAt: null }, $inc: { polls: 1 } },
    );
    await unlistLive([taskEntry(task._id)]);
    return true;
  }

  /** The horizon passed and the owner never sent: the task is cancelled and its groups reported. */
  private async closeUnsent(task: WecomTaskDoc, app: WecomApp): Promise<void> {
    await this.api.call(app, 'externalcontact/cancel_groupmsg_send', { msgid: task.msgid });
    await WecomTaskModel.updateOne({ _id: task._id }, { $set: { state: 'closed', nextPollAt: null } });
    await unlistLive([taskEntry(task._id)]);
    const items = (await itemsById(task.itemIds)).filter((i) => i.state === 'tasked');
    const days = Math.round(this.settings.horizonMs / 3600_000);
    await this.settleItems(items, 'failed', 'failed', `群主 ${days} 小时内未在企业微信群发助手确认发送，任务已关闭`);
  }

  /**
   * A stop (cancel, retraction, withdrawn notice) or a pause: cancel_groupmsg_send, then
   * record what WeCom reports sent (those groups received the notice and get the
   * follow-up). The rest: skipped on a stop; on a pause, queued again for a new task.
   */
  private async stopTask(task: WecomTaskDoc, verdict: RunVerdict): Promise<void> {
    const app = await this.app(task);
    if (!app || !task.msgid) return;
    const cancel = await this.api.call(app, 'externalcontact/cancel_groupmsg_send', { msgid: task.msgid });
    if (!cancel.ok && cancel.failure.errcode !== WECOM_GROUP_CANCELLED) {
      await WecomTaskModel.updateOne({ _id: task._id }, { $set: { lastError: cancel.failure.message } });
      return; // tried again on the next tick
    }
    const state = await this.api.call<{ task_list: { userid: string; status: number; send_time?: number }[] }>(
      app,
      'externalcontact/get_groupmsg_task',
      { msgid: task.msgid, limit: 1000 },
    );
    if (!state.ok) return;
    const row = state.data.task_list.find((r) => r.userid === task.ownerUserId);
    if (row?.status === 2) {
      // Sent before the cancel: nothing was stopped, every result stands.
      await this.recordResults(task, app, row.send_time ?? null);
      return;
    }
    await this.afterStop(task, verdict);
  }

  /** The task is cancelled (or was never created): its groups skipped, or queued again on a pause. */
  private async afterStop(task: WecomTaskDoc, verdict: RunVerdict): Promise<void> {
    await WecomTaskModel.updateOne({ _id: task._id }, { $set: { state: 'cancelled', nextPollAt: null } });
    await unlistLive([taskEntry(task._id)]);
    const items = (await itemsById(task.itemIds)).filter((i) => i.state === 'tasked');
    if (verdict.kind === 'hold') {
      // Listed before they are queued again (live.ts).
      await listLive(
        items.map((i) => itemEntry(i._id)),
        this.clock.now(),
      );
      await setItems(
        items.map((i) => i._id),
        { state: 'queued', taskId: null, createdAt: this.clock.now() },
      );
      await unwatch(items.map((i) => `wecom:${i._id}`));
      return;
    }
    const reason = verdict.kind === 'stop' ? verdict.reason : '已停止';
    await this.settleItems(items, 'cancelled', 'skipped', `${reason}：企业微信群发任务已取消，群主未发送`);
  }

  // ---- the officer's steps ---------------------------------------------------------------

  /** Groups of open tasks (accepted by WeCom, not yet sent) whose task opened since the instant. */
  async openItemsSince(since: Date): Promise<OpenWecomItem[]> {
    const tasks = await WecomTaskModel.find({ state: 'open', openedAt: { $gte: since } }).lean<WecomTaskDoc[]>();
    if (tasks.length === 0) return [];
    const items = await WecomItemModel.find({
      _id: { $in: tasks.flatMap((t) => t.itemIds) },
      state: 'tasked',
    }).lean<WecomItemDoc[]>();
    const opened = new Map(tasks.map((t) => [t._id, t.openedAt!]));
    return items.map((item) => ({
      reference: item._id,
      groupId: item.groupId,
      groupName: item.groupName,
      regionPath: item.regionPath ?? [],
      told: Boolean(item.told),
      officer: item.officerName ? { name: item.officerName, phone: item.officerPhone ?? null } : null,
      createdAt: opened.get(item.taskId!) ?? item.createdAt,
      taskId: item.taskId!,
    }));
  }

  /**
   * These groups (delivery ids, from the watch list) while their task is open, read by `_id`:
   * the officer notifier's due runs. A group reported or re-queued is left out.
   */
  async openItems(references: string[]): Promise<OpenWecomItem[]> {
    const items = (
      await mapLimit(references, 8, (id) => WecomItemModel.findById(id).lean<WecomItemDoc>())
    ).filter((item): item is WecomItemDoc => item !== null && item.state === 'tasked' && item.taskId !== null);
    const tasks = new Map<string, WecomTaskDoc | null>();
    for (const item of items) {
      if (!tasks.has(item.taskId!)) tasks.set(item.taskId!, await WecomTaskModel.findById(item.taskId).lean<WecomTaskDoc>());
    }
    return items.flatMap((item) => {
      const task = tasks.get(item.taskId!);
      if (task?.state !== 'open') return [];
      return [
        {
          reference: item._id,
          groupId: item.groupId,
          groupName: item.groupName,
          regionPath: item.regionPath ?? [],
          told: Boolean(item.told),
          officer: item.officerName ? { name: item.officerName, phone: item.officerPhone ?? null } : null,
          createdAt: task.openedAt ?? item.createdAt,
          taskId: item.taskId!,
        },
      ];
    });
  }

  /** The notifier listed these groups in a digest: one update by `_id` each, 20 a command (an `$in` is a scan on FerretDB). */
  async markTold(references: string[]): Promise<void> {
    for (let i = 0; i < references.length; i += MAX_UPDATES_PER_COMMAND) {
      await WecomItemModel.bulkWrite(
        references.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({
          updateOne: { filter: { _id: id }, update: { $set: { told: true } } },
        })),
        { ordered: false },
      );
    }
  }

  /**
   * remind_groupmsg_send for the open tasks among these: at most 3 per task in 24 h (ref §5),
   * counted by us before WeCom answers 41094. Returns what happened, for the step's record.
   */
  async remind(taskIds: string[]): Promise<{ reminded: number; limited: number; failed: string[] }> {
    const now = this.clock.now();
    const result = { reminded: 0, limited: 0, failed: [] as string[] };
    const tasks = (await tasksById([...new Set(taskIds)])).filter((t) => t.state === 'open');
    for (const task of tasks) {
      const recent = ((task.reminders ?? []) as unknown as Date[]).filter((at) => now.getTime() - at.getTime() < 24 * 3600_000);
      if (recent.length >= WECOM_GROUP_REMINDERS_PER_DAY) {
        result.limited += 1;
        continue;
      }
      const app = await this.app(task);
      if (!app || !task.msgid) continue;
      const answer = await this.api.call(app, 'externalcontact/remind_groupmsg_send', { msgid: task.msgid });
      if (answer.ok) {
        result.reminded += 1;
        await WecomTaskModel.updateOne({ _id: task._id }, { $push: { reminders: now } });
      } else if (answer.failure.errcode === WECOM_GROUP_REMIND_LIMITED) result.limited += 1;
      else result.failed.push(answer.failure.message);
    }
    return result;
  }

  /**
   * A campaign's WeCom tasks with each group's state and reason (the run report): the tasks
   * its list names (campaign-tasks.ts), then their groups, every one by `_id`.
   */
  async report(campaignId: string): Promise<WecomTaskReport[]> {
    const tasks = (await tasksById(await campaignTaskIds(campaignId)))
      .filter((t) => t.campaignId === campaignId)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    const items = await itemsById(tasks.flatMap((t) => t.itemIds));
    const byId = new Map(items.map((i) => [i._id, i]));
    return tasks.map((task) => ({
      id: task._id,
      ownerUserId: task.ownerUserId,
      officerName: task.officerName ?? null,
      state: task.state,
      msgid: task.msgid ?? null,
      openedAt: task.openedAt ?? null,
      sentAt: task.sentAt ?? null,
      reminders: (task.reminders ?? []).length,
      lastError: task.lastError ?? null,
      groups: task.itemIds.flatMap((id) => {
        const item = byId.get(id);
        return item
          ? [
              {
                groupId: item.groupId,
                groupName: item.groupName,
                chatId: item.chatId,
                state: item.state,
                sentAt: item.sentAt ?? null,
                reason: item.reason ?? null,
              },
            ]
          : [];
      }),
    }));
  }
}

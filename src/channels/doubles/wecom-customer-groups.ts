// A faithful double of WeCom's customer-group mass-send API (企业微信客户群群发), on its own
// HTTP server on 127.0.0.1, written from ../shared/reference/wecom-customer-groups.md and
// sharing no code with the adapter (src/channels/wecom-group/): its limits, codes and
// shapes are stated here again, so a mistake there fails the tests instead of agreeing.
//
//   GET  /cgi-bin/gettoken?corpid=&corpsecret=                     §1
//   POST /cgi-bin/externalcontact/groupchat/list|get               §2
//   POST /cgi-bin/media/upload?type=image (multipart, field media) §6
//   POST /cgi-bin/externalcontact/add_msg_template                 §3
//   POST /cgi-bin/externalcontact/get_groupmsg_task                §4
//   POST /cgi-bin/externalcontact/get_groupmsg_send_result         §4
//   POST /cgi-bin/externalcontact/remind_groupmsg_send             §5
//   POST /cgi-bin/externalcontact/cancel_groupmsg_send             §5
//
// Every business error is HTTP 200 with errcode/errmsg and WeCom's hint suffix. Time comes
// from an injectable clock. What the reference marks inferred or unverified is an option.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '../../lib/clock.js';
import { closeNow, listenLocally } from './local-server.js';

/** §7: "days-in-month per month" (2025-11-17 text, the default), 7 per week, or 1 per day. */
export type CapPolicy = 'month' | 'week' | 'day';

export interface CustomerGroupDoubleOptions {
  clock?: Clock;
  /** §1: expires_in 7200 s; shorter in tests. */
  tokenTtlSeconds?: number;
  /** §4: results answer 41063 for this long after creation (how long is unverified). */
  dispatchingMs?: number;
  /** §7: the receive cap per group. */
  capPolicy?: CapPolicy;
  /** Offset of the cap's calendar from UTC in minutes (boundaries unverified): 480 = Beijing. */
  capUtcOffsetMinutes?: number;
  /** §3 inferred: chats the sender does not own go to fail_list (false: the whole call is refused 41048). */
  unownedToFailList?: boolean;
  /** §4: group sends list sent rows only; true also lists capped groups as status 3 (inferred). */
  listCappedRows?: boolean;
  /** §5 inferred: remind or cancel of a cancelled task answers 41093 (false: 0). */
  cancelledAnswers41093?: boolean;
  /** §7: per corp per API per minute (10 000 on the real service); beyond → 45009 and a 60 s block. */
  perApiPerMinute?: number;
}

export interface DoubleMember {
  userid: string;
  /** 1 企业成员, 2 外部联系人. */
  type: 1 | 2;
  name?: string;
}

export interface DoubleChat {
  chatId: string;
  name: string;
  owner: string;
  members: DoubleMember[];
  /** 0 normal; 1/2/3 the owner left (待继承/继承中/继承完成). */
  status?: number;
}

interface Corp {
  corpId: string;
  secret: string;
  /** Members the app can see (owners outside it are refused by groupchat/list's filter). */
  visible: Set<string>;
  chats: Map<string, DoubleChat>;
}

type TaskStatus = 'unsent' | 'sent' | 'cancelled';

interface DoubleTask {
  msgid: string;
  corpId: string;
  sender: string;
  chatIds: string[];
  failList: string[];
  text: string | null;
  attachments: unknown[];
  createdAt: number;
  status: TaskStatus;
  sendTime: number | null;
  /** chat id → 1 sent, 3 already received another mass message (cap spent). */
  results: Map<string, { status: 1 | 3; sendTime: number }>;
  reminders: number[];
  /** When the owner confirms on their own (ms on the clock); null = never, unless a test confirms. */
  confirmAt: number | null;
}

export interface DeliveredMessage {
  corpId: string;
  chatId: string;
  msgid: string;
  text: string | null;
  attachments: unknown[];
  at: Date;
}

export type CustomerGroupFault =
  | { type: 'http-error'; status: 500 | 502 | 503 | 504 }
  /** The call is carried out (a task made), then the gateway answers 502/504 with an HTML page. */
  | { type: 'gateway-error-after-record'; status: 502 | 504 }
  | { type: 'slow'; delayMs: number }
  | { type: 'non-json' }
  | { type: 'close-after-record' }
  | { type: 'rate-limit' };

interface FaultRule {
  fault: CustomerGroupFault;
  /** The API name (e.g. add_msg_template); any when absent. */
  api?: string;
  times: number;
}

// §3 limits, from the reference.
const MAX_CHATS = 2000;
const MAX_TEXT_BYTES = 4000;
const MAX_ATTACHMENTS = 9;
const ATTACHMENT_TYPES = ['image', 'link', 'miniprogram', 'video', 'file'];
const LINK_TITLE_MAX = 128;
const LINK_URL_MAX = 2048;
const LINK_DESC_MAX = 512;
// §6: media_id valid 3 days; images ≤ 10 MB JPG/PNG (rev 2024-07-22); every file > 5 B.
const MEDIA_TTL_MS = 3 * 24 * 3600_000;
const IMAGE_MAX_BYTES = 10 * 1024 * 1024;
// §5: ≤ 3 reminders per msgid per rolling 24 h.
const REMINDERS_PER_DAY = 3;
// §2: groupchat/list limit 1–1000; owner_filter ≤ 100 users; > 1000 visible without filter → 81017.
const LIST_MAX = 1000;
const OWNER_FILTER_MAX = 100;
const VISIBLE_UNFILTERED_MAX = 1000;
// §4: get_groupmsg_task max 1000 (default 500); get_groupmsg_send_result likewise.
const RESULT_MAX = 1000;
const RESULT_DEFAULT = 500;
// §7: 45009 blocks for 60 s after a minute's limit.
const BLOCK_MS = 60_000;

const ERRMSG: Record<number, string> = {
  40001: 'invalid credential',
  40003: 'invalid userid',
  40007: 'invalid media_id',
  40013: 'invalid corpid',
  40014: 'invalid access_token',
  41001: 'access_token missing',
  41046: 'msgid missing',
  41047: 'invalid msgid',
  41048: 'no valid chat or customer to send',
  41063: 'message is being dispatched',
  41064: 'too many attachments',
  41065: 'invalid attachment msgtype',
  41093: 'message has been cancelled',
  41094: 'remind frequency out of limit',
  42001: 'access_token expired',
  44004: 'empty content',
  45001: 'media size out of limit',
  45009: 'api freq out of limit',
  47001: 'data format error',
  81017: 'too many visible users, owner_filter required',
  40058: 'invalid parameter',
};

const bytes = (value: unknown) => Buffer.byteLength(String(value ?? ''), 'utf8');

export class CustomerGroupDouble {
  readonly clock: Clock;
  readonly #options: Required<Omit<CustomerGroupDoubleOptions, 'clock'>>;
  readonly #corps = new Map<string, Corp>();
  readonly #tokens = new Map<string, { corpId: string; expiresAt: number }>();
  readonly #media = new Map<string, { corpId: string; createdAt: number; size: number }>();
  readonly #tasks = new Map<string, DoubleTask>();
  /** Owner → confirmation delay (ms) for tasks created from now on; 'never' = never confirms. */
  readonly #owners = new Map<string, number | 'never'>();
  /** chat id → instants of every mass message it received (ours and anyone's). */
  readonly #received = new Map<string, number[]>();
  #delivered: DeliveredMessage[] = [];
  #rules: FaultRule[] = [];
  readonly #calls = new Map<string, number[]>();
  readonly #blockedUntil = new Map<string, number>();
  #server: http.Server | null = null;
  #port = 0;
  #sequence = 0;
  /** Every call by API name (tests count token fetches and creations). */
  readonly calls: { api: string; body: unknown; at: Date }[] = [];

  constructor(options: CustomerGroupDoubleOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.#options = {
      tokenTtlSeconds: options.tokenTtlSeconds ?? 7200,
      dispatchingMs: options.dispatchingMs ?? 0,
      capPolicy: options.capPolicy ?? 'month',
      capUtcOffsetMinutes: options.capUtcOffsetMinutes ?? 480,
      unownedToFailList: options.unownedToFailList ?? true,
      listCappedRows: options.listCappedRows ?? false,
      cancelledAnswers41093: options.cancelledAnswers41093 ?? true,
      perApiPerMinute: options.perApiPerMinute ?? 10_000,
    };
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async start(): Promise<this> {
    const server = http.createServer((req, res) => void this.#serve(req, res));
    this.#port = await listenLocally(server);
    this.#server = server;
    return this;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    await closeNow(server);
  }

  // ---- fixtures and hooks -------------------------------------------------------------

  addCorp(corpId: string, secret: string): void {
    this.#corps.set(corpId, { corpId, secret, visible: new Set(), chats: new Map() });
  }

  /** Makes a member visible to the app (owners must be, §2). */
  addMember(corpId: string, userid: string): void {
    this.#corp(corpId).visible.add(userid);
  }

  addChat(corpId: string, chat: DoubleChat): void {
    const corp = this.#corp(corpId);
    corp.chats.set(chat.chatId, { ...chat, members: chat.members.map((m) => ({ ...m })) });
    corp.visible.add(chat.owner);
  }

  removeChat(corpId: string, chatId: string): void {
    this.#corp(corpId).chats.delete(chatId);
  }

  chat(corpId: string, chatId: string): DoubleChat | undefined {
    return this.#corp(corpId).chats.get(chatId);
  }

  /** How the owner behaves for tasks created from now on: confirm after `delayMs`, or never. */
  ownerConfirms(userid: string, delayMs: number | 'never'): void {
    this.#owners.set(userid, delayMs);
  }

  /** The owner taps send in 群发助手 now (every unsent task of theirs, or one msgid). */
  confirm(userid: string, msgid?: string): number {
    let count = 0;
    for (const task of this.#tasks.values()) {
      if (task.sender !== userid || task.status !== 'unsent') continue;
      if (msgid && task.msgid !== msgid) continue;
      this.#send(task, this.clock.now().getTime());
      count += 1;
    }
    return count;
  }

  /** Revokes every token early (WeCom may, §1). */
  revokeTokens(): void {
    this.#tokens.clear();
  }

  /** Ages every token past its expiry (42001 from now on). */
  expireTokens(): void {
    for (const token of this.#tokens.values()) token.expiresAt = this.clock.now().getTime() - 1;
  }

  /** A mass message from anyone else (another member, another app): counts toward the cap. */
  receivedElsewhere(chatId: string, at = this.clock.now()): void {
    this.#received.set(chatId, [...(this.#received.get(chatId) ?? []), at.getTime()]);
  }

  fault(rule: { fault: CustomerGroupFault; api?: string; times?: number }): void {
    this.#rules.push({ fault: rule.fault, api: rule.api, times: rule.times ?? 1 });
  }

  delivered(filter: { chatId?: string; msgid?: string } = {}): DeliveredMessage[] {
    this.#settleDue();
    return this.#delivered.filter(
      (m) => (!filter.chatId || m.chatId === filter.chatId) && (!filter.msgid || m.msgid === filter.msgid),
    );
  }

  tasks(): { msgid: string; sender: string; chatIds: string[]; failList: string[]; status: TaskStatus; reminders: number }[] {
    this.#settleDue();
    return [...this.#tasks.values()].map((t) => ({
      msgid: t.msgid,
      sender: t.sender,
      chatIds: [...t.chatIds],
      failList: [...t.failList],
      status: t.status,
      reminders: t.reminders.length,
    }));
  }

  /** Forgets tasks, deliveries, faults and counters (fixtures stay). */
  reset(): void {
    this.#tasks.clear();
    this.#delivered = [];
    this.#rules = [];
    this.#received.clear();
    this.#calls.clear();
    this.#blockedUntil.clear();
    this.#owners.clear();
    this.calls.length = 0;
  }

  // ---- behaviour -----------------------------------------------------------------------

  #corp(corpId: string): Corp {
    const corp = this.#corps.get(corpId);
    if (!corp) throw new Error(`unknown corp ${corpId}`);
    return corp;
  }

  /** Owners whose delay has passed confirm now (lazily, on the injectable clock). */
  #settleDue(): void {
    const now = this.clock.now().getTime();
    for (const task of this.#tasks.values()) {
      if (task.status === 'unsent' && task.confirmAt !== null && task.confirmAt <= now) this.#send(task, task.confirmAt);
    }
  }

  #capOf(at: number): { limit: number; since: number } {
    const offset = this.#options.capUtcOffsetMinutes * 60_000;
    const local = new Date(at + offset);
    const dayStart = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()) - offset;
    switch (this.#options.capPolicy) {
      case 'day':
        return { limit: 1, since: dayStart };
      case 'week': {
        const weekday = (local.getUTCDay() + 6) % 7; // Monday first
        return { limit: 7, since: dayStart - weekday * 24 * 3600_000 };
      }
      case 'month': {
        const days = new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth() + 1, 0)).getUTCDate();
        return { limit: days, since: Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), 1) - offset };
      }
    }
  }

  #send(task: DoubleTask, at: number): void {
    task.status = 'sent';
    task.sendTime = Math.floor(at / 1000);
    for (const chatId of task.chatIds) {
      if (task.failList.includes(chatId)) continue;
      const cap = this.#capOf(at);
      const got = (this.#received.get(chatId) ?? []).filter((t) => t >= cap.since && t <= at).length;
      if (got >= cap.limit) {
        task.results.set(chatId, { status: 3, sendTime: task.sendTime });
        continue;
      }
      this.#received.set(chatId, [...(this.#received.get(chatId) ?? []), at]);
      task.results.set(chatId, { status: 1, sendTime: task.sendTime });
      this.#delivered.push({
        corpId: task.corpId,
        chatId,
        msgid: task.msgid,
        text: task.text,
        attachments: task.attachments,
        at: new Date(at),
      });
    }
  }

  #answer(errcode: number, extra: Record<string, unknown> = {}): { status: number; body: string } {
    const errmsg =
      errcode === 0
        ? 'ok'
        : `${ERRMSG[errcode] ?? 'error'}, hint: [${Math.floor(this.clock.now().getTime() / 1000)}_${randomBytes(4).toString('hex')}], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`;
    return { status: 200, body: JSON.stringify({ errcode, errmsg, ...extra }) };
  }

  /** The token's corp, or the errcode (§1: missing 41001, unknown 40014, expired 42001). */
  #authorise(token: string | null): Corp | number {
    if (!token) return 41001;
    const known = this.#tokens.get(token);
    if (!known) return 40014;
    if (known.expiresAt <= this.clock.now().getTime()) return 42001;
    return this.#corp(known.corpId);
  }

  /** §7: per corp and API, a minute's limit; beyond it 45009 and a 60 s block. */
  #throttled(corpId: string, api: string): boolean {
    const key = `${corpId}|${api}`;
    const now = this.clock.now().getTime();
    if ((this.#blockedUntil.get(key) ?? 0) > now) return true;
    const hits = (this.#calls.get(key) ?? []).filter((t) => t > now - 60_000);
    if (hits.length >= this.#options.perApiPerMinute) {
      this.#blockedUntil.set(key, now + BLOCK_MS);
      return true;
    }
    hits.push(now);
    this.#calls.set(key, hits);
    return false;
  }

  #takeFault(api: string): CustomerGroupFault | null {
    const rule = this.#rules.find((r) => r.times > 0 && (!r.api || r.api === api));
    if (!rule) return null;
    rule.times -= 1;
    return rule.fault;
  }

  async #serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://double');
    const api = url.pathname.replace(/^\/cgi-bin\/(externalcontact\/)?/, '');
    const reply = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(body);
    };
    const fault = this.#takeFault(api);
    if (fault?.type === 'http-error') return reply(fault.status, `<html><body><h1>${fault.status}</h1></body></html>`);
    if (fault?.type === 'rate-limit') {
      const answer = this.#answer(45009);
      return reply(answer.status, answer.body);
    }
    let answer: { status: number; body: string };
    try {
      answer = this.#route(req.method ?? 'GET', url, api, raw, req.headers['content-type'] ?? '');
    } catch {
      answer = this.#answer(47001);
    }
    if (fault?.type === 'close-after-record') {
      res.socket?.destroy();
      return;
    }
    if (fault?.type === 'gateway-error-after-record')
      return reply(fault.status, `<html><body><h1>${fault.status}</h1></body></html>`);
    if (fault?.type === 'non-json') return reply(200, '<html>ok</html>');
    if (fault?.type === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    reply(answer.status, answer.body);
  }

  #route(method: string, url: URL, api: string, raw: Buffer, contentType: string): { status: number; body: string } {
    this.#settleDue();
    if (api === 'gettoken') {
      if (method !== 'GET') return { status: 405, body: '' };
      this.calls.push({ api, body: null, at: this.clock.now() });
      return this.#gettoken(url.searchParams.get('corpid'), url.searchParams.get('corpsecret'));
    }
    const corp = this.#authorise(url.searchParams.get('access_token'));
    const body = api === 'media/upload' ? null : raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
    this.calls.push({ api, body, at: this.clock.now() });
    if (typeof corp === 'number') return this.#answer(corp);
    if (this.#throttled(corp.corpId, api)) return this.#answer(45009);
    switch (api) {
      case 'groupchat/list':
        return this.#list(corp, body!);
      case 'groupchat/get':
        return this.#get(corp, body!);
      case 'media/upload':
        return this.#upload(corp, url, raw, contentType);
      case 'add_msg_template':
        return this.#create(corp, body!);
      case 'get_groupmsg_task':
        return this.#task(corp, body!);
      case 'get_groupmsg_send_result':
        return this.#result(corp, body!);
      case 'remind_groupmsg_send':
        return this.#remind(corp, body!);
      case 'cancel_groupmsg_send':
        return this.#cancel(corp, body!);
      default:
        return { status: 404, body: '' };
    }
  }

  #gettoken(corpId: string | null, secret: string | null): { status: number; body: string } {
    const corp = corpId ? this.#corps.get(corpId) : undefined;
    if (!corp) return this.#answer(40013);
    if (corp.secret !== secret) return this.#answer(40001);
    const token = randomBytes(48).toString('base64url');
    this.#tokens.set(token, {
      corpId: corp.corpId,
      expiresAt: this.clock.now().getTime() + this.#options.tokenTtlSeconds * 1000,
    });
    return this.#answer(0, { access_token: token, expires_in: this.#options.tokenTtlSeconds });
  }

  #list(corp: Corp, body: Record<string, unknown>): { status: number; body: string } {
    const limit = Number(body.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > LIST_MAX) return this.#answer(40058);
    const owners = (body.owner_filter as { userid_list?: string[] } | undefined)?.userid_list;
    if (owners && owners.length > OWNER_FILTER_MAX) return this.#answer(40058);
    if (!owners && corp.visible.size > VISIBLE_UNFILTERED_MAX) return this.#answer(81017);
    const statusFilter = Number(body.status_filter ?? 0);
    const all = [...corp.chats.values()]
      .filter((c) => corp.visible.has(c.owner))
      .filter((c) => !owners || owners.includes(c.owner))
      .filter((c) => statusFilter === 0 || (c.status ?? 0) === statusFilter)
      .sort((a, b) => (a.chatId < b.chatId ? -1 : 1));
    const start = body.cursor ? Number(Buffer.from(String(body.cursor), 'base64url').toString()) : 0;
    const page = all.slice(start, start + limit);
    const next = start + limit < all.length ? Buffer.from(String(start + limit)).toString('base64url') : '';
    return this.#answer(0, {
      group_chat_list: page.map((c) => ({ chat_id: c.chatId, status: c.status ?? 0 })),
      next_cursor: next,
    });
  }

  #get(corp: Corp, body: Record<string, unknown>): { status: number; body: string } {
    const chat = corp.chats.get(String(body.chat_id ?? ''));
    if (!chat) return this.#answer(40058);
    const needName = Number(body.need_name ?? 0) === 1;
    return this.#answer(0, {
      group_chat: {
        chat_id: chat.chatId,
        name: chat.name,
        owner: chat.owner,
        create_time: 1_700_000_000,
        notice: '',
        admin_list: [],
        member_version: String(chat.members.length),
        member_list: chat.members.map((m) => ({
          userid: m.userid,
          type: m.type,
          join_time: 1_700_000_000,
          join_scene: 1,
          invitor: { userid: chat.owner },
          group_nickname: '',
          ...(needName ? { name: m.name ?? m.userid } : {}),
        })),
      },
    });
  }

  #upload(corp: Corp, url: URL, raw: Buffer, contentType: string): { status: number; body: string } {
    const type = url.searchParams.get('type');
    if (!['image', 'voice', 'video', 'file'].includes(type ?? '')) return this.#answer(40058);
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
    if (!boundary) return this.#answer(47001);
    const file = multipartField(raw, boundary[1] ?? boundary[2]!, 'media');
    if (!file || file.length <= 5) return this.#answer(40058);
    if (type === 'image') {
      const png = file.readUInt32BE(0) === 0x89504e47;
      const jpeg = file[0] === 0xff && file[1] === 0xd8;
      if (!png && !jpeg) return this.#answer(40058);
      if (file.length > IMAGE_MAX_BYTES) return this.#answer(45001);
    }
    const mediaId = `3${randomBytes(24).toString('base64url')}`;
    const now = this.clock.now().getTime();
    this.#media.set(mediaId, { corpId: corp.corpId, createdAt: now, size: file.length });
    return this.#answer(0, { type, media_id: mediaId, created_at: String(Math.floor(now / 1000)) });
  }

  #create(corp: Corp, body: Record<string, unknown>): { status: number; body: string } {
    if (body.chat_type !== 'group') return this.#answer(40058);
    const sender = typeof body.sender === 'string' ? body.sender : '';
    if (!sender || !corp.visible.has(sender)) return this.#answer(40003);
    const chatIds = Array.isArray(body.chat_id_list) ? body.chat_id_list.map(String) : [];
    if (chatIds.length > MAX_CHATS) return this.#answer(40058);
    const text = (body.text as { content?: string } | undefined)?.content ?? null;
    const attachments = Array.isArray(body.attachments) ? body.attachments : [];
    if (!text && attachments.length === 0) return this.#answer(44004);
    if (text !== null && bytes(text) > MAX_TEXT_BYTES) return this.#answer(40058);
    if (attachments.length > MAX_ATTACHMENTS) return this.#answer(41064);
    const now = this.clock.now().getTime();
    for (const attachment of attachments as Record<string, Record<string, string> | string>[]) {
      const type = attachment.msgtype as string;
      if (!ATTACHMENT_TYPES.includes(type)) return this.#answer(41065);
      const part = attachment[type] as Record<string, string> | undefined;
      if (!part) return this.#answer(40058);
      if (type === 'image') {
        if (part.media_id) {
          const media = this.#media.get(part.media_id);
          if (!media || media.corpId !== corp.corpId || media.createdAt + MEDIA_TTL_MS <= now) return this.#answer(40007);
        } else if (!part.pic_url) return this.#answer(40058);
      }
      if (type === 'link') {
        if (!part.title || !part.url) return this.#answer(40058);
        if (bytes(part.title) > LINK_TITLE_MAX || bytes(part.url) > LINK_URL_MAX || bytes(part.desc) > LINK_DESC_MAX)
          return this.#answer(40058);
      }
    }
    const failList = chatIds.filter((id) => corp.chats.get(id)?.owner !== sender);
    if (failList.length && !this.#options.unownedToFailList) return this.#answer(41048);
    if (chatIds.length > 0 && failList.length === chatIds.length) return this.#answer(41048);
    const msgid = `msgGCAAA${String(++this.#sequence).padStart(6, '0')}${randomBytes(6).toString('hex')}`;
    const behaviour = this.#owners.get(sender) ?? 'never';
    this.#tasks.set(msgid, {
      msgid,
      corpId: corp.corpId,
      sender,
      chatIds,
      failList,
      text,
      attachments,
      createdAt: now,
      status: 'unsent',
      sendTime: null,
      results: new Map(),
      reminders: [],
      confirmAt: behaviour === 'never' ? null : now + behaviour,
    });
    if (behaviour === 0) this.#settleDue();
    return this.#answer(0, { fail_list: failList, msgid });
  }

  #known(corp: Corp, body: Record<string, unknown>): DoubleTask | number {
    if (!body.msgid) return 41046;
    const task = this.#tasks.get(String(body.msgid));
    if (!task || task.corpId !== corp.corpId) return 41047;
    return task;
  }

  #dispatching(task: DoubleTask): boolean {
    return this.clock.now().getTime() < task.createdAt + this.#options.dispatchingMs;
  }

  /** §4: limit above the maximum falls back to the default, it is not clamped. */
  #page(body: Record<string, unknown>): { start: number; limit: number } {
    const asked = Number(body.limit ?? RESULT_DEFAULT);
    const limit = !Number.isInteger(asked) || asked < 1 || asked > RESULT_MAX ? RESULT_DEFAULT : asked;
    const start = body.cursor ? Number(Buffer.from(String(body.cursor), 'base64url').toString()) : 0;
    return { start, limit };
  }

  #task(corp: Corp, body: Record<string, unknown>): { status: number; body: string } {
    const task = this.#known(corp, body);
    if (typeof task === 'number') return this.#answer(task);
    if (this.#dispatching(task)) return this.#answer(41063);
    const row =
      task.status === 'sent'
        ? { userid: task.sender, status: 2, send_time: task.sendTime }
        : { userid: task.sender, status: 0 };
    return this.#answer(0, { next_cursor: '', task_list: [row] });
  }

  #result(corp: Corp, body: Record<string, unknown>): { status: number; body: string } {
    const task = this.#known(corp, body);
    if (typeof task === 'number') return this.#answer(task);
    if (this.#dispatching(task)) return this.#answer(41063);
    if (body.userid !== task.sender) return this.#answer(0, { next_cursor: '', send_list: [] });
    // Group sends list sent rows only (§4); capped rows too when configured (inferred).
    const rows = [...task.results.entries()]
      .filter(([, r]) => r.status === 1 || this.#options.listCappedRows)
      .map(([chatId, r]) => ({ chat_id: chatId, userid: task.sender, status: r.status, send_time: r.sendTime }));
    const { start, limit } = this.#page(body);
    const next = start + limit < rows.length ? Buffer.from(String(start + limit)).toString('base64url') : '';
    return this.#answer(0, { next_cursor: next, send_list: rows.slice(start, start + limit) });
  }

  #remind(corp: Corp, body: Record<string, unknown>): { status: number; body: string } {
    const task = this.#known(corp, body);
    if (typeof task === 'number') return this.#answer(task);
    if (task.status === 'cancelled') return this.#answer(this.#options.cancelledAnswers41093 ? 41093 : 0);
    const now = this.clock.now().getTime();
    task.reminders = task.reminders.filter((t) => t > now - 24 * 3600_000);
    if (task.reminders.length >= REMINDERS_PER_DAY) return this.#answer(41094);
    task.reminders.push(now);
    return this.#answer(0);
  }

  #cancel(corp: Corp, body: Record<string, unknown>): { status: number; body: string } {
    const task = this.#known(corp, body);
    if (typeof task === 'number') return this.#answer(task);
    if (task.status === 'cancelled') return this.#answer(this.#options.cancelledAnswers41093 ? 41093 : 0);
    // Stops what the member has not sent; what was sent stays (§5).
    if (task.status === 'unsent') task.status = 'cancelled';
    return this.#answer(0);
  }
}

/** The bytes of one field of a multipart/form-data body. */
function multipartField(raw: Buffer, boundary: string, name: string): Buffer | null {
  const delimiter = Buffer.from(`--${boundary}`);
  let at = raw.indexOf(delimiter);
  while (at >= 0) {
    const headerEnd = raw.indexOf('\r\n\r\n', at);
    if (headerEnd < 0) return null;
    const headers = raw.subarray(at, headerEnd).toString('utf8');
    const next = raw.indexOf(delimiter, headerEnd);
    if (next < 0) return null;
    if (new RegExp(`name="${name}"`).test(headers)) return raw.subarray(headerEnd + 4, next - 2);
    at = next;
  }
  return null;
}

// The WeCom server API as the customer-group channel uses it (ref = ../shared/reference/
// wecom-customer-groups.md): one access token per app, cached until shortly before it
// expires and fetched again when WeCom answers an expiry code (then the call is repeated
// once: a refused call created nothing, so repeating it cannot double a task). Every answer
// is classified like a robot send: ok, retryable (nothing happened), permanent, or
// uncertain (the request was written and no readable answer came back).
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { postJson } from '../http-post.js';
import type { Outbound } from '../outbound.js';
import { answerWithoutCode, jsonObject, tidyPlatformMessage, transportOutcome } from '../outcome.js';
import type { Outcome } from '../types.js';
import {
  WECOM_API_THROTTLE_CODES,
  WECOM_API_THROTTLE_WAIT_MS,
  WECOM_APP_CONFIG_CODES,
  WECOM_GROUP_DISPATCHING,
  WECOM_TOKEN_MARGIN_MS,
  WECOM_TOKEN_REFRESH_CODES,
} from './limits.js';

/** A county's WeCom app, its secret opened for the call. */
export interface WecomApp {
  corpId: string;
  secret: string;
}

export type Failure = Exclude<Outcome, { status: 'sent' }> & { errcode?: number };
export type ApiAnswer<T> = { ok: true; data: T } | { ok: false; failure: Failure };

export interface WecomApiOptions {
  baseUrl: string;
  outbound: Outbound;
  timeoutMs: number;
  clock: Clock;
}

/** How long to wait after 41063 (群发消息正在被派发中) before asking again. */
const DISPATCHING_WAIT_MS = 30_000;

/** Every errcode the channel meets, classified (ref §1, §4, §5, §7). */
export function classifyWecomApi(errcode: number, errmsg: unknown): Failure {
  const text = `企业微信 ${errcode}：${tidyPlatformMessage(errmsg)}`;
  const code = `wecom_${errcode}`;
  if (WECOM_API_THROTTLE_CODES.includes(errcode))
    return { status: 'retryable', code, message: text, retryAfterMs: WECOM_API_THROTTLE_WAIT_MS, errcode };
  if (errcode === WECOM_GROUP_DISPATCHING)
    return { status: 'retryable', code, message: text, retryAfterMs: DISPATCHING_WAIT_MS, errcode };
  if (WECOM_APP_CONFIG_CODES.includes(errcode) || WECOM_TOKEN_REFRESH_CODES.includes(errcode))
    return {
      status: 'permanent',
      code,
      message: `${text}（本县企业微信应用的企业 ID 或 Secret 有误，请管理员在“企业微信应用”中重新设置）`,
      groupProblem: false,
      errcode,
    };
  if (errcode === 81017)
    return { status: 'permanent', code, message: `${text}（应用可见成员超过 1000 人，须按群主分批同步）`, groupProblem: false, errcode };
  return { status: 'permanent', code, message: text, groupProblem: false, errcode };
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export class WecomApiClient {
  readonly #tokens = new Map<string, CachedToken>();
  readonly #fetching = new Map<string, Promise<ApiAnswer<CachedToken>>>();
  /** gettoken calls made (tests: one per app, unless expired). */
  tokenFetches = 0;

  constructor(private readonly options: WecomApiOptions) {}

  #key(app: WecomApp): string {
    // A changed secret is a new key: its token is not the old one's.
    return `${app.corpId}|${createHash('sha256').update(app.secret).digest('hex').slice(0, 16)}`;
  }

  async #token(app: WecomApp, stale: string | null): Promise<ApiAnswer<CachedToken>> {
    const key = this.#key(app);
    const cached = this.#tokens.get(key);
    const now = this.options.clock.now().getTime();
    if (cached && cached.token !== stale && cached.expiresAt - WECOM_TOKEN_MARGIN_MS > now) return { ok: true, data: cached };
    // One fetch per app at a time: WeCom blocks frequent gettoken calls (ref §1).
    let fetching = this.#fetching.get(key);
    if (!fetching) {
      fetching = this.#fetchToken(app).finally(() => this.#fetching.delete(key));
      this.#fetching.set(key, fetching);
    }
    const answer = await fetching;
    if (answer.ok) this.#tokens.set(key, answer.data);
    return answer;
  }

  async #fetchToken(app: WecomApp): Promise<ApiAnswer<CachedToken>> {
    this.tokenFetches += 1;
    const url = `${this.options.baseUrl}/cgi-bin/gettoken?corpid=${encodeURIComponent(app.corpId)}&corpsecret=${encodeURIComponent(app.secret)}`;
    const answer = await this.#request(url, '', 'GET');
    if (!answer.ok) {
      // Fetching a token changes nothing at WeCom: an unanswered fetch can simply be made again.
      if (answer.failure.status === 'uncertain') return { ok: false, failure: { ...answer.failure, status: 'retryable' } as Failure };
      return answer;
    }
    const token = answer.data.access_token;
    const expiresIn = Number(answer.data.expires_in ?? 7200);
    if (typeof token !== 'string' || !token)
      return { ok: false, failure: { status: 'retryable', code: 'wecom_no_token', message: '企业微信未返回 access_token' } };
    return { ok: true, data: { token, expiresAt: this.options.clock.now().getTime() + expiresIn * 1000 } };
  }

  async #request(
    url: string,
    body: string | Buffer,
    method: 'GET' | 'POST',
    headers?: Record<string, string>,
  ): Promise<ApiAnswer<Record<string, unknown>>> {
    const result = await postJson(url, body, {
      outbound: this.options.outbound,
      timeoutMs: this.options.timeoutMs,
      method,
      headers,
    });
    if (result.kind !== 'answered') return { ok: false, failure: transportOutcome(result) as Failure };
    const answer = jsonObject(result.body);
    if (!answer || typeof answer.errcode !== 'number' || result.status >= 500)
      return { ok: false, failure: answerWithoutCode(result.status, result.body) as Failure };
    if (answer.errcode !== 0) return { ok: false, failure: classifyWecomApi(answer.errcode, answer.errmsg) };
    return { ok: true, data: answer };
  }

  /** Calls `/cgi-bin/<api>` with the app's token; on an expiry code, a new token and one repeat. */
  async call<T = Record<string, unknown>>(app: WecomApp, api: string, body: object): Promise<ApiAnswer<T>> {
    return this.#withToken(app, (token) =>
      this.#request(`${this.options.baseUrl}/cgi-bin/${api}?access_token=${encodeURIComponent(token)}`, JSON.stringify(body), 'POST'),
    ) as Promise<ApiAnswer<T>>;
  }

  /** media/upload (ref §6): multipart field `media`; the media_id lasts 3 days. */
  async uploadImage(app: WecomApp, data: Buffer, mime: string): Promise<ApiAnswer<{ media_id: string; created_at: string }>> {
    const boundary = `----jingxun${randomBytes(12).toString('hex')}`;
    const filename = mime === 'image/png' ? 'card.png' : 'card.jpg';
    const payload = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="${filename}"; filelength=${data.length}\r\nContent-Type: ${mime}\r\n\r\n`,
      ),
      data,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const headers = { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(payload.length) };
    return this.#withToken(app, (token) =>
      this.#request(
        `${this.options.baseUrl}/cgi-bin/media/upload?access_token=${encodeURIComponent(token)}&type=image`,
        payload,
        'POST',
        headers,
      ),
    ) as Promise<ApiAnswer<{ media_id: string; created_at: string }>>;
  }

  async #withToken(
    app: WecomApp,
    request: (token: string) => Promise<ApiAnswer<Record<string, unknown>>>,
  ): Promise<ApiAnswer<Record<string, unknown>>> {
    let token = await this.#token(app, null);
    if (!token.ok) return token;
    let answer = await request(token.data.token);
    if (!answer.ok && answer.failure.errcode !== undefined && WECOM_TOKEN_REFRESH_CODES.includes(answer.failure.errcode)) {
      // The call was refused for its token, so nothing was done: a new token, and the call once more.
      token = await this.#token(app, token.data.token);
      if (!token.ok) return token;
      answer = await request(token.data.token);
    }
    return answer;
  }
}

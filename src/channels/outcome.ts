// Classification shared by the robot adapters: what the transport did, and HTTP-level
// answers that carry no platform code (5xx pages, empty or non-JSON bodies).
import type { PostResult } from './http-post.js';
import type { Outcome } from './types.js';

/**
 * `urlFrom`: whose the refused address is. A webhook group's URL is the group's (flag it);
 * a robot's base URL is the operator's configuration (no group can fix it). The message is
 * the same whatever is listening there: a refused address is never connected to.
 */
export function transportOutcome(
  result: Exclude<PostResult, { kind: 'answered' }>,
  urlFrom: 'group' | 'configuration' = 'configuration',
): Outcome {
  switch (result.kind) {
    case 'not-sent':
      return { status: 'retryable', code: 'not_sent', message: `请求未发出：${result.reason}` };
    case 'sent-no-answer':
      return { status: 'uncertain', code: 'no_answer', message: `请求已发出但未收到应答：${result.reason}` };
    case 'refused':
      return urlFrom === 'group'
        ? {
            status: 'permanent',
            code: 'address_refused',
            message:
              '接收地址指向本机、内网、链路本地或云元数据等受限地址，已拒绝发送；如为本县内网平台，请运维将其加入 OUTBOUND_ALLOW_HOSTS',
            groupProblem: true,
          }
        : {
            status: 'permanent',
            code: 'address_refused',
            message: '机器人接口地址（*_BASE_URL 配置）指向受限地址，已拒绝发送；请运维检查配置与 OUTBOUND_ALLOW_HOSTS',
            groupProblem: false,
          };
  }
}

/** Parses a JSON object answer; null when the body is empty, HTML or otherwise not JSON. */
export function jsonObject(body: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(body);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * What one kind of answer says about the post, with where that comes from. Each platform's
 * limits.ts lists its own (`*_ANSWER_CLASSES`); test/channels/answer-classes.test.ts checks
 * every row against the adapter's classification, so the table cannot drift from the code.
 */
export interface AnswerClass {
  /**
   * The platform's code in the JSON body (errcode / code) with, where the code alone does
   * not tell, its message; or an HTTP status answered without a code.
   */
  answer: { code: number; message?: string } | { http: number };
  outcome: Outcome['status'];
  source: string;
}

/**
 * HTTP statuses that say the request was not handled, so a repeat cannot post twice. Every
 * other 5xx may come from a gateway after the platform posted (an upstream timeout, 504, or
 * a connection cut while the answer came back, 502; the platform's own 500 after its write):
 * with no dedup key on the robot APIs (reference, "Common to all three"), a repeat would be
 * a second post, so those are uncertain (issue 20, defect 12).
 */
export const NOT_POSTED_HTTP: readonly AnswerClass[] = [
  {
    answer: { http: 408 },
    outcome: 'retryable',
    source: 'RFC 9110 §15.5.9 (408): the server did not receive a complete request',
  },
  { answer: { http: 429 }, outcome: 'retryable', source: 'RFC 6585 §4 (429): refused for rate limiting' },
  {
    answer: { http: 503 },
    outcome: 'retryable',
    source:
      'RFC 9110 §15.6.4 (503): unable to handle the request (overload, maintenance); a gateway answers it without forwarding (no live upstream, request limit)',
  },
];

/** HTTP answers without a platform code that may follow a post (listed for the docs and the tables' test). */
export const MAYBE_POSTED_HTTP: readonly AnswerClass[] = [500, 502, 504].map((http) => ({
  answer: { http },
  outcome: 'uncertain' as const,
  source:
    http === 500
      ? 'RFC 9110 §15.6.1 (500): the server failed while handling the request, possibly after posting'
      : http === 502
        ? 'RFC 9110 §15.6.3 (502): a gateway got no valid answer from the platform, which may have posted'
        : 'RFC 9110 §15.6.5 (504): a gateway gave up waiting for the platform, which may have posted',
}));

/**
 * An answer without a usable platform code. Statuses in `notPosted` (the platform's list;
 * by default 408, 429, 503): the request was not handled, retry. Any other 5xx: a gateway
 * may have answered after the platform posted: uncertain, never repeated. A 2xx whose body
 * is not the platform's JSON: it may have been posted: uncertain. Other 4xx: the endpoint
 * refuses the request as made: permanent.
 */
export function answerWithoutCode(
  status: number,
  body: string,
  notPosted: readonly AnswerClass[] = NOT_POSTED_HTTP,
): Outcome {
  const snippet = body.replace(/\s+/g, ' ').slice(0, 80);
  if (notPosted.some((rule) => 'http' in rule.answer && rule.answer.http === status && rule.outcome === 'retryable')) {
    return { status: 'retryable', code: `http_${status}`, message: `平台暂时不可用（HTTP ${status}），消息未发出` };
  }
  if (status >= 500) {
    return {
      status: 'uncertain',
      code: `http_${status}`,
      message: `平台或其网关应答 HTTP ${status}，消息可能已发出，不自动重发`,
    };
  }
  if (status >= 200 && status < 300) {
    return {
      status: 'uncertain',
      code: body.trim() ? 'unreadable_answer' : 'empty_answer',
      message: `平台应答无法识别（HTTP ${status}${snippet ? `：${snippet}` : '，空应答'}），消息可能已发出`,
    };
  }
  return {
    status: 'permanent',
    code: `http_${status}`,
    message: `平台拒绝了请求（HTTP ${status}）`,
    groupProblem: status === 404 || status === 401 || status === 403 || status === 410,
  };
}

/** Platform messages can echo the caller's public IP (WeCom's "from ip: …"): keep only the description. */
export function tidyPlatformMessage(message: unknown): string {
  const text = typeof message === 'string' ? message : '';
  return text
    .split(/, hint:|from ip:/)[0]!
    .trim()
    .slice(0, 200);
}

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
 * An answer without a usable platform code. 5xx (and 429): the platform did not take it,
 * retry. A 2xx whose body is not the platform's JSON: it may have been posted: uncertain.
 * Other 4xx: the endpoint refuses the request as made: permanent.
 */
export function answerWithoutCode(status: number, body: string): Outcome {
  const snippet = body.replace(/\s+/g, ' ').slice(0, 80);
  if (status >= 500 || status === 429 || status === 408) {
    return { status: 'retryable', code: `http_${status}`, message: `平台暂时不可用（HTTP ${status}）` };
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

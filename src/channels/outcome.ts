// Classification shared by the robot adapters: what the transport did, and HTTP-level
// answers that carry no platform code (5xx pages, empty or non-JSON bodies).
import type { PostResult } from './http-post.js';
import type { Outcome } from './types.js';

export function transportOutcome(result: Exclude<PostResult, { kind: 'answered' }>): Outcome {
  return result.kind === 'not-sent'
    ? { status: 'retryable', code: 'not_sent', message: `请求未发出：${result.reason}` }
    : { status: 'uncertain', code: 'no_answer', message: `请求已发出但未收到应答：${result.reason}` };
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

// DingTalk custom robot double: POST /robot/send?access_token=T[&timestamp=&sign=] (reference §2).
// Its figures and its signature check are written here from the reference, not taken from
// the adapter (dingtalk/), so a mistake there fails the tests instead of agreeing with itself.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ipAllowed } from './ip-list.js';
import { RateWindow } from './rate-window.js';
import type { DingtalkRobot, HandlerResult, IncomingCall } from './types.js';

const MSG_TYPES = ['text', 'link', 'markdown', 'actionCard', 'feedCard'];
/** "the whole body ≤ 20 000 bytes; larger gets 460101". */
const BODY_MAX_BYTES = 20_000;
/** "The timestamp must be within 1 hour of DingTalk's clock." */
const SIGN_WINDOW_MS = 3_600_000;
/** "exceeding it throttles the robot for 10 minutes". */
const PENALTY_MS = 600_000;

/**
 * "string to sign = timestamp + "\n" + secret; sign = Base64(HMAC-SHA256(key = secret,
 * data = string to sign))", the timestamp in milliseconds as sent.
 */
function expectedSign(timestamp: string, secret: string): Buffer {
  const mac = createHmac('sha256', Buffer.from(secret, 'utf8'));
  mac.update(Buffer.from(timestamp + '\n' + secret, 'utf8'));
  return Buffer.from(mac.digest().toString('base64'), 'utf8');
}

function answer(errcode: number, errmsg: string): HandlerResult {
  return { status: 200, body: JSON.stringify({ errcode, errmsg }) };
}

function str(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** Text the keyword check looks at, per message type. */
function keywordText(type: string, part: Record<string, unknown>): string {
  if (type === 'feedCard')
    return ((part.links as Record<string, unknown>[]) ?? []).map((l) => String(l?.title ?? '')).join('\n');
  return [part.content, part.title, part.text].filter((v) => typeof v === 'string').join('\n');
}

export class DingtalkDouble {
  readonly robots = new Map<string, DingtalkRobot>();
  readonly #window = new RateWindow(20, 60_000);
  readonly #penaltyUntil = new Map<string, number>();

  constructor(private readonly penaltyMs: number = PENALTY_MS) {}

  reset(): void {
    this.#window.reset();
    this.#penaltyUntil.clear();
  }

  handle(call: IncomingCall): HandlerResult {
    const robot = this.robots.get(call.query.get('access_token') ?? '');
    if (!robot) return answer(300001, 'token is not exist');
    const contentType = String(call.headers['content-type'] ?? '');
    if (!/^application\/json/i.test(contentType)) return answer(43004, '无效的HTTP HEADER Content-Type');
    if (call.body.length > BODY_MAX_BYTES) {
      return answer(460101, 'description: body 大小不合法;solution:请保持大小在 20000bytes 以内;');
    }
    const security = this.security(robot, call);
    if (security) return answer(310000, security);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(call.body.toString('utf8'));
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    } catch {
      return answer(40035, '缺少参数 json');
    }
    const type = body.msgtype;
    if (!str(type)) return answer(40035, '缺少参数 msgtype');
    if (!MSG_TYPES.includes(type)) return answer(400105, '不支持的消息类型');
    const part = body[type] as Record<string, unknown> | undefined;
    const missing = this.missingField(type, part);
    if (missing) return answer(40035, `缺少参数 ${missing}`);
    if (robot.keywords?.length && !robot.keywords.some((k) => keywordText(type, part!).includes(k))) {
      return answer(310000, 'keywords not in content');
    }
    const now = call.now.getTime();
    const until = this.#penaltyUntil.get(robot.token) ?? 0;
    if (now < until) return answer(130101, 'send too fast, exceed 20 times per minute');
    if (this.#window.full(robot.token, now)) {
      this.#penaltyUntil.set(robot.token, now + this.penaltyMs);
      return answer(130101, 'send too fast, exceed 20 times per minute');
    }
    this.#window.hit(robot.token, now);
    return { ...answer(0, 'ok'), accepted: { robot: robot.token, type, body } };
  }

  /** Signature (decoded from the query exactly once), then the IP list. */
  private security(robot: DingtalkRobot, call: IncomingCall): string | null {
    if (robot.secret) {
      const timestamp = call.query.get('timestamp') ?? '';
      const sign = call.query.get('sign') ?? '';
      if (!/^\d{13}$/.test(timestamp) || Math.abs(call.now.getTime() - Number(timestamp)) > SIGN_WINDOW_MS) {
        return 'invalid timestamp';
      }
      const expected = expectedSign(timestamp, robot.secret);
      const given = Buffer.from(sign);
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'sign not match';
    }
    if (!ipAllowed(call.remoteAddress, robot.ipAllowList))
      return `ip ${call.remoteAddress.replace(/^::ffff:/, '')} not in whitelist`;
    return null;
  }

  private missingField(type: string, part: Record<string, unknown> | undefined): string | null {
    if (!part || typeof part !== 'object') return type;
    switch (type) {
      case 'text':
        return str(part.content) ? null : 'text.content';
      case 'link':
        for (const field of ['title', 'text', 'messageUrl']) if (!str(part[field])) return `link.${field}`;
        return null;
      case 'markdown':
        for (const field of ['title', 'text']) if (!str(part[field])) return `markdown.${field}`;
        return null;
      case 'actionCard':
        for (const field of ['title', 'text']) if (!str(part[field])) return `actionCard.${field}`;
        if (str(part.singleTitle) && str(part.singleURL)) return null;
        return Array.isArray(part.btns) && part.btns.length > 0 ? null : 'actionCard.singleURL';
      case 'feedCard':
        return Array.isArray(part.links) && part.links.length > 0 ? null : 'feedCard.links';
      default:
        return null;
    }
  }
}

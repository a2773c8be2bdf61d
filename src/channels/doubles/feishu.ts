// Feishu/Lark custom bot double: POST /open-apis/bot/v2/hook/:hookId (reference §3).
// Its figures and its signature check are written here from the reference, not taken from
// the adapter (feishu/), so a mistake there fails the tests instead of agreeing with itself.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ipAllowed } from './ip-list.js';
import { RateWindow } from './rate-window.js';
import type { FeishuRobot, HandlerResult, IncomingCall } from './types.js';

const MSG_TYPES = ['text', 'post', 'image', 'share_chat', 'interactive'];
/** "request body ≤ 20 KB; too big or malformed gives 9499". */
const BODY_MAX_BYTES = 20 * 1024;
/** "the timestamp must be within 1 hour". */
const SIGN_WINDOW_MS = 3_600_000;

/**
 * "sign = Base64(HMAC-SHA256(key = timestamp + "\n" + secret, data = empty))", the timestamp
 * in seconds as sent: the string is the key, the opposite of DingTalk.
 */
function expectedSign(timestamp: string, secret: string): Buffer {
  const mac = createHmac('sha256', Buffer.from(timestamp + '\n' + secret, 'utf8'));
  return Buffer.from(mac.digest().toString('base64'), 'utf8');
}

export const FEISHU_SUCCESS = { StatusCode: 0, StatusMessage: 'success', code: 0, data: {}, msg: 'success' };

function answer(code: number, msg: string, status = 200): HandlerResult {
  return { status, body: JSON.stringify(code === 0 ? FEISHU_SUCCESS : { code, data: {}, msg }) };
}

/** Keywords are checked on text values only (`text`, `title`, `content` strings), never on href. */
function textValues(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) textValues(item, out);
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (typeof item === 'string' && (key === 'text' || key === 'title' || key === 'content')) out.push(item);
      else if (typeof item === 'object') textValues(item, out);
    }
  }
  return out;
}

function shapeProblem(type: string, body: Record<string, unknown>): boolean {
  const content = body.content as Record<string, unknown> | undefined;
  switch (type) {
    case 'text':
      return typeof content?.text !== 'string' || !content.text;
    case 'post': {
      const post = content?.post as Record<string, { content?: unknown }> | undefined;
      const languages = post && typeof post === 'object' ? Object.values(post) : [];
      return languages.length === 0 || languages.some((lang) => !Array.isArray(lang?.content));
    }
    case 'image':
      return typeof content?.image_key !== 'string' || !content.image_key.startsWith('img_');
    case 'share_chat':
      return typeof content?.share_chat_id !== 'string';
    case 'interactive':
      // The card goes in a top-level "card" field, not in content.
      return !body.card || typeof body.card !== 'object';
    default:
      return true;
  }
}

export class FeishuDouble {
  readonly robots = new Map<string, FeishuRobot>();
  readonly #perSecond = new RateWindow(5, 1_000);
  readonly #perMinute = new RateWindow(100, 60_000);

  reset(): void {
    this.#perSecond.reset();
    this.#perMinute.reset();
  }

  handle(call: IncomingCall): HandlerResult {
    const robot = this.robots.get(call.robot);
    if (!robot) return answer(19001, 'param invalid: incoming webhook access token invalid');
    if (call.body.length > BODY_MAX_BYTES) return answer(9499, 'Bad Request', 400);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(call.body.toString('utf8'));
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    } catch {
      return answer(9499, 'Bad Request: fail to parse content', 400);
    }
    if (robot.secret) {
      const timestamp = typeof body.timestamp === 'string' ? body.timestamp : '';
      const sign = typeof body.sign === 'string' ? body.sign : '';
      const inWindow =
        /^\d{10}$/.test(timestamp) && Math.abs(call.now.getTime() - Number(timestamp) * 1000) <= SIGN_WINDOW_MS;
      const expected = inWindow ? expectedSign(timestamp, robot.secret) : Buffer.alloc(0);
      const given = Buffer.from(sign);
      if (!inWindow || expected.length !== given.length || !timingSafeEqual(expected, given)) {
        return answer(19021, 'sign match fail or timestamp is not within one hour from current time');
      }
    }
    if (!ipAllowed(call.remoteAddress, robot.ipAllowList)) return answer(19022, 'Ip Not Allowed');
    const type = body.msg_type;
    if (typeof type !== 'string' || !MSG_TYPES.includes(type) || shapeProblem(type, body)) {
      return answer(9499, 'Bad Request', 400);
    }
    if (robot.keywords?.length) {
      const texts = textValues(type === 'interactive' ? body.card : body.content);
      if (!robot.keywords.some((k) => texts.some((t) => t.includes(k)))) return answer(19024, 'Key Words Not Found');
    }
    const now = call.now.getTime();
    if (this.#perSecond.full(robot.hookId, now) || this.#perMinute.full(robot.hookId, now)) {
      return robot.throttleAnswer === '9499'
        ? answer(9499, 'too many request', 400)
        : answer(11232, 'frequency limited psm[lark.oapi.app_platform_runtime]appID[0]');
    }
    this.#perSecond.hit(robot.hookId, now);
    this.#perMinute.hit(robot.hookId, now);
    return { ...answer(0, 'success'), accepted: { robot: robot.hookId, type, body } };
  }
}

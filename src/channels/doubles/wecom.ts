// WeCom group robot double: POST /cgi-bin/webhook/send?key=KEY (reference §1).
// Its limits and its image check are written here from the reference, not taken from the
// adapter (wecom/, image-type.ts), so a mistake there fails the tests instead of agreeing.
import { createHash } from 'node:crypto';
import { RateWindow } from './rate-window.js';
import type { HandlerResult, IncomingCall, WecomRobot } from './types.js';

const MSG_TYPES = ['text', 'markdown', 'markdown_v2', 'image', 'news', 'file', 'voice', 'template_card'];
/** "the older doc said 2048" (the 2025 doc 4096): the double refuses beyond 2048 unless a robot says otherwise. */
const TEXT_MAX_BYTES = 2048;
/** "markdown … ≤ 4096 bytes" (markdown_v2 likewise). */
const MARKDOWN_MAX_BYTES = 4096;
/** "Raw file ≤ 2 MB, JPG or PNG". */
const IMAGE_MAX_BYTES = 2 * 1024 * 1024;
/** "1–8 articles; title ≤ 128 bytes and description ≤ 512 bytes (longer is cut, not rejected)". */
const NEWS_MAX_ARTICLES = 8;
const NEWS_TITLE_MAX_BYTES = 128;
const NEWS_DESCRIPTION_MAX_BYTES = 512;

/**
 * A picture WeCom could show: a PNG (signature, then the IHDR chunk first) or a JPEG (SOI
 * marker at the start, EOI at the end). Stricter than the adapter's magic-byte check on
 * purpose: a truncated file passes there and is refused here, as a decoder would refuse it.
 */
function isShowableJpegOrPng(data: Buffer): boolean {
  const png =
    data.length >= 33 &&
    data.readUInt32BE(0) === 0x89504e47 &&
    data.readUInt32BE(4) === 0x0d0a1a0a &&
    data.toString('latin1', 12, 16) === 'IHDR';
  const jpeg = data.length >= 4 && data[0] === 0xff && data[1] === 0xd8 && data.at(-2) === 0xff && data.at(-1) === 0xd9;
  return png || jpeg;
}

function answer(errcode: number, errmsg: string, ip: string): HandlerResult {
  const text =
    errcode === 0
      ? 'ok'
      : `${errmsg}, hint: [${Date.now()}_double], from ip: ${ip}, more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`;
  return { status: 200, body: JSON.stringify({ errcode, errmsg: text }) };
}

function bytes(value: unknown): number {
  return Buffer.byteLength(String(value ?? ''), 'utf8');
}

/** Cuts to a UTF-8 byte length on a character boundary (WeCom cuts news titles, it does not refuse). */
function cut(text: string, max: number): string {
  let out = '';
  for (const char of text) {
    if (bytes(out + char) > max) break;
    out += char;
  }
  return out;
}

export class WecomDouble {
  readonly robots = new Map<string, WecomRobot>();
  readonly #window = new RateWindow(20, 60_000);

  reset(): void {
    this.#window.reset();
  }

  handle(call: IncomingCall): HandlerResult {
    const ip = call.remoteAddress;
    const robot = this.robots.get(call.query.get('key') ?? '');
    if (!robot) return answer(93000, 'invalid webhook url, please check your webhook key', ip);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(call.body.toString('utf8'));
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    } catch {
      return answer(40058, 'Warning: wrong json format. invalid Request Parameter', ip);
    }
    const type = body.msgtype;
    if (typeof type !== 'string' || !MSG_TYPES.includes(type)) return answer(40008, 'invalid message type', ip);
    const part = body[type] as Record<string, unknown> | undefined;
    if (!part || typeof part !== 'object') return answer(40058, `missing field ${type}`, ip);
    const problem = this.validate(type, part, robot);
    if (problem) return answer(problem[0], problem[1], ip);
    const now = call.now.getTime();
    if (this.#window.full(robot.key, now)) return answer(45009, 'api freq out of limit', ip);
    this.#window.hit(robot.key, now);
    if (type === 'news') {
      // Longer titles and descriptions are cut, not refused: record what the group would see.
      for (const article of (part.articles as Record<string, unknown>[]) ?? []) {
        article.title = cut(String(article.title), NEWS_TITLE_MAX_BYTES);
        if (article.description !== undefined) {
          article.description = cut(String(article.description), NEWS_DESCRIPTION_MAX_BYTES);
        }
      }
    }
    return { ...answer(0, 'ok', ip), accepted: { robot: robot.key, type, body } };
  }

  private validate(type: string, part: Record<string, unknown>, robot: WecomRobot): [number, string] | null {
    switch (type) {
      case 'text': {
        if (typeof part.content !== 'string') return [40058, 'missing field text.content'];
        if (!part.content.trim()) return [44004, 'empty content'];
        const max = robot.textMaxBytes ?? TEXT_MAX_BYTES;
        if (bytes(part.content) > max)
          return [40058, `text.content exceed max length ${max}. invalid Request Parameter`];
        return null;
      }
      case 'markdown':
      case 'markdown_v2': {
        if (typeof part.content !== 'string') return [40058, `missing field ${type}.content`];
        if (!part.content.trim()) return [44004, 'empty content'];
        if (bytes(part.content) > MARKDOWN_MAX_BYTES) {
          return [40058, `${type}.content exceed max length ${MARKDOWN_MAX_BYTES}. invalid Request Parameter`];
        }
        return null;
      }
      case 'image': {
        // The codes for image failures are unverified (reference §1); 40058 is WeCom's parameter error.
        if (typeof part.base64 !== 'string' || typeof part.md5 !== 'string')
          return [40058, 'missing field image.base64 or image.md5'];
        const data = Buffer.from(part.base64, 'base64');
        if (data.length === 0) return [44004, 'empty content'];
        if (data.length > IMAGE_MAX_BYTES) return [40058, 'image size exceed max limit 2M. invalid Request Parameter'];
        if (!isShowableJpegOrPng(data)) return [40058, 'image type must be jpg or png. invalid Request Parameter'];
        if (createHash('md5').update(data).digest('hex') !== part.md5.toLowerCase()) {
          return [40058, 'image md5 not match. invalid Request Parameter'];
        }
        return null;
      }
      case 'news': {
        const articles = part.articles;
        if (!Array.isArray(articles) || articles.length < 1 || articles.length > NEWS_MAX_ARTICLES) {
          return [40058, `news.articles size must be between 1 and ${NEWS_MAX_ARTICLES}. invalid Request Parameter`];
        }
        for (const article of articles as Record<string, unknown>[]) {
          if (typeof article?.title !== 'string' || !article.title) return [40058, 'missing field news.articles.title'];
          if (typeof article.url !== 'string' || !article.url) return [40058, 'missing field news.articles.url'];
        }
        return null;
      }
      case 'file':
      case 'voice':
        // The double offers no upload_media, so no media_id it could know is valid.
        return typeof part.media_id === 'string' && part.media_id
          ? [40058, 'invalid media_id. invalid Request Parameter']
          : [40058, `missing field ${type}.media_id`];
      case 'template_card':
        if (part.card_type !== 'text_notice' && part.card_type !== 'news_notice') return [40058, 'invalid card_type'];
        if (!part.card_action || typeof part.card_action !== 'object')
          return [40058, 'missing field template_card.card_action'];
        return null;
      default:
        return [40008, 'invalid message type'];
    }
  }
}

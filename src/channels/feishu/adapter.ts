// Feishu/Lark custom bot: POST {base}/open-apis/bot/v2/hook/HOOK_ID. Markdown and link
// cards become rich-text "post" messages; images need an image_key the bot cannot upload,
// so a picture goes as a link to its public URL. Facts: reference §3.
import type { FeishuCredentials } from './credentials.js';
import type { Clock } from '../../lib/clock.js';
import { postJson } from '../http-post.js';
import type { Outbound } from '../outbound.js';
import { answerWithoutCode, jsonObject, tidyPlatformMessage, transportOutcome } from '../outcome.js';
import type { ChannelAdapter, ChannelMessage, Outcome } from '../types.js';
import { FEISHU_ANSWER_CLASSES, FEISHU_BODY_MAX_BYTES, FEISHU_RATE_LIMITS, FEISHU_THROTTLE_WAIT_MS } from './limits.js';
import { feishuSign } from './sign.js';

export interface FeishuOptions {
  /** Decides which addresses may be posted to (outbound.ts). */
  outbound: Outbound;
  baseUrl: string;
  timeoutMs: number;
  clock: Clock;
}

type PostElement = { tag: 'text'; text: string } | { tag: 'a'; text: string; href: string };

/** An unescaped markdown link: the render room escapes brackets typed in a notice, so these are its own. */
const LINK = /(?<!\\)\[((?:\\.|[^\]\\])+)\]\(([^)\s]+)\)/g;

/**
 * Markdown text → what a Feishu "post" text element shows: a post is not markdown, so the
 * render room's markdown escaping (\*, \#, &lt;) is undone and emphasis marks dropped;
 * residents must read "<script>" and "{{#each", not "&lt;script\>" and "{{\#each".
 */
function postText(markdown: string): string {
  return markdown
    .replace(/^#{1,6}\s*|^>\s?/, '')
    .replace(/(?<!\\)\*\*/g, '')
    .replace(/\\([\\`*_[\]#>|])|&lt;/g, (_escaped, char: string | undefined) => char ?? '<');
}

/** One markdown line → text and link elements. */
function lineElements(line: string): PostElement[] {
  const elements: PostElement[] = [];
  let last = 0;
  for (const match of line.matchAll(LINK)) {
    if (match.index > last) elements.push({ tag: 'text', text: postText(line.slice(last, match.index)) });
    elements.push({ tag: 'a', text: postText(match[1]!), href: match[2]! });
    last = match.index + match[0].length;
  }
  if (last < line.length) elements.push({ tag: 'text', text: postText(line.slice(last)) });
  return elements.filter((element) => element.tag === 'a' || element.text);
}

function post(title: string, paragraphs: PostElement[][]): object {
  return { msg_type: 'post', content: { post: { zh_cn: { title, content: paragraphs } } } };
}

/** Keywords are checked on text values only (not href): add it as text where it is missing. */
function keywordParagraph(keyword: string | null, texts: string[]): PostElement[][] {
  return keyword && !texts.some((text) => text.includes(keyword)) ? [[{ tag: 'text', text: keyword }]] : [];
}

export function feishuBody(message: ChannelMessage, keyword: string | null): object | Outcome {
  if (message.type === 'image') {
    const { publicUrl, title = '图片', url } = message.image;
    if (!publicUrl) {
      return {
        status: 'permanent',
        code: 'unsupported_message',
        message: '飞书自定义机器人不能上传图片，需提供图片的公网地址',
        groupProblem: false,
      };
    }
    const links: PostElement[][] = [[{ tag: 'a', text: '查看图片', href: publicUrl }]];
    if (url) links.push([{ tag: 'a', text: '详情', href: url }]);
    return post(title, [...links, ...keywordParagraph(keyword, [title])]);
  }
  const { card } = message;
  if (card.format === 'text') {
    const text = keyword && !card.content.includes(keyword) ? `${card.content}\n${keyword}` : card.content;
    return { msg_type: 'text', content: { text } };
  }
  const lines = card.content.split('\n').filter((line) => line.trim());
  // The post's title is shown above its content: the card's heading line repeating it is left out.
  const heading = lines.findIndex((line, i) => i < 2 && /^#/.test(line) && postText(line).trim() === card.title.trim());
  if (card.format === 'markdown' && heading >= 0) lines.splice(heading, 1);
  const paragraphs =
    card.format === 'markdown'
      ? lines.map(lineElements).filter((elements) => elements.length > 0)
      : [
          ...lines.map((line) => [{ tag: 'text', text: line } as PostElement]),
          [{ tag: 'a', text: '查看详情', href: card.url } as PostElement],
        ];
  const texts = [card.title, ...paragraphs.flat().map((element) => element.text)];
  return post(card.title, [...paragraphs, ...keywordParagraph(keyword, texts)]);
}

/** The request body as posted: signed robots get timestamp and sign as top-level fields. */
export function feishuSignedBody(body: object, secret: string | null, now: Date): object {
  if (!secret) return body;
  const timestamp = String(Math.floor(now.getTime() / 1000));
  return { timestamp, sign: feishuSign(timestamp, secret), ...body };
}

/** Every code of the reference's Feishu table. */
export function classifyFeishu(code: number, msg: unknown): Outcome {
  const text = tidyPlatformMessage(msg);
  const message = `飞书 ${code}：${text}`;
  const id = `feishu_${code}`;
  switch (code) {
    case 0:
      return { status: 'sent' };
    case 11232:
      return { status: 'retryable', code: id, message, retryAfterMs: FEISHU_THROTTLE_WAIT_MS };
    case 9499:
      // Both "Bad Request" and "too many request" come as 9499; only the latter may be retried.
      return /too many request/i.test(text)
        ? { status: 'retryable', code: id, message, retryAfterMs: FEISHU_THROTTLE_WAIT_MS }
        : { status: 'permanent', code: id, message, groupProblem: false };
    case 19001: // incoming webhook access token invalid
    case 19007: // bot not enabled
    case 19021: // sign match fail or timestamp out of window: fix the secret (or the clock)
    case 19022: // IP not allowed
    case 19024: // keywords not found: the group's keyword setting differs from ours
      return { status: 'permanent', code: id, message, groupProblem: true };
    case 19002: // other param invalid
    case 19036: // message over the (older) size limit
      return { status: 'permanent', code: id, message, groupProblem: false };
    default:
      return { status: 'permanent', code: id, message, groupProblem: false };
  }
}

export function createFeishuAdapter(options: FeishuOptions): ChannelAdapter {
  return {
    kind: 'feishu',
    rateLimits: FEISHU_RATE_LIMITS,
    async send(target, message, sendOptions) {
      const credentials = target.credentials as FeishuCredentials;
      const body = feishuBody(message, credentials.keyword);
      if ('status' in body) return body as Outcome;
      const json = JSON.stringify(feishuSignedBody(body, credentials.secret, options.clock.now()));
      if (Buffer.byteLength(json, 'utf8') > FEISHU_BODY_MAX_BYTES) {
        return { status: 'permanent', code: 'body_too_large', message: '消息超过飞书 20KB 上限', groupProblem: false };
      }
      const url = `${options.baseUrl}/open-apis/bot/v2/hook/${encodeURIComponent(credentials.hookId)}`;
      const result = await postJson(url, json, {
        outbound: options.outbound,
        timeoutMs: options.timeoutMs,
        signal: sendOptions?.signal,
      });
      if (result.kind !== 'answered') return transportOutcome(result);
      const answer = jsonObject(result.body);
      // Judge by `code`, falling back to the legacy `StatusCode`.
      const code = typeof answer?.code === 'number' ? answer.code : answer?.StatusCode;
      if (!answer || typeof code !== 'number' || result.status >= 500)
        return answerWithoutCode(result.status, result.body, FEISHU_ANSWER_CLASSES);
      return classifyFeishu(code, answer.msg ?? answer.StatusMessage);
    },
  };
}

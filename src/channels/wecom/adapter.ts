// WeCom (企业微信) group robot: POST {base}/cgi-bin/webhook/send?key=KEY. The key alone
// authorises (no signing). Facts: ../shared/reference/chat-robot-webhooks.md §1.
import { createHash } from 'node:crypto';
import type { WecomCredentials } from './credentials.js';
import { postJson } from '../http-post.js';
import type { Outbound } from '../outbound.js';
import { answerWithoutCode, jsonObject, tidyPlatformMessage, transportOutcome } from '../outcome.js';
import type { ChannelAdapter, ChannelMessage, Outcome } from '../types.js';
import { isJpegOrPng } from '../image-type.js';
import {
  WECOM_ANSWER_CLASSES,
  WECOM_IMAGE_MAX_BYTES,
  WECOM_MARKDOWN_MAX_BYTES,
  WECOM_RATE_LIMITS,
  WECOM_TEXT_MAX_BYTES,
  WECOM_THROTTLE_WAIT_MS,
} from './limits.js';

export interface WecomOptions {
  /** Decides which addresses may be posted to (outbound.ts). */
  outbound: Outbound;
  baseUrl: string;
  timeoutMs: number;
  textMaxBytes?: number;
}

/** The request body for a message, or an outcome when it cannot be sent as is. */
export function wecomBody(message: ChannelMessage, textMaxBytes = WECOM_TEXT_MAX_BYTES): object | Outcome {
  if (message.type === 'image') {
    const { data } = message.image;
    if (data.length > WECOM_IMAGE_MAX_BYTES || !isJpegOrPng(data)) {
      return {
        status: 'permanent',
        code: 'image_invalid',
        message: '图片须为不超过 2MB 的 JPG/PNG',
        groupProblem: false,
      };
    }
    return {
      msgtype: 'image',
      image: { base64: data.toString('base64'), md5: createHash('md5').update(data).digest('hex') },
    };
  }
  const { card } = message;
  const bytes = Buffer.byteLength(card.content, 'utf8');
  if (card.format === 'text') {
    if (bytes > textMaxBytes) return tooLong('文本', textMaxBytes);
    return { msgtype: 'text', text: { content: card.content } };
  }
  if (card.format === 'markdown') {
    if (bytes > WECOM_MARKDOWN_MAX_BYTES) return tooLong('markdown', WECOM_MARKDOWN_MAX_BYTES);
    return { msgtype: 'markdown', markdown: { content: card.content } };
  }
  const article: Record<string, string> = { title: card.title, description: card.content, url: card.url };
  if (card.pictureUrl) article.picurl = card.pictureUrl;
  return { msgtype: 'news', news: { articles: [article] } };
}

function tooLong(what: string, limit: number): Outcome {
  return {
    status: 'permanent',
    code: 'content_too_long',
    message: `${what}内容超过 ${limit} 字节`,
    groupProblem: false,
  };
}

/** Every errcode of the reference's WeCom table. Unknown codes fail permanently, without blaming the group. */
export function classifyWecom(errcode: number, errmsg: unknown): Outcome {
  const message = `企业微信 ${errcode}：${tidyPlatformMessage(errmsg)}`;
  const code = `wecom_${errcode}`;
  switch (errcode) {
    case 0:
      return { status: 'sent' };
    case 45009:
      return { status: 'retryable', code, message, retryAfterMs: WECOM_THROTTLE_WAIT_MS };
    case 93000: // invalid webhook url: key wrong or robot removed
      return { status: 'permanent', code, message, groupProblem: true };
    case 40058: // invalid parameter / too long
    case 40008: // invalid message type
    case 44004: // empty content
      return { status: 'permanent', code, message, groupProblem: false };
    default:
      return { status: 'permanent', code, message, groupProblem: false };
  }
}

export function createWecomAdapter(options: WecomOptions): ChannelAdapter {
  return {
    kind: 'wecom',
    rateLimits: WECOM_RATE_LIMITS,
    async send(target, message, sendOptions) {
      const credentials = target.credentials as WecomCredentials;
      const body = wecomBody(message, options.textMaxBytes);
      if ('status' in body) return body as Outcome;
      const url = `${options.baseUrl}/cgi-bin/webhook/send?key=${encodeURIComponent(credentials.key)}`;
      const result = await postJson(url, JSON.stringify(body), {
        outbound: options.outbound,
        timeoutMs: options.timeoutMs,
        signal: sendOptions?.signal,
      });
      if (result.kind !== 'answered') return transportOutcome(result);
      const answer = jsonObject(result.body);
      if (!answer || typeof answer.errcode !== 'number' || result.status >= 500)
        return answerWithoutCode(result.status, result.body, WECOM_ANSWER_CLASSES);
      return classifyWecom(answer.errcode, answer.errmsg);
    },
  };
}

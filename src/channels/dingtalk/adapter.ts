// DingTalk custom robot: POST {base}/robot/send?access_token=T[&timestamp=ms&sign=S].
// No image type: pictures only by public URL (markdown ![](url)). Facts: reference §2.
import type { DingtalkCredentials } from './credentials.js';
import type { Clock } from '../../lib/clock.js';
import { postJson } from '../http-post.js';
import type { Outbound } from '../outbound.js';
import { answerWithoutCode, jsonObject, tidyPlatformMessage, transportOutcome } from '../outcome.js';
import type { ChannelAdapter, ChannelMessage, Outcome } from '../types.js';
import {
  DINGTALK_ANSWER_CLASSES,
  DINGTALK_BODY_MAX_BYTES, DINGTALK_IP_BAN_MS, DINGTALK_PENALTY_MS, DINGTALK_RATE_LIMITS } from './limits.js';
import { dingtalkSign } from './sign.js';

export interface DingtalkOptions {
  /** Decides which addresses may be posted to (outbound.ts). */
  outbound: Outbound;
  baseUrl: string;
  timeoutMs: number;
  clock: Clock;
}

/** A robot with keyword security refuses messages without one: add it where it is missing. */
function withKeyword(text: string, keyword: string | null): string {
  return keyword && !text.includes(keyword) ? `${text}\n\n${keyword}` : text;
}

export function dingtalkBody(message: ChannelMessage, keyword: string | null): object | Outcome {
  if (message.type === 'image') {
    const { publicUrl, title, url } = message.image;
    if (!publicUrl) {
      return {
        status: 'permanent',
        code: 'unsupported_message',
        message: '钉钉机器人不能直接发送图片文件，需提供图片的公网地址',
        groupProblem: false,
      };
    }
    const heading = title ?? '图片';
    const text = `![${heading}](${publicUrl})${url ? `\n\n[详情](${url})` : ''}`;
    return { msgtype: 'markdown', markdown: { title: heading, text: withKeyword(text, keyword) } };
  }
  const { card } = message;
  if (card.format === 'text') return { msgtype: 'text', text: { content: withKeyword(card.content, keyword) } };
  if (card.format === 'markdown') {
    return { msgtype: 'markdown', markdown: { title: card.title, text: withKeyword(card.content, keyword) } };
  }
  const link: Record<string, string> = {
    title: card.title,
    text: withKeyword(card.content, keyword),
    messageUrl: card.url,
  };
  if (card.pictureUrl) link.picUrl = card.pictureUrl;
  return { msgtype: 'link', link };
}

/** Every errcode of the reference's DingTalk table. */
export function classifyDingtalk(errcode: number, errmsg: unknown): Outcome {
  const text = tidyPlatformMessage(errmsg);
  const message = `钉钉 ${errcode}：${text}`;
  const code = `dingtalk_${errcode}`;
  switch (errcode) {
    case 0:
      return { status: 'sent' };
    case 130101:
    case 410100: // sending too fast: the robot is throttled for 10 minutes
      return { status: 'retryable', code, message, retryAfterMs: DINGTALK_PENALTY_MS };
    case -1: // system busy
      return { status: 'retryable', code, message };
    case 310000: {
      // Security check: keyword / signature / IP are the group's settings; a timestamp
      // failure is our clock's, so the group is not to blame for it.
      const clockProblem = /timestamp/i.test(text);
      return { status: 'permanent', code, message, groupProblem: !clockProblem };
    }
    case 300001:
    case 300005: // token does not exist
    case 400013: // group dissolved
    case 400101:
    case 400106: // access token / robot does not exist
    case 400102: // robot disabled
    case 90030: // webhook over the plan's monthly limit: needs an admin
      return { status: 'permanent', code, message, groupProblem: true };
    case 400105: // unsupported msgtype
    case 430101:
    case 430102:
    case 430103:
    case 430104: // content refused
    case 40035: // missing parameter
    case 43004: // invalid Content-Type
    case 460101: // body over 20 000 bytes
      return { status: 'permanent', code, message, groupProblem: false };
    default:
      return { status: 'permanent', code, message, groupProblem: false };
  }
}

/** Platform protection blocks an IP for 5 minutes: a JSON {status:1111,wait:5,…} or an HTML page. */
function ipBan(status: number, body: string, answer: Record<string, unknown> | null): Outcome | null {
  if (answer && answer.status === 1111) {
    const waitMinutes = typeof answer.wait === 'number' ? answer.wait : 5;
    return {
      status: 'retryable',
      code: 'dingtalk_ip_ban',
      message: '钉钉平台限制了本机 IP',
      retryAfterMs: waitMinutes * 60_000,
    };
  }
  if (status === 200 && !answer && /<html/i.test(body)) {
    return {
      status: 'retryable',
      code: 'dingtalk_ip_ban',
      message: '钉钉返回了网页而非 JSON（平台保护限流）',
      retryAfterMs: DINGTALK_IP_BAN_MS,
    };
  }
  return null;
}

export function createDingtalkAdapter(options: DingtalkOptions): ChannelAdapter {
  return {
    kind: 'dingtalk',
    rateLimits: DINGTALK_RATE_LIMITS,
    async send(target, message, sendOptions) {
      const credentials = target.credentials as DingtalkCredentials;
      const body = dingtalkBody(message, credentials.keyword);
      if ('status' in body) return body as Outcome;
      const json = JSON.stringify(body);
      if (Buffer.byteLength(json, 'utf8') > DINGTALK_BODY_MAX_BYTES) {
        return {
          status: 'permanent',
          code: 'body_too_large',
          message: '消息超过钉钉 20000 字节上限',
          groupProblem: false,
        };
      }
      let url = `${options.baseUrl}/robot/send?access_token=${encodeURIComponent(credentials.accessToken)}`;
      if (credentials.secret) {
        const timestamp = options.clock.now().getTime();
        url += `&timestamp=${timestamp}&sign=${encodeURIComponent(dingtalkSign(timestamp, credentials.secret))}`;
      }
      const result = await postJson(url, json, {
        outbound: options.outbound,
        timeoutMs: options.timeoutMs,
        signal: sendOptions?.signal,
      });
      if (result.kind !== 'answered') return transportOutcome(result);
      const answer = jsonObject(result.body);
      const banned = ipBan(result.status, result.body, answer);
      if (banned) return banned;
      if (result.status === 302) {
        // Reported (unverified) for calls during the throttle penalty.
        return {
          status: 'retryable',
          code: 'dingtalk_302',
          message: '钉钉限流中（HTTP 302）',
          retryAfterMs: DINGTALK_PENALTY_MS,
        };
      }
      if (!answer || typeof answer.errcode !== 'number' || result.status >= 500) {
        return answerWithoutCode(result.status, result.body, DINGTALK_ANSWER_CLASSES);
      }
      return classifyDingtalk(answer.errcode, answer.errmsg);
    },
  };
}

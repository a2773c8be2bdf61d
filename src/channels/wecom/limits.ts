// WeCom group robot limits. Source: ../shared/reference/chat-robot-webhooks.md §1
// (WeCom "消息推送配置说明", doc 99110 rev. 2025-08, and the older 91770).
import { type AnswerClass, MAYBE_POSTED_HTTP, NOT_POSTED_HTTP } from '../outcome.js';
import type { RateLimit } from '../types.js';

export const WECOM_RATE_LIMITS: readonly RateLimit[] = [
  { limit: 20, windowMs: 60_000, source: 'WeCom doc 99110: 20 messages per minute per robot (45009 beyond)' },
];
/** The 2025 doc says 4096, the older 2048; 2048 is the safe default (configurable). */
export const WECOM_TEXT_MAX_BYTES = 2048;
export const WECOM_MARKDOWN_MAX_BYTES = 4096;
/** Raw JPG/PNG before base64. */
export const WECOM_IMAGE_MAX_BYTES = 2 * 1024 * 1024;
export const WECOM_NEWS_MAX_ARTICLES = 8;
export const WECOM_NEWS_TITLE_MAX_BYTES = 128;
export const WECOM_NEWS_DESCRIPTION_MAX_BYTES = 512;
/** Client libraries wait 60–65 s after 45009. */
export const WECOM_THROTTLE_WAIT_MS = 65_000;

/**
 * What each answer says about the post (the reference's §1 error table, "retry?" column;
 * HTTP statuses without an errcode: outcome.ts). Only answers that certainly did not post
 * are retried; checked against classifyWecom by test/channels/answer-classes.test.ts.
 */
export const WECOM_ANSWER_CLASSES: readonly AnswerClass[] = [
  { answer: { code: 0 }, outcome: 'sent', source: 'reference §1: success, HTTP 200 {"errcode":0,"errmsg":"ok"}' },
  {
    answer: { code: 45009 },
    outcome: 'retryable',
    source: 'reference §1 table: 45009 frequency over limit (20/min), refused, retry after ~1 min',
  },
  { answer: { code: 93000 }, outcome: 'permanent', source: 'reference §1 table: 93000 invalid webhook url' },
  { answer: { code: 40058 }, outcome: 'permanent', source: 'reference §1 table: 40058 invalid parameter / too long' },
  { answer: { code: 40008 }, outcome: 'permanent', source: 'reference §1 table: 40008 invalid message type' },
  { answer: { code: 44004 }, outcome: 'permanent', source: 'reference §1 table: 44004 empty content' },
  ...NOT_POSTED_HTTP,
  ...MAYBE_POSTED_HTTP,
];

// Feishu/Lark custom bot limits. Source: ../shared/reference/chat-robot-webhooks.md §3
// (Feishu "自定义机器人使用指南").
import { type AnswerClass, MAYBE_POSTED_HTTP, NOT_POSTED_HTTP } from '../outcome.js';
import type { RateLimit } from '../types.js';

export const FEISHU_RATE_LIMITS: readonly RateLimit[] = [
  { limit: 5, windowMs: 1_000, source: 'Feishu custom bot guide: 5 requests per second per bot (11232 beyond)' },
  { limit: 100, windowMs: 60_000, source: 'Feishu custom bot guide: 100 requests per minute per bot (11232 beyond)' },
];
/** Request body limit (20 KB; a 2021 answer showed an older 30 KB). */
export const FEISHU_BODY_MAX_BYTES = 20 * 1024;
export const FEISHU_SIGN_WINDOW_MS = 60 * 60_000;
/** No wait is published for 11232; a second lets the per-second window pass. */
export const FEISHU_THROTTLE_WAIT_MS = 1_000;

/**
 * What each answer says about the post (the reference's §3 table, "retry?" column; HTTP
 * statuses without a code: outcome.ts). Only answers that certainly did not post are
 * retried; checked against classifyFeishu by test/channels/answer-classes.test.ts.
 */
export const FEISHU_ANSWER_CLASSES: readonly AnswerClass[] = [
  { answer: { code: 0 }, outcome: 'sent', source: 'reference §3: success, HTTP 200 {"code":0,…,"msg":"success"}' },
  {
    answer: { code: 11232 },
    outcome: 'retryable',
    source: 'reference §3 table: 11232 frequency limited (observed with HTTP 200, 2025), refused, retry',
  },
  {
    answer: { code: 9499, message: 'too many request' },
    outcome: 'retryable',
    source: 'reference §3 table: 9499 "too many request" (observed with HTTP 400, 2023), refused, retry',
  },
  {
    answer: { code: 9499, message: 'Bad Request' },
    outcome: 'permanent',
    source: 'reference §3 table: 9499 Bad Request (bad JSON, wrong shape, over 20 KB)',
  },
  ...[19001, 19002, 19007, 19021, 19022, 19024].map((code) => ({
    answer: { code },
    outcome: 'permanent' as const,
    source: `reference §3 table: ${code} (token, parameter, bot, signature, IP or keyword refused), not retried`,
  })),
  ...NOT_POSTED_HTTP,
  ...MAYBE_POSTED_HTTP,
];

// DingTalk custom robot limits. Source: ../shared/reference/chat-robot-webhooks.md §2
// (DingTalk open-platform pages on custom robots, message types and throttling).
import { type AnswerClass, MAYBE_POSTED_HTTP, NOT_POSTED_HTTP } from '../outcome.js';
import type { RateLimit } from '../types.js';

/** Exceeding 20/min throttles the robot for 10 minutes, so the engine must never breach it. */
export const DINGTALK_PENALTY_MS = 10 * 60_000;
export const DINGTALK_RATE_LIMITS: readonly RateLimit[] = [
  {
    limit: 20,
    windowMs: 60_000,
    penaltyMs: DINGTALK_PENALTY_MS,
    source: 'DingTalk custom robot: 20 messages per minute per robot; beyond, throttled for 10 minutes (130101/410100)',
  },
];
/** The whole JSON body; larger gets 460101. */
export const DINGTALK_BODY_MAX_BYTES = 20_000;
/** A signed timestamp must be within one hour of DingTalk's clock. */
export const DINGTALK_SIGN_WINDOW_MS = 60 * 60_000;
/** Platform protection: an IP is blocked for 5 minutes. */
export const DINGTALK_IP_BAN_MS = 5 * 60_000;

/**
 * What each answer says about the post (the reference's §2 error table, "retry?" column;
 * HTTP statuses without an errcode: outcome.ts). Only answers that certainly did not post
 * are retried; checked against classifyDingtalk by test/channels/answer-classes.test.ts.
 * Also retried: the platform protection's IP ban (a `{status:1111,…}` body or an HTML page
 * with HTTP 200, reference §2), which refuses the call before the robot sees it.
 */
export const DINGTALK_ANSWER_CLASSES: readonly AnswerClass[] = [
  { answer: { code: 0 }, outcome: 'sent', source: 'reference §2: success, HTTP 200 {"errcode":0,"errmsg":"ok"}' },
  {
    answer: { code: 130101 },
    outcome: 'retryable',
    source: 'reference §2 table: 130101 sending too fast (observed body), retry after the 10-minute penalty',
  },
  {
    answer: { code: 410100 },
    outcome: 'retryable',
    source: 'reference §2 table: 410100 sending too fast (DingTalk error table), retry after the penalty',
  },
  { answer: { code: -1 }, outcome: 'retryable', source: 'reference §2 table: -1 system busy, refused, retry' },
  {
    answer: { http: 302 },
    outcome: 'retryable',
    source: 'reference §2: HTTP 302 for calls during the throttle penalty (third-party, unverified)',
  },
  ...[300001, 300005, 310000, 400013, 400101, 400102, 400105, 400106, 430101, 430104, 40035, 43004, 460101].map(
    (code) => ({
      answer: { code },
      outcome: 'permanent' as const,
      source: `reference §2 table: ${code} (token, security, group, robot or content refused), not retried`,
    }),
  ),
  ...NOT_POSTED_HTTP,
  ...MAYBE_POSTED_HTTP,
];

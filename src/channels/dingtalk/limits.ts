// DingTalk custom robot limits. Source: ../shared/reference/chat-robot-webhooks.md §2
// (DingTalk open-platform pages on custom robots, message types and throttling).
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

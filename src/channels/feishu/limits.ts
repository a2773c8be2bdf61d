// Feishu/Lark custom bot limits. Source: ../shared/reference/chat-robot-webhooks.md §3
// (Feishu "自定义机器人使用指南").
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

// WeCom group robot limits. Source: ../shared/reference/chat-robot-webhooks.md §1
// (WeCom "消息推送配置说明", doc 99110 rev. 2025-08, and the older 91770).
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

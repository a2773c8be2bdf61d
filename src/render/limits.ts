// Every channel's published size limit, in one place. Source for all figures:
// ../shared/reference/chat-robot-webhooks.md (WeCom doc 99110 rev. 2025-08 and 91770,
// DingTalk custom-robot pages, Feishu "自定义机器人使用指南"). Byte limits count UTF-8.

/** WeCom text: the 2025 doc says 4096 bytes, the older one 2048; 2048 is the safe default. */
export const WECOM_TEXT_MAX_BYTES = 2048;
/** Upper bound an install may configure for WeCom text (the 2025 doc's figure). */
export const WECOM_TEXT_MAX_BYTES_CEILING = 4096;
/** WeCom customer-group mass send: text.content (customer-groups reference §3). */
export const WECOM_GROUP_TEXT_MAX_BYTES = 4000;
/** WeCom markdown and markdown_v2 content. */
export const WECOM_MARKDOWN_MAX_BYTES = 4096;
/** WeCom news (link card) article title and description; longer is cut by WeCom, not refused. */
export const WECOM_NEWS_TITLE_MAX_BYTES = 128;
export const WECOM_NEWS_DESCRIPTION_MAX_BYTES = 512;
/** WeCom image message: the raw JPG/PNG file before base64. */
export const WECOM_IMAGE_MAX_BYTES = 2 * 1024 * 1024;
/** DingTalk: the whole JSON request body. */
export const DINGTALK_BODY_MAX_BYTES = 20_000;
/** Feishu/Lark: the whole request body (20 KB; a 2021 answer showed an older 30 KB limit). */
export const FEISHU_BODY_MAX_BYTES = 20 * 1024;

/**
 * Generic webhook (a county's own platform): no published limit. Our own bound, so a card
 * stays a chat-sized message whatever the receiver does with it.
 */
export const WEBHOOK_CARD_MAX_BYTES = 16 * 1024;

/**
 * Room left for the JSON envelope (msgtype, field names, escaping of quotes and newlines)
 * when a channel limits the whole body rather than the content. JSON escaping can grow a
 * newline to two bytes, so a card body is kept well under the body limit.
 */
export const JSON_ENVELOPE_RESERVE_BYTES = 2_000;

export type ChannelFormat = 'text' | 'markdown' | 'link';

export interface ChannelLimits {
  text: number;
  markdown: number;
  /** Description of a link card. */
  link: number;
  /** Largest image file the channel takes (null: pictures only by URL, any size we serve). */
  image: number | null;
}

export const CHANNEL_LIMITS = {
  wecom: {
    text: WECOM_TEXT_MAX_BYTES,
    markdown: WECOM_MARKDOWN_MAX_BYTES,
    link: WECOM_NEWS_DESCRIPTION_MAX_BYTES,
    image: WECOM_IMAGE_MAX_BYTES,
  },
  dingtalk: {
    text: DINGTALK_BODY_MAX_BYTES - JSON_ENVELOPE_RESERVE_BYTES,
    markdown: DINGTALK_BODY_MAX_BYTES - JSON_ENVELOPE_RESERVE_BYTES,
    link: DINGTALK_BODY_MAX_BYTES - JSON_ENVELOPE_RESERVE_BYTES,
    image: null,
  },
  feishu: {
    text: FEISHU_BODY_MAX_BYTES - JSON_ENVELOPE_RESERVE_BYTES,
    markdown: FEISHU_BODY_MAX_BYTES - JSON_ENVELOPE_RESERVE_BYTES,
    link: FEISHU_BODY_MAX_BYTES - JSON_ENVELOPE_RESERVE_BYTES,
    image: null,
  },
  webhook: {
    text: WEBHOOK_CARD_MAX_BYTES,
    markdown: WEBHOOK_CARD_MAX_BYTES,
    link: WEBHOOK_CARD_MAX_BYTES,
    image: WECOM_IMAGE_MAX_BYTES,
  },
  /** Officers forward by hand into personal WeChat groups: keep a card readable and the image WeCom-sized. */
  manual: {
    text: WECOM_TEXT_MAX_BYTES,
    markdown: WECOM_MARKDOWN_MAX_BYTES,
    link: WECOM_NEWS_DESCRIPTION_MAX_BYTES,
    image: WECOM_IMAGE_MAX_BYTES,
  },
  /**
   * WeCom customer-group mass send (../shared/reference/wecom-customer-groups.md §3): text
   * ≤ 4,000 bytes, link description ≤ 512 bytes; the picture uploaded as media (2 MB read safe, §6).
   */
  wecom_group: {
    text: WECOM_GROUP_TEXT_MAX_BYTES,
    markdown: WECOM_GROUP_TEXT_MAX_BYTES,
    link: WECOM_NEWS_DESCRIPTION_MAX_BYTES,
    image: WECOM_IMAGE_MAX_BYTES,
  },
} as const satisfies Record<string, ChannelLimits>;

export type ChannelName = keyof typeof CHANNEL_LIMITS;
export const CHANNEL_NAMES = Object.keys(CHANNEL_LIMITS) as ChannelName[];

/** WeCom's text limit as an install configures it (2048 by default, at most 4096). */
export function wecomTextLimit(configured: number | undefined): number {
  if (configured === undefined) return WECOM_TEXT_MAX_BYTES;
  return Math.min(Math.max(configured, 1), WECOM_TEXT_MAX_BYTES_CEILING);
}

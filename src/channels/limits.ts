// Every channel's size limits and which channels take a picture file, in one place (the
// figures themselves are each platform's, cited in its own limits.ts; sources in
// ../shared/reference/chat-robot-webhooks.md). The engine, the test send and every preview
// read them from here through messageFor (message.ts).
import { DINGTALK_BODY_MAX_BYTES } from './dingtalk/limits.js';
import { FEISHU_BODY_MAX_BYTES } from './feishu/limits.js';
import type { ChannelKind } from './kinds.js';
import {
  WECOM_IMAGE_MAX_BYTES,
  WECOM_MARKDOWN_MAX_BYTES,
  WECOM_NEWS_DESCRIPTION_MAX_BYTES,
  WECOM_TEXT_MAX_BYTES,
} from './wecom/limits.js';

export { WECOM_IMAGE_MAX_BYTES, WECOM_NEWS_TITLE_MAX_BYTES, WECOM_TEXT_MAX_BYTES } from './wecom/limits.js';

/** Upper bound an install may configure for WeCom text (the 2025 doc's figure). */
export const WECOM_TEXT_MAX_BYTES_CEILING = 4096;
/** WeCom customer-group mass send: text.content (customer-groups reference §3). */
export const WECOM_GROUP_TEXT_MAX_BYTES = 4000;

/**
 * Generic webhook (a county's own platform): no published limit. Our own bound, so a card
 * stays a chat-sized message whatever the receiver does with it.
 */
export const WEBHOOK_CARD_MAX_BYTES = 16 * 1024;

/**
 * Room left for the JSON envelope when a channel limits the whole body rather than the
 * content (DingTalk, Feishu): the content limit a preview shows. Cards for those channels
 * are cut on the exact request body (request-body.ts), not on this figure.
 */
export const JSON_ENVELOPE_RESERVE_BYTES = 2_000;

export type ChannelFormat = 'text' | 'markdown' | 'link';

export interface ChannelLimits {
  text: number;
  markdown: number;
  /** Description of a link card. */
  link: number;
  /** Largest image file the channel takes (null: pictures only by URL). */
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
} as const satisfies Record<ChannelKind, ChannelLimits>;

export type ChannelName = keyof typeof CHANNEL_LIMITS;
export const CHANNEL_NAMES = Object.keys(CHANNEL_LIMITS) as ChannelName[];

/** Channels that receive the image card itself when a campaign's card style is "image". */
export const IMAGE_CHANNELS: ReadonlySet<ChannelKind> = new Set<ChannelKind>(['wecom', 'manual', 'webhook', 'wecom_group']);

/** The limits of a channel (an unknown kind gets WeCom's, the strictest). */
export function limitsOf(channel: string): ChannelLimits {
  return CHANNEL_LIMITS[channel as ChannelName] ?? CHANNEL_LIMITS.wecom;
}

/** WeCom's text limit as an install configures it (2048 by default, at most 4096). */
export function wecomTextLimit(configured: number | undefined): number {
  if (configured === undefined) return WECOM_TEXT_MAX_BYTES;
  return Math.min(Math.max(configured, 1), WECOM_TEXT_MAX_BYTES_CEILING);
}

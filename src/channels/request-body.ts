// The exact request body each adapter posts for a text card, for previews and for fitting
// cards to channels that limit the whole body (DingTalk 20,000 bytes, Feishu 20 KB): a
// card's content limit cannot say how much the body's JSON adds (Feishu posts wrap every
// line in elements; quotes and newlines are escaped), so those cards are cut on the body.
import type { ChannelKind } from './credentials.js';
import { dingtalkBody } from './dingtalk/adapter.js';
import { DINGTALK_BODY_MAX_BYTES } from './dingtalk/limits.js';
import { feishuBody, feishuSignedBody } from './feishu/adapter.js';
import { FEISHU_BODY_MAX_BYTES } from './feishu/limits.js';
import type { ChannelTarget, TextCardPart } from './types.js';
import { webhookBody } from './webhook/adapter.js';
import { wecomBody } from './wecom/adapter.js';

/**
 * A robot's keyword is added to each message it receives (up to 64 characters, JSON-escaped,
 * plus its separator): kept free under a body limit, since one card goes to many robots.
 */
export const KEYWORD_RESERVE_BYTES = 256;

/** Signatures have a fixed size (10-digit timestamp, 44-character sign), so any secret measures the same. */
const SIGNED = { secret: 'preview-secret', at: new Date('2030-01-01T00:00:00Z') };

/** The group a preview's webhook body names (a real send names the real group). */
export const PREVIEW_WEBHOOK_TARGET: ChannelTarget = {
  groupId: '000000000000000000000000',
  groupName: '预览群',
  regionPath: ['000000'],
  credentials: { kind: 'webhook', url: 'https://example.invalid/', secret: 'preview-secret' },
  officer: null,
};

/**
 * The body the channel's adapter posts for this card (a robot without a keyword, signed where
 * the channel signs in the body, with a fixed preview timestamp). Manual forwarding and WeCom
 * customer groups post no card body of ours: the text the officer forwards.
 */
export function requestBody(kind: ChannelKind, card: TextCardPart, target = PREVIEW_WEBHOOK_TARGET): string {
  const message = { type: 'text' as const, card };
  switch (kind) {
    case 'wecom': {
      const body = wecomBody(message, Number.MAX_SAFE_INTEGER);
      return 'status' in body ? card.content : JSON.stringify(body);
    }
    case 'dingtalk':
      return JSON.stringify(dingtalkBody(message, null));
    case 'feishu':
      return JSON.stringify(feishuSignedBody(feishuBody(message, null), SIGNED.secret, SIGNED.at));
    case 'webhook':
      return JSON.stringify(webhookBody(target, message));
    case 'manual':
    case 'wecom_group':
      return card.content;
  }
}

/** Size in bytes of `requestBody`: what a limit on the whole body is measured against. */
export function requestBodyBytes(kind: ChannelKind, card: TextCardPart, target = PREVIEW_WEBHOOK_TARGET): number {
  return Buffer.byteLength(requestBody(kind, card, target));
}

/** How a card for this channel is fitted: against the whole body where the channel limits that. */
export function textCardBudget(
  kind: ChannelKind,
  contentMaxBytes: number,
): { maxBytes: number; measure?: (card: TextCardPart) => number } {
  if (kind === 'dingtalk')
    return { maxBytes: DINGTALK_BODY_MAX_BYTES - KEYWORD_RESERVE_BYTES, measure: (c) => requestBodyBytes(kind, c) };
  if (kind === 'feishu')
    return { maxBytes: FEISHU_BODY_MAX_BYTES - KEYWORD_RESERVE_BYTES, measure: (c) => requestBodyBytes(kind, c) };
  return { maxBytes: contentMaxBytes };
}

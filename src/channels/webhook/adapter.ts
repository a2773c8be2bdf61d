// Generic signed webhook, for a county's own platform. One JSON POST per message, signed
// (webhook/sign.ts); the delivery id travels in X-Jingxun-Delivery, under the signature, so
// a receiver can drop a repeat of an uncertain send. 2xx = accepted.
import { createHash, randomUUID } from 'node:crypto';
import type { WebhookCredentials } from './credentials.js';
import type { Clock } from '../../lib/clock.js';
import { postJson } from '../http-post.js';
import type { Outbound } from '../outbound.js';
import { type AnswerClass, answerWithoutCode, retryAfterMs, transportOutcome } from '../outcome.js';
import type { ChannelAdapter, ChannelMessage, ChannelTarget, RateLimit } from '../types.js';
import {
  WEBHOOK_DELIVERY_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  webhookSignature,
} from './sign.js';

export interface WebhookOptions {
  /** Decides which addresses may be posted to (outbound.ts). */
  outbound: Outbound;
  timeoutMs: number;
  clock: Clock;
}

/** Not a published limit: our own courtesy to a county's platform, so a province push cannot flood it. */
export const WEBHOOK_RATE_LIMITS: readonly RateLimit[] = [
  { limit: 60, windowMs: 60_000, source: 'Jingxun default for self-hosted receivers (no published limit)' },
];

/**
 * What each answer says (docs/channels.md, the receiver contract). A receiver drops a
 * delivery id it has already accepted and answers 2xx, so a repeat after any 5xx is safe:
 * unlike the chat robots, every 5xx is retried (a gateway's 502/504 after the receiver
 * accepted meets the drop, not a second post).
 */
export const WEBHOOK_ANSWER_CLASSES: readonly AnswerClass[] = [
  { answer: { http: 200 }, outcome: 'sent', source: 'docs/channels.md: 2xx = accepted whatever the body' },
  ...[408, 429, 500, 502, 503, 504].map((http) => ({
    answer: { http },
    outcome: 'retryable' as const,
    source: `docs/channels.md: the receiver drops a delivery id it already accepted, so a repeat after ${http} cannot post twice`,
  })),
  ...[401, 403, 404, 410].map((http) => ({
    answer: { http },
    outcome: 'permanent' as const,
    source: `docs/channels.md: ${http} refuses the receiver's URL or secret (the group is flagged)`,
  })),
];

export function webhookBody(target: ChannelTarget, message: ChannelMessage): object {
  const group = { id: target.groupId, name: target.groupName, regionCode: target.regionPath.at(-1) ?? null };
  if (message.type === 'image') {
    const { data, mime, publicUrl, title, url } = message.image;
    return {
      type: 'image',
      group,
      title: title ?? null,
      url: url ?? null,
      image: {
        mime,
        base64: data.toString('base64'),
        sha256: createHash('sha256').update(data).digest('hex'),
        publicUrl: publicUrl ?? null,
      },
    };
  }
  const { format, title, content, url, pictureUrl } = message.card;
  return { type: 'text', group, format, title, content, url, pictureUrl };
}

export function createWebhookAdapter(options: WebhookOptions): ChannelAdapter {
  return {
    kind: 'webhook',
    rateLimits: WEBHOOK_RATE_LIMITS,
    async send(target, message, sendOptions) {
      const credentials = target.credentials as WebhookCredentials;
      const json = JSON.stringify(webhookBody(target, message));
      const timestamp = String(Math.floor(options.clock.now().getTime() / 1000));
      // The engine's delivery id; a send outside the engine (the test message) gets its own.
      const deliveryId = sendOptions?.reference ?? `test-${randomUUID()}`;
      const headers: Record<string, string> = {
        [WEBHOOK_DELIVERY_HEADER]: deliveryId,
        [WEBHOOK_TIMESTAMP_HEADER]: timestamp,
        [WEBHOOK_SIGNATURE_HEADER]: webhookSignature(credentials.secret, deliveryId, timestamp, json),
      };
      const result = await postJson(credentials.url, json, {
        outbound: options.outbound,
        timeoutMs: options.timeoutMs,
        signal: sendOptions?.signal,
        headers,
      });
      if (result.kind !== 'answered') return transportOutcome(result, 'group');
      if (result.status >= 200 && result.status < 300) return { status: 'sent' };
      const outcome = answerWithoutCode(result.status, result.body, WEBHOOK_ANSWER_CLASSES);
      if (outcome.status === 'retryable') {
        const wait = retryAfterMs(result.headers['retry-after']);
        return wait === undefined ? outcome : { ...outcome, retryAfterMs: wait };
      }
      return outcome;
    },
  };
}

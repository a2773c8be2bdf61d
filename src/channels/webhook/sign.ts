// Generic webhook signature (our own protocol, documented in docs/channels.md):
//   X-Jingxun-Timestamp: Unix seconds
//   X-Jingxun-Signature: "sha256=" + hex(HMAC-SHA256(key = secret, data = timestamp + "." + raw body))
// A receiver recomputes it over the raw bytes and refuses timestamps older than 5 minutes.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_TIMESTAMP_HEADER = 'x-jingxun-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'x-jingxun-signature';
export const WEBHOOK_DELIVERY_HEADER = 'x-jingxun-delivery';
export const WEBHOOK_MAX_AGE_SECONDS = 300;

export function webhookSignature(secret: string, timestampSeconds: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampSeconds}.`).update(rawBody).digest('hex')}`;
}

export function verifyWebhookSignature(
  secret: string,
  timestampSeconds: string,
  rawBody: string | Buffer,
  signature: string,
  nowSeconds: number,
): 'ok' | 'bad_signature' | 'stale' {
  if (
    !/^\d{1,12}$/.test(timestampSeconds) ||
    Math.abs(nowSeconds - Number(timestampSeconds)) > WEBHOOK_MAX_AGE_SECONDS
  ) {
    return 'stale';
  }
  const expected = Buffer.from(webhookSignature(secret, timestampSeconds, rawBody));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given) ? 'ok' : 'bad_signature';
}

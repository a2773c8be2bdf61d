// Generic webhook signature (our own protocol, documented in docs/channels.md), shaped like
// Standard Webhooks: the delivery id, the timestamp and the raw body are all signed, so a
// captured request can be neither replayed under a fresh id nor re-dated.
//   X-Jingxun-Delivery:  the delivery id (a receiver drops repeats of it)
//   X-Jingxun-Timestamp: Unix seconds (a receiver refuses it more than 300 s away)
//   X-Jingxun-Signature: "sha256=" + hex(HMAC-SHA256(key = secret, data = id + "." + timestamp + "." + raw body))
import { createHmac } from 'node:crypto';

export const WEBHOOK_TIMESTAMP_HEADER = 'x-jingxun-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'x-jingxun-signature';
export const WEBHOOK_DELIVERY_HEADER = 'x-jingxun-delivery';

export function webhookSignature(
  secret: string,
  deliveryId: string,
  timestampSeconds: string,
  rawBody: string | Buffer,
): string {
  const hmac = createHmac('sha256', secret).update(`${deliveryId}.${timestampSeconds}.`).update(rawBody);
  return `sha256=${hmac.digest('hex')}`;
}

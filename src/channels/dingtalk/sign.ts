// DingTalk signing: string to sign = timestamp(ms) + "\n" + secret; sign =
// Base64(HMAC-SHA256(key = secret, data = string to sign)), URL-encoded exactly once.
// Encoding twice is the usual cause of "sign not match" (reference §2).
import { createHmac } from 'node:crypto';

export function dingtalkSign(timestampMs: number | string, secret: string): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64');
}

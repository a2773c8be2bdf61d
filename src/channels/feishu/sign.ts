// Feishu signing, the opposite of DingTalk's: key = timestamp(seconds) + "\n" + secret,
// data = empty; sign = Base64(HMAC-SHA256). Sent as top-level JSON fields (reference §3).
import { createHmac } from 'node:crypto';

export function feishuSign(timestampSeconds: number | string, secret: string): string {
  return createHmac('sha256', `${timestampSeconds}\n${secret}`).update('').digest('base64');
}

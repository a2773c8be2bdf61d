// What the generic signed webhook needs: the county platform's receiving URL and the
// shared signing secret (webhook/sign.ts). Which addresses the URL may reach is decided
// when connecting (channels/outbound.ts), since a name can resolve differently later.
import { InvalidInput } from '../../lib/errors.js';
import { type ChannelInput, type FieldName, clean, httpUrl } from '../credential-input.js';

export interface WebhookCredentials {
  kind: 'webhook';
  url: string;
  secret: string;
}

export function parseWebhookInput(input: ChannelInput, f: FieldName): WebhookCredentials {
  const url = clean(input.url) ?? clean(input.webhookUrl);
  const secret = clean(input.secret);
  if (!url) throw new InvalidInput('缺少自建平台的接收地址', f('url'));
  httpUrl(url, f('url'));
  if (!secret || secret.length < 16) throw new InvalidInput('自建平台签名密钥至少 16 个字符', f('secret'));
  return { kind: 'webhook', url, secret };
}

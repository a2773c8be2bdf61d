// What a WeCom group robot needs: its key (the URL's `key` parameter; reference §1). The key
// alone authorises a post, so it is a secret.
import { type ChannelInput, type FieldName, clean, httpUrl, token } from '../credential-input.js';

export interface WecomCredentials {
  kind: 'wecom';
  key: string;
}

export function parseWecomInput(input: ChannelInput, f: FieldName): WecomCredentials {
  const webhookUrl = clean(input.webhookUrl);
  const key = clean(input.key) ?? (webhookUrl ? httpUrl(webhookUrl, f('webhookUrl')).searchParams.get('key') : null);
  return { kind: 'wecom', key: token(key, '企业微信机器人 key（或 webhook 地址）', f('key')) };
}

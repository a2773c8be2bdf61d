// What a Feishu/Lark custom bot needs: the hook id (the URL's last segment), and its
// signing secret or keyword when the bot has those security settings (reference §3).
import { type ChannelInput, type FieldName, clean, httpUrl, token } from '../credential-input.js';

export interface FeishuCredentials {
  kind: 'feishu';
  hookId: string;
  secret: string | null;
  keyword: string | null;
}

export function parseFeishuInput(input: ChannelInput, f: FieldName): FeishuCredentials {
  const webhookUrl = clean(input.webhookUrl);
  const hookId =
    clean(input.hookId) ??
    (webhookUrl ? (httpUrl(webhookUrl, f('webhookUrl')).pathname.match(/\/hook\/([^/]+)$/)?.[1] ?? null) : null);
  return {
    kind: 'feishu',
    hookId: token(hookId, '飞书机器人 hook ID（或 webhook 地址）', f('hookId')),
    secret: clean(input.secret),
    keyword: clean(input.keyword),
  };
}

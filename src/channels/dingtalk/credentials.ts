// What a DingTalk custom robot needs: its access_token, and the security setting it was
// created with (a signing secret starting with SEC, or keywords; reference §2).
import { InvalidInput } from '../../lib/errors.js';
import { type ChannelInput, type FieldName, clean, httpUrl, token } from '../credential-input.js';

export interface DingtalkCredentials {
  kind: 'dingtalk';
  accessToken: string;
  /** Signing secret (starts with SEC) when the robot signs; null when it uses keywords/IPs only. */
  secret: string | null;
  /** One of the robot's security keywords, added to every message when set. */
  keyword: string | null;
}

export function parseDingtalkInput(input: ChannelInput, f: FieldName): DingtalkCredentials {
  const webhookUrl = clean(input.webhookUrl);
  const secret = clean(input.secret);
  const keyword = clean(input.keyword);
  const accessToken =
    clean(input.accessToken) ??
    (webhookUrl ? httpUrl(webhookUrl, f('webhookUrl')).searchParams.get('access_token') : null);
  if (secret && !secret.startsWith('SEC')) throw new InvalidInput('钉钉加签密钥应以 SEC 开头', f('secret'));
  if (!secret && !keyword) {
    throw new InvalidInput('钉钉机器人需填写加签密钥或关键词（与机器人安全设置一致）', f('secret'));
  }
  return {
    kind: 'dingtalk',
    accessToken: token(accessToken, '钉钉 access_token（或 webhook 地址）', f('accessToken')),
    secret,
    keyword,
  };
}

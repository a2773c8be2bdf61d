// What each delivery channel needs to reach one group, and how staff may write it. Staff
// usually paste the robot's whole webhook URL, so the key/token/hook id is taken from it.
// These are secrets (the URL alone authorises a post): they are sealed before storage and
// never leave the API (see GroupService).
import { InvalidInput } from '../lib/errors.js';

export const CHANNEL_KINDS = ['wecom', 'dingtalk', 'feishu', 'webhook', 'manual'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

export const CHANNEL_LABELS: Record<ChannelKind, string> = {
  wecom: '企业微信',
  dingtalk: '钉钉',
  feishu: '飞书',
  webhook: '自建平台',
  manual: '人工转发',
};

export interface WecomCredentials {
  kind: 'wecom';
  key: string;
}
export interface DingtalkCredentials {
  kind: 'dingtalk';
  accessToken: string;
  /** Signing secret (starts with SEC) when the robot signs; null when it uses keywords/IPs only. */
  secret: string | null;
  /** One of the robot's security keywords, added to every message when set. */
  keyword: string | null;
}
export interface FeishuCredentials {
  kind: 'feishu';
  hookId: string;
  secret: string | null;
  keyword: string | null;
}
export interface WebhookCredentials {
  kind: 'webhook';
  url: string;
  secret: string;
}
export interface ManualCredentials {
  kind: 'manual';
}
export type ChannelCredentials =
  | WecomCredentials
  | DingtalkCredentials
  | FeishuCredentials
  | WebhookCredentials
  | ManualCredentials;

/** The channel as the API and sheets accept it (every field optional until the kind says). */
export interface ChannelInput {
  kind: ChannelKind;
  webhookUrl?: string | null;
  key?: string | null;
  accessToken?: string | null;
  hookId?: string | null;
  url?: string | null;
  secret?: string | null;
  keyword?: string | null;
}

const TOKEN = /^[A-Za-z0-9_-]{8,128}$/;

function clean(value: string | null | undefined): string | null {
  const trimmed = value?.trim();
  return trimmed ? trimmed : null;
}

function fromUrl(raw: string, field: string): URL {
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // fall through to the message below
  }
  throw new InvalidInput('机器人地址不是有效的 http(s) 网址', field);
}

function token(value: string | null, label: string, field: string): string {
  if (!value) throw new InvalidInput(`缺少${label}`, field);
  if (!TOKEN.test(value)) throw new InvalidInput(`${label}格式不正确（应为 8–128 位字母、数字、- 或 _）`, field);
  return value;
}

/** Turns API/sheet input into the credentials a channel adapter uses, with messages staff can act on. */
export function parseChannelInput(input: ChannelInput, fieldPrefix = 'channel'): ChannelCredentials {
  const f = (name: string) => `${fieldPrefix}.${name}`;
  const webhookUrl = clean(input.webhookUrl);
  const secret = clean(input.secret);
  const keyword = clean(input.keyword);
  if (keyword && keyword.length > 64) throw new InvalidInput('关键词最多 64 个字符', f('keyword'));
  switch (input.kind) {
    case 'wecom': {
      const key =
        clean(input.key) ?? (webhookUrl ? fromUrl(webhookUrl, f('webhookUrl')).searchParams.get('key') : null);
      return { kind: 'wecom', key: token(key, '企业微信机器人 key（或 webhook 地址）', f('key')) };
    }
    case 'dingtalk': {
      const accessToken =
        clean(input.accessToken) ??
        (webhookUrl ? fromUrl(webhookUrl, f('webhookUrl')).searchParams.get('access_token') : null);
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
    case 'feishu': {
      const hookId =
        clean(input.hookId) ??
        (webhookUrl ? (fromUrl(webhookUrl, f('webhookUrl')).pathname.match(/\/hook\/([^/]+)$/)?.[1] ?? null) : null);
      return {
        kind: 'feishu',
        hookId: token(hookId, '飞书机器人 hook ID（或 webhook 地址）', f('hookId')),
        secret,
        keyword,
      };
    }
    case 'webhook': {
      const url = clean(input.url) ?? webhookUrl;
      if (!url) throw new InvalidInput('缺少自建平台的接收地址', f('url'));
      fromUrl(url, f('url'));
      if (!secret || secret.length < 16) throw new InvalidInput('自建平台签名密钥至少 16 个字符', f('secret'));
      return { kind: 'webhook', url, secret };
    }
    case 'manual':
      return { kind: 'manual' };
  }
}

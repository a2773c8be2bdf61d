// A channel as the API and sheets accept it, and the checks every channel's parser shares.
// Staff usually paste the robot's whole webhook URL, so the key/token/hook id is taken from it.
import { InvalidInput } from '../lib/errors.js';
import type { ChannelKind } from './kinds.js';

/** Every field optional until the kind says which it needs. */
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

/** Names a field of the input for error messages, e.g. `channel.secret`. */
export type FieldName = (name: string) => string;

const TOKEN = /^[A-Za-z0-9_-]{8,128}$/;

export function clean(value: string | null | undefined): string | null {
  const trimmed = value?.trim();
  return trimmed ? trimmed : null;
}

export function httpUrl(raw: string, field: string): URL {
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // fall through to the message below
  }
  throw new InvalidInput('机器人地址不是有效的 http(s) 网址', field);
}

export function token(value: string | null, label: string, field: string): string {
  if (!value) throw new InvalidInput(`缺少${label}`, field);
  if (!TOKEN.test(value)) throw new InvalidInput(`${label}格式不正确（应为 8–128 位字母、数字、- 或 _）`, field);
  return value;
}

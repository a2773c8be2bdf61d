// What each delivery channel needs to reach one group: the union of the shapes each
// channel's folder defines, and the one parser the audience room calls. These are secrets
// (the URL alone authorises a post): they are sealed before storage and never leave the
// API (see audience/groups.ts).
import { InvalidInput } from '../lib/errors.js';
import { type ChannelInput, clean } from './credential-input.js';
import { type DingtalkCredentials, parseDingtalkInput } from './dingtalk/credentials.js';
import { type FeishuCredentials, parseFeishuInput } from './feishu/credentials.js';
import { type WebhookCredentials, parseWebhookInput } from './webhook/credentials.js';
import { type WecomCredentials, parseWecomInput } from './wecom/credentials.js';
import { type WecomGroupCredentials, parseWecomGroupInput } from './wecom-group/credentials.js';

export { CHANNEL_KINDS, CHANNEL_LABELS, type ChannelKind } from './kinds.js';
export type { ChannelInput } from './credential-input.js';
export type { DingtalkCredentials, FeishuCredentials, WebhookCredentials, WecomCredentials, WecomGroupCredentials };

/** The manual channel needs nothing: the group's officer forwards the message by hand. */
export interface ManualCredentials {
  kind: 'manual';
}

export type ChannelCredentials =
  | WecomCredentials
  | DingtalkCredentials
  | FeishuCredentials
  | WebhookCredentials
  | ManualCredentials
  | WecomGroupCredentials;

/** Turns API/sheet input into the credentials a channel adapter uses, with messages staff can act on. */
export function parseChannelInput(input: ChannelInput, fieldPrefix = 'channel'): ChannelCredentials {
  const f = (name: string) => `${fieldPrefix}.${name}`;
  const keyword = clean(input.keyword);
  if (keyword && keyword.length > 64) throw new InvalidInput('关键词最多 64 个字符', f('keyword'));
  switch (input.kind) {
    case 'wecom':
      return parseWecomInput(input, f);
    case 'dingtalk':
      return parseDingtalkInput(input, f);
    case 'feishu':
      return parseFeishuInput(input, f);
    case 'webhook':
      return parseWebhookInput(input, f);
    case 'manual':
      return { kind: 'manual' };
    case 'wecom_group':
      return parseWecomGroupInput(f);
  }
}

// Factories for groups: valid API bodies where each test states only what it is about.
import type { ChannelKind } from '../../src/channels/kinds.js';
import type { TestApp } from './app.js';
import { TREE } from './regions.js';

let counter = 0;

export function groupBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    name: `平安群${counter}`,
    regionCode: TREE.villageA.code,
    channel: { kind: 'wecom', key: `wecom-key-${String(counter).padStart(8, '0')}` },
    memberCount: 100,
    officer: { name: '张警官', phone: '13800000000' },
    tags: ['重点村'],
    ...overrides,
  };
}

export async function createGroup(
  t: TestApp,
  overrides: Record<string, unknown> = {},
): Promise<{ id: string; name: string }> {
  const response = await t.request('POST', '/api/groups', t.adminToken, groupBody(overrides));
  if (response.statusCode !== 201) throw new Error(`create group: ${response.body}`);
  return response.json();
}

/** Valid channel settings of `kind` for a group, its keys made from `label` (one per group, 8 characters or more). */
export function channelOfKind(kind: ChannelKind, label: string): Record<string, unknown> {
  switch (kind) {
    case 'wecom':
      return { kind, key: label };
    case 'dingtalk':
      return { kind, accessToken: `${label}-ding`, secret: `SEC${label}` };
    case 'feishu':
      return { kind, hookId: `${label}-feishu` };
    case 'webhook':
      return { kind, url: `https://platform.example.cn/hook/${label}`, secret: `webhook-secret-${label}-0123456789` };
    default:
      return { kind };
  }
}

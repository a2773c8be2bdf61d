// Factories for groups: valid API bodies where each test states only what it is about.
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

// The left navigation, built from the screens' `nav` entries and filtered by role.
import type { Role } from '../api/types';
import type { WorkbenchCounts } from '../api/workbench';
import { screens } from './routes';

/** Groups in the order they appear; a group shows only when one of its screens is allowed. */
export const NAV_GROUPS: { key: string; label: string }[] = [
  { key: 'home', label: '首页' },
  { key: 'content', label: '内容' },
  { key: 'push', label: '发送' },
  { key: 'reach', label: '统计' },
  { key: 'directory', label: '群组与区划' },
  { key: 'admin', label: '系统管理' },
  { key: 'field', label: '民警工作' },
];

export interface NavItem {
  path: string;
  label: string;
  badge?: (counts: WorkbenchCounts) => number;
}

export function navFor(role: Role | undefined): { key: string; label: string; items: NavItem[] }[] {
  if (!role) return [];
  return NAV_GROUPS.map((group) => ({
    ...group,
    items: screens
      .filter((s) => s.meta?.nav?.group === group.key && (!s.meta.roles || s.meta.roles.includes(role)))
      .sort((a, b) => (a.meta?.nav?.order ?? 0) - (b.meta?.nav?.order ?? 0))
      .map((s) => ({ path: s.path, label: s.meta?.nav?.label ?? '', badge: s.meta?.nav?.badge })),
  })).filter((group) => group.items.length > 0);
}

/** Where a user lands after login: the workbench (工作台), for every role. */
export function homeFor(_role: Role | undefined): string {
  return '/';
}

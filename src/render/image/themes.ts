// One card theme per notice category (SPEC §3.1: each category has a default theme).
import type { Category } from '../../notices/categories.js';

export interface Theme {
  /** Banner text at the top of the card. */
  banner: string;
  /** Band and accent colour. */
  primary: string;
  /** Card background. */
  paper: string;
  /** Title colour. */
  heading: string;
  /** Body text colour. */
  ink: string;
  /** Labels and secondary text. */
  muted: string;
  /** Layout: the standard notice, or the wanted-clue layout with photo and case fields. */
  layout: 'notice' | 'wanted';
}

export const THEMES: Record<Category, Theme> = {
  anti_fraud: {
    banner: '防诈骗提醒',
    primary: '#c62828',
    paper: '#fff8f5',
    heading: '#8e0000',
    ink: '#2b2b2b',
    muted: '#6b6b6b',
    layout: 'notice',
  },
  anti_theft: {
    banner: '防盗抢提示',
    primary: '#1565c0',
    paper: '#f5f9ff',
    heading: '#0d3c7a',
    ink: '#2b2b2b',
    muted: '#6b6b6b',
    layout: 'notice',
  },
  accident_prevention: {
    banner: '防事故安全提示',
    primary: '#ef6c00',
    paper: '#fffaf2',
    heading: '#a34a00',
    ink: '#2b2b2b',
    muted: '#6b6b6b',
    layout: 'notice',
  },
  anti_vice: {
    banner: '拒绝黄赌毒',
    primary: '#6a1b9a',
    paper: '#fbf7fd',
    heading: '#4a126b',
    ink: '#2b2b2b',
    muted: '#6b6b6b',
    layout: 'notice',
  },
  patrol_report: {
    banner: '巡逻检查通报',
    primary: '#2e7d32',
    paper: '#f6fbf6',
    heading: '#1b5e20',
    ink: '#2b2b2b',
    muted: '#6b6b6b',
    layout: 'notice',
  },
  wanted_clue: {
    banner: '协查通告',
    primary: '#b71c1c',
    paper: '#fffdf7',
    heading: '#b71c1c',
    ink: '#1f1f1f',
    muted: '#6b6b6b',
    layout: 'wanted',
  },
  general: {
    banner: '警方提示',
    primary: '#0d47a1',
    paper: '#f7f9fc',
    heading: '#0d2f66',
    ink: '#2b2b2b',
    muted: '#6b6b6b',
    layout: 'notice',
  },
};

/** The category line under the issuing unit, unless the title already says it (no repeated banner). */
export function bannerFor(theme: Theme, title: string): string | null {
  const stem = theme.banner.replace(/(提醒|提示|通报|通告)$/, '');
  return title.includes(theme.banner) || title.includes(stem) ? null : theme.banner;
}

/** The footer's call to action: only a wanted notice's page has a tip form. */
export function callToAction(category: Category): string {
  return category === 'wanted_clue' ? '扫码查看全文、提供线索' : '扫码查看全文';
}

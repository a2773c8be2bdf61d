// The notice categories of SPEC §3.1. Each has a label staff know and a default card theme
// (the theme of the same name in src/render/image/themes.ts).
export const CATEGORIES = [
  'anti_fraud',
  'anti_theft',
  'accident_prevention',
  'anti_vice',
  'patrol_report',
  'wanted_clue',
  'general',
] as const;
export type Category = (typeof CATEGORIES)[number];

export const CATEGORY_LABELS: Record<Category, string> = {
  anti_fraud: '防诈骗',
  anti_theft: '防盗抢',
  accident_prevention: '防事故',
  anti_vice: '拒黄赌毒',
  patrol_report: '巡逻检查通报',
  wanted_clue: '协查通告',
  general: '警方提示',
};

/** Hotline printed on a card when the author gives none: the anti-fraud line for fraud notices. */
export function defaultHotline(category: Category): string {
  return category === 'anti_fraud' ? '96110' : '110';
}

// A valid notice body; each test overrides only what it is about.
export function noticeBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    category: 'anti_fraud',
    title: '警惕冒充公检法诈骗',
    body: '近期，我县发生多起**冒充公检法**诈骗案件。\n\n请记住：\n- 公检法机关不会通过电话办案\n- 没有所谓的“安全账户”',
    issuingUnit: '天河区公安分局',
    ...overrides,
  };
}

export const WANTED = {
  caseSummary: '2025年5月20日晚，五山街道某商铺被盗现金两万余元。',
  suspectDescription: '男，约30岁，身高约175厘米，偏瘦，案发时穿黑色连帽衫。',
  reward: '提供有效线索者奖励人民币5000元',
  contactName: '李警官',
  contactPhone: '020-12345678',
  deadline: '2025-07-31',
};

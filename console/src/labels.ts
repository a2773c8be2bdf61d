// The console's words for the API's codes (CONSOLE.md "Words").
import type { CampaignStatus, Category, NoticeStatus, Role } from './api/types';

export const ROLE_LABELS: Record<Role, string> = {
  admin: '管理员',
  editor: '宣传民警',
  reviewer: '审核',
  coordinator: '市局协调',
  officer: '所长/社区民警',
  viewer: '只读统计',
};

export const CATEGORY_LABELS: Record<Category, string> = {
  anti_fraud: '防诈骗',
  anti_theft: '防盗抢',
  accident_prevention: '防事故',
  anti_vice: '拒黄赌毒',
  patrol_report: '巡逻检查通报',
  wanted_clue: '协查通告',
  general: '警方提示',
};

export const NOTICE_STATUS: Record<
  NoticeStatus,
  { label: string; tag: 'info' | 'warning' | 'success' | 'danger' | 'primary' }
> = {
  draft: { label: '草稿', tag: 'info' },
  in_review: { label: '待审核', tag: 'warning' },
  approved: { label: '已通过', tag: 'success' },
  archived: { label: '已归档', tag: 'info' },
};

export const CAMPAIGN_STATUS: Record<
  CampaignStatus,
  { label: string; tag: 'info' | 'warning' | 'success' | 'danger' | 'primary' }
> = {
  draft: { label: '草稿', tag: 'info' },
  in_review: { label: '待审核', tag: 'warning' },
  approved: { label: '已通过', tag: 'success' },
  paused: { label: '已暂停', tag: 'warning' },
  completed: { label: '已完成', tag: 'primary' },
  cancelled: { label: '已取消', tag: 'danger' },
};

export const CHANNEL_LABELS: Record<string, string> = {
  wecom: '企业微信',
  dingtalk: '钉钉',
  feishu: '飞书',
  webhook: '自建平台',
  manual: '人工转发',
  wecom_group: '企业微信客户群',
};

export const CARD_STYLE_LABELS = { text: '纯文字', rich: '图文链接', image: '图片卡片' } as const;
export const PRIORITY_LABELS = { normal: '普通', urgent: '紧急' } as const;

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString('zh-CN', {
    timeZone: 'Asia/Shanghai',
    hour12: false,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  });
}

export function formatNumber(n: number | null | undefined): string {
  return (n ?? 0).toLocaleString('zh-CN');
}

/** A notice's state in a list: 已撤回 once withdrawn, whatever its review status. */
export function noticeState(notice: { status: NoticeStatus; retractedAt?: string | null }): {
  label: string;
  tag: 'info' | 'warning' | 'success' | 'danger' | 'primary';
} {
  if (notice.retractedAt) return { label: '已撤回', tag: 'danger' };
  return NOTICE_STATUS[notice.status];
}

/** A date-range picker's [from, to] days (YYYY-MM-DD, Shanghai) as the API's from/to instants; `to` includes its day. */
export function dateRangeQuery(range: [string, string] | null | undefined): { from?: string; to?: string } {
  if (!range) return {};
  const [from, to] = range;
  const end = new Date(`${to}T00:00:00+08:00`);
  end.setUTCDate(end.getUTCDate() + 1);
  return { from: new Date(`${from}T00:00:00+08:00`).toISOString(), to: end.toISOString() };
}

/**
 * A delivery's reason as staff read it: the engine keeps the channel's code in front of the
 * message (`wecom_group_cap 该群本月…`, `http_500 …`); the screen shows the Chinese message and
 * keeps the whole text for hover (support asks for the code).
 */
export function reasonText(lastError: string | null | undefined): string {
  if (!lastError) return '';
  const match = /^[A-Za-z0-9_.:-]+\s+(.*[\u4e00-\u9fff].*)$/s.exec(lastError);
  return match ? match[1]! : lastError;
}

// The API's answers the part-2 screens read (reach, groups, regions, users, audit, manual
// tasks, officer notifications): the generated types of the operations that answer them
// (schema.d.ts via `npm run api:types`), never hand-kept copies.
import type { ApiReply, Row } from './shapes';

export type RegionNode = Row<'/api/regions'>;
export type DirectoryGroup = Row<'/api/groups'>;
/** What an import did (or would do, on a dry run): groups' report with its reconciliation. */
export type ImportReport = ApiReply<'/api/groups/import', 'post'>;
/** A county of the shipped national division list (GET /api/regions/counties). */
export type CountyEntry = Row<'/api/regions/counties'>;
/** What POST /api/regions/seed did. */
export type SeedReport = ApiReply<'/api/regions/seed', 'post'>;

export type ReachReport = ApiReply<'/api/reach'>;
export type ReachFigures = ReachReport['totals'];
export type ReachRow = ReachReport['rows'][number];
export type MonthlyRow = ApiReply<'/api/reach/monthly'>['rows'][number];

export type ConsoleUser = Row<'/api/users'>;
export type NotifyRobot = ApiReply<'/api/users/{id}/notify-robot'>;
export type AuditEntry = Row<'/api/audit'>;
export type ManualTaskView = Row<'/api/manual-tasks'>;
export type NotificationStep = Row<'/api/campaigns/{id}/notifications'>;
/** A campaign's steps counted per 环节 (GET /api/campaigns/{id}/notifications/summary). */
export type NotificationCounts = ApiReply<'/api/campaigns/{id}/notifications/summary'>;

export const NOTIFICATION_KIND_LABELS: Record<NotificationStep['kind'], string> = {
  digest: '任务汇总',
  reminder: '提醒',
  escalation: '督办（告知上级）',
  withdrawn: '撤回告知',
};

export const NOTIFICATION_STATUS_LABELS: Record<
  NotificationStep['status'],
  { label: string; tag: 'info' | 'warning' | 'success' | 'danger' | 'primary' }
> = {
  sending: { label: '发送中', tag: 'info' },
  sent: { label: '已发送', tag: 'success' },
  failed: { label: '失败', tag: 'danger' },
  uncertain: { label: '不确定', tag: 'warning' },
  no_robot: { label: '未配置通知机器人', tag: 'warning' },
  no_superior: { label: '未配置上级', tag: 'warning' },
  ambiguous_officer: { label: '民警账号不唯一', tag: 'warning' },
};

export const LEVEL_LABELS: Record<string, string> = {
  country: '全国',
  province: '省',
  city: '市',
  county: '县（区）',
  township: '乡镇（街道）',
  village: '村（社区）',
};

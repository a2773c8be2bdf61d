<<<<<<< HEAD
// The API's answers the part-2 screens read (reach, groups, regions, users, audit, manual
// tasks, officer notifications): the generated types of the operations that answer them
// (schema.d.ts via `npm run api:types`), never hand-kept copies.
import type { ApiReply, Row } from './shapes';
=======
// Shapes of the API's answers the part-2 screens read (reach, groups, regions, users, audit,
// manual tasks, officer notifications). The OpenAPI document at /docs is the reference.
import type { Role } from './types';

export interface RegionNode {
  code: string;
  name: string;
  level: string;
  parentCode: string | null;
  regionPath: string[];
  lat: number | null;
  lng: number | null;
}

export interface DirectoryGroup {
  id: string;
  name: string;
  regionCode: string;
  channelKind: string;
  memberCount: number;
  memberCountUpdatedAt: string | null;
  officer: { name: string; phone: string | null } | null;
  tags: string[];
  active: boolean;
  /** An admin marked it: authors may test-send here. */
  forTests: boolean;
  flagged: { at: string; reason: string } | null;
  createdAt: string;
  updatedAt: string;
  /** On a save that set the robot: other groups with the same robot (one chat), and what to tell the admin. */
  sameRobot?: { id: string; name: string; regionCode: string }[];
  sameRobotWarning?: string | null;
}

export interface ImportReport {
  dryRun: boolean;
  applied: boolean;
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
  errors: { row: number; column?: string; message: string; cause?: string }[];
  ignoredColumns: string[];
  /** Group imports (issue 23): the county names were looked up in, and what to confirm. */
  county?: { code: string; name: string } | null;
  townships?: { name: string; rows: number; candidates: { code: string; name: string }[] }[];
  villages?: {
    township: { code: string; name: string };
    name: string;
    rows: number;
    action: 'create' | 'confirm';
    code?: string;
    candidates: { code: string; name: string }[];
  }[];
  problems?: { cause: string; title: string; count: number; rows: number[]; example: string; warning?: boolean }[];
  warnings?: { row: number; column?: string; message: string }[];
  summary?: string;
  villagesCreated?: number;
  townshipsCreated?: number;
}
>>>>>>> main

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

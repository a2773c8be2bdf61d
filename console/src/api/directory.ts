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

/** A county of the shipped national division list (GET /api/regions/counties). */
export interface CountyEntry {
  code: string;
  name: string;
  fullName: string;
  seeded: boolean;
}

/** What POST /api/regions/seed did. */
export interface SeedReport {
  county: { code: string; name: string; fullName: string };
  townships: number;
  villages: number;
  created: number;
  kept: number;
  renamedLocally: { code: string; listed: string; local: string }[];
}

export interface ReachFigures {
  deliveries: number;
  messages: number;
  sent: number;
  confirmed: number;
  awaiting: number;
  failed: number;
  uncertain: number;
  skipped: number;
  pending: number;
  groupsReached: number;
  villagesReached: number;
  personTimes: number;
}

export interface ReachRow extends ReachFigures {
  day?: string;
  month?: string;
  regionCode?: string;
  regionName?: string;
  countyCode?: string;
  townshipCode?: string;
  category?: string;
  campaignId?: string;
}

export interface ReachReport {
  from: string;
  to: string;
  groupBy: string[];
  regionCode: string;
  totals: ReachFigures;
  rows: ReachRow[];
}

export interface MonthlyRow {
  townshipCode: string;
  townshipName: string;
  messages: number;
  groupsReached: number;
  villagesReached: number;
  personTimes: number;
  clicks: number;
  uniqueClicks: number;
}

export interface ConsoleUser {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  regionCode: string;
  phone: string | null;
  /** WeCom userid: the customer groups this officer owns are matched by it. */
  wecomUserId?: string | null;
  active: boolean;
  mustChangePassword: boolean;
  createdAt: string;
}

export interface NotifyRobot {
  userId: string;
  kind: 'wecom' | 'dingtalk' | 'feishu';
  credentialsSet: boolean;
  superiorUserId: string | null;
  updatedAt: string;
}

export interface AuditEntry {
  id: string;
  at: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  targetKind: string | null;
  targetId: string | null;
  /** The target's name (notice title, group name, user's name, region name) when it still exists. */
  targetName: string | null;
  ip: string | null;
  details: Record<string, unknown> | null;
}

export interface ManualTaskView {
  id: string;
  groupId: string;
  groupName: string;
  officer: { name: string; phone: string | null } | null;
  title: string;
  text: string | null;
  url: string | null;
  hasImage: boolean;
  createdAt: string;
  confirmedAt: string | null;
  /** open 待转发; paused 活动已暂停; confirmed 已确认; withdrawn 已撤回（请勿转发）. */
  state: 'open' | 'paused' | 'confirmed' | 'withdrawn';
  withdrawnReason: 'retracted' | 'cancelled' | 'case_closed' | 'archived' | null;
  /** Only in the signed-in list (officers and admins); never on the public view. */
  link: string | null;
}

export interface NotificationStep {
  kind: 'digest' | 'reminder' | 'escalation' | 'withdrawn';
  occurrenceId: string;
  officerName: string | null;
  recipientName: string | null;
  groupNames: string[];
  status: 'sending' | 'sent' | 'failed' | 'uncertain' | 'no_robot' | 'no_superior' | 'ambiguous_officer';
  detail: string | null;
  at: string;
}

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

// The wanted-clue answers (tips, cases, personal-data check, radius totals) as the generated
// types of the operations that give them (schema.d.ts), and their words (CONSOLE.md: 协查通告 /
// 线索 / 已抓获 / 已过期). docs/residents.md is the API reference.
import type { ApiReply, Row } from './shapes';

export type Tip = Row<'/api/tips'>;
export type TipStatus = Tip['status'];

export type CaseList = ApiReply<'/api/cases'>;
export type WantedCase = CaseList['cases'][number];
export type CaseOutcome = WantedCase['outcomes'][number];
export type OutcomeKind = CaseOutcome['kind'];

export type PersonalDataFinding = ApiReply<'/api/notices/{id}/personal-data'>['findings'][number];

export type RadiusTotals = NonNullable<ApiReply<'/api/audience/preview', 'post'>['radius']>;

/** The incident point of a wanted notice as the form holds it: typed coordinates or a village of the tree. */
export type Incident = { lat: number; lng: number } | { villageCode: string };

export interface WantedLocation {
  incident: Incident | null;
  radiusKm: number | null;
}

export const TIP_STATUS: Record<TipStatus, { label: string; tag: 'info' | 'warning' | 'success' | 'danger' | 'primary' }> = {
  new: { label: '新线索', tag: 'danger' },
  read: { label: '已读', tag: 'info' },
  useful: { label: '有价值', tag: 'success' },
  closed: { label: '已关闭', tag: 'info' },
};

export const OUTCOME_LABELS: Record<OutcomeKind, string> = {
  expired: '已过期',
  caught: '已抓获',
  solved: '已破案',
};

/** A follow-up campaign's state as the case screen says it. */
export const FOLLOW_UP_STATUS: Record<string, { label: string; tag: 'info' | 'warning' | 'success' | 'danger' | 'primary' }> = {
  draft: { label: '草稿', tag: 'info' },
  in_review: { label: '待审核', tag: 'warning' },
  approved: { label: '已通过，发送中', tag: 'success' },
  paused: { label: '已暂停', tag: 'warning' },
  completed: { label: '已发送', tag: 'primary' },
  cancelled: { label: '已取消', tag: 'danger' },
};

/** A follow-up's tag: one whose run is out still reads 待转发 while officers hold its tasks (never 已发送). */
export function followUpTag(o: CaseOutcome): { label: string; tag: 'info' | 'warning' | 'success' | 'danger' | 'primary' } {
  const status = o.followUpStatus ?? '';
  if (o.followUpAwaitingOfficers > 0 && (status === 'completed' || status === 'approved'))
    return { label: `待转发 ${o.followUpAwaitingOfficers} 个群`, tag: 'warning' };
  return FOLLOW_UP_STATUS[status] ?? { label: status, tag: 'info' };
}

export const PERSONAL_DATA_KIND = { resident_id: '身份证号', phone: '电话号码' } as const;

/** Where in the notice a finding sits. */
export const CONTENT_FIELD_LABELS: Record<string, string> = {
  title: '标题',
  body: '正文',
  summary: '摘要',
  'wanted.caseSummary': '简要案情',
  'wanted.suspectDescription': '嫌疑人特征',
  'wanted.reward': '悬赏',
  'wanted.contactName': '联系人',
  'wanted.contactPhone': '联系电话',
};

// The notice lifecycle as one table: each action, the states it may start from, who may take
// it, and what must follow it. NoticeService checks `from` and claims every change in one
// place (its transition, with the same state claim as campaigns: db/claims.ts); the effects
// of a case outcome are recorded with it as an intent and run by cases/service.ts.
import { AUTHORS, REVIEWERS, type Role } from '../auth/roles.js';
import { Conflict } from '../lib/errors.js';
import type { NoticeStatus } from './model.js';

export type NoticeAction =
  | 'edit'
  | 'submit'
  | 'approve'
  | 'reject'
  | 'archive'
  | 'confirm-personal-data'
  | 'withdraw'
  | 'case-outcome';

/**
 * - `withdraw-notice`: every campaign's batches of the notice are listed now, so pending
 *   deliveries are skipped and a follow-up waiting for them is planned (the path shared with
 *   a retraction: CampaignService.withdrawNotice);
 * - `follow-up`: when the notice was planned for delivery, the follow-up notice is drafted
 *   and submitted and its campaign (to every group that received the notice) created.
 */
export type NoticeEffect = 'withdraw-notice' | 'follow-up';

export interface NoticeRule {
  from: readonly NoticeStatus[];
  roles: readonly Role[];
  effects: readonly NoticeEffect[];
  label: string;
}

export const NOTICE_LIFECYCLE: Record<NoticeAction, NoticeRule> = {
  // An approved notice gets a new working version; the approved one is still what is sent.
  edit: { from: ['draft', 'approved'], roles: AUTHORS, effects: [], label: '修改' },
  submit: { from: ['draft'], roles: AUTHORS, effects: [], label: '提交审核' },
  approve: { from: ['in_review'], roles: REVIEWERS, effects: [], label: '审核通过' },
  reject: { from: ['in_review'], roles: REVIEWERS, effects: [], label: '驳回' },
  archive: { from: ['draft', 'approved'], roles: AUTHORS, effects: [], label: '归档' },
  'confirm-personal-data': { from: ['draft'], roles: AUTHORS, effects: [], label: '确认个人信息' },
  // A retraction (campaigns/lifecycle.ts) marks it; a new working version may be in review.
  withdraw: { from: ['draft', 'in_review', 'approved', 'archived'], roles: AUTHORS, effects: [], label: '撤回' },
  // 已抓获 / 已破案 / 已过期 (the scheduler, for the deadline): withdraws it and drafts the follow-up.
  'case-outcome': {
    from: ['draft', 'in_review', 'approved'],
    roles: AUTHORS,
    effects: ['withdraw-notice', 'follow-up'],
    label: '结案',
  },
};

export function checkNoticeFrom(action: NoticeAction, status: NoticeStatus): void {
  if (!NOTICE_LIFECYCLE[action].from.includes(status)) {
    throw new Conflict(`通知当前状态不能${NOTICE_LIFECYCLE[action].label}，请刷新`);
  }
}

// The one rule for "is this campaign's delivery withdrawn": what its officers' tasks, the
// notifier and progress all follow (issue 20, defects 1 and 13). A run's tasks are
// withdrawn when the notice has a case outcome, was retracted (through any campaign),
// was archived, or the campaign was cancelled; a paused campaign's are held, not
// withdrawn. Pure: the callers read the two documents with the projections below (two
// _id lookups) and ask here.
import type { WithdrawReason } from '../channels/manual/tasks.js';

/** The campaign fields the rule reads (a projection). */
export const WITHDRAWAL_CAMPAIGN_FIELDS = { status: 1, noticeId: 1, retractedAt: 1 } as const;
/** The notice fields the rule reads (a projection). */
export const WITHDRAWAL_NOTICE_FIELDS = { status: 1, retractedAt: 1, caseOutcomes: 1 } as const;

export interface WithdrawalCampaign {
  status: string;
  retractedAt?: Date | null;
}

export interface WithdrawalNotice {
  status: string;
  retractedAt?: Date | null;
  caseOutcomes?: unknown[] | null;
}

/**
 * Why the campaign's deliveries are withdrawn, or null when they are not. The first that
 * holds names it: a case outcome, then a retraction, an archived notice, a cancel.
 */
export function withdrawalReason(
  campaign: WithdrawalCampaign | null,
  notice: WithdrawalNotice | null,
): WithdrawReason | null {
  if ((notice?.caseOutcomes?.length ?? 0) > 0) return 'case_closed';
  if (campaign?.retractedAt || notice?.retractedAt) return 'retracted';
  if (notice?.status === 'archived') return 'archived';
  if (campaign?.status === 'cancelled') return 'cancelled';
  return null;
}

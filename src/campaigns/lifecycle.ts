// The campaign lifecycle as one table: each action, the states it may start from, who may
// take it, and the effects that must follow the state change. The service checks and claims
// every change through this table (CampaignService.change); the effects are recorded with
// the change as an intent (db/claims.ts) and run by the service, or by the scheduler's sweep
// when the process that made the change died. The API lists the actions a caller may take
// (`actions` on a campaign), and the console draws its buttons from that list.
import { AUTHORS, REVIEWERS, type Role } from '../auth/roles.js';
import type { CampaignDoc } from './model.js';

export type CampaignStatus = CampaignDoc['status'];

/**
 * What must follow a state change, each step safe to repeat:
 * - `release`: the campaign's parked batches are listed again (requeueCampaign);
 * - `stop`: its batches with pending deliveries are listed now, so workers skip them;
 * - `withdraw-notice`: the notice is withdrawn through the one path shared with case
 *   outcomes (marked, every campaign's batches of it listed now);
 * - `withdraw-tasks`: the campaign's open officer tasks are withdrawn for good (their links
 *   answer 410; the notifier tells each officer once);
 * - `follow-up`: the follow-up campaign to the notice's recipients exists (when one was chosen).
 * A paused campaign's tasks read as paused from its live state: pause and resume need no step.
 */
export type CampaignEffect = 'release' | 'stop' | 'withdraw-tasks' | 'withdraw-notice' | 'follow-up';

export type CampaignAction = 'edit' | 'submit' | 'approve' | 'reject' | 'pause' | 'resume' | 'cancel' | 'retract';

export interface ActionRule {
  from: readonly CampaignStatus[];
  roles: readonly Role[];
  effects: readonly CampaignEffect[];
  /** The console's button and the audit's words. */
  label: string;
}

const ALL: readonly CampaignStatus[] = ['draft', 'in_review', 'approved', 'paused', 'completed', 'cancelled'];

export const CAMPAIGN_LIFECYCLE: Record<CampaignAction, ActionRule> = {
  // Runs already created keep what was approved for them and are parked until approval.
  edit: { from: ['draft', 'in_review', 'approved', 'paused'], roles: AUTHORS, effects: [], label: '修改' },
  submit: { from: ['draft'], roles: AUTHORS, effects: [], label: '提交审核' },
  approve: { from: ['in_review'], roles: REVIEWERS, effects: ['release'], label: '审核通过' },
  reject: { from: ['in_review'], roles: REVIEWERS, effects: [], label: '驳回' },
  // A completed campaign may still have deliveries waiting (quiet hours, retries).
  pause: { from: ['approved', 'completed'], roles: AUTHORS, effects: [], label: '暂停' },
  resume: { from: ['paused'], roles: AUTHORS, effects: ['release'], label: '恢复' },
  cancel: {
    from: ['draft', 'in_review', 'approved', 'paused', 'completed'],
    roles: AUTHORS,
    effects: ['stop', 'withdraw-tasks'],
    label: '取消',
  },
  // Any state: what went out in an earlier run may need withdrawing whatever came since.
  retract: { from: ALL, roles: AUTHORS, effects: ['stop', 'withdraw-notice', 'follow-up'], label: '停止并撤回' },
};

/** Actions on a campaign that are not state changes but finish or complete one. */
export type RepairAction = 'finish' | 'attach-follow-up';

export function allowedFrom(action: CampaignAction, status: CampaignStatus): boolean {
  return CAMPAIGN_LIFECYCLE[action].from.includes(status);
}

export interface ActionContext {
  userId: string;
  role: Role;
  campaign: Pick<
    CampaignDoc,
    'status' | 'authorId' | 'editorIds' | 'submittedBy' | 'retractedAt' | 'followUpOfNotice' | 'retractionOf' | 'schedule' | 'lastRunAt'
  >;
  /** Whether an earlier state change has effects not yet finished. */
  unfinished: boolean;
  /** For a retracted campaign: whether its correction follow-up exists. */
  hasFollowUp: boolean;
}

/**
 * The actions this caller may take on this campaign now: the table's `from` and roles, and
 * the rules on top of it (four eyes for review, a retraction once, a one-off that has run
 * cannot be edited). The service enforces the same rules when the action is taken.
 */
export function actionsFor(context: ActionContext): (CampaignAction | RepairAction)[] {
  const { campaign, role, userId } = context;
  const reviewer =
    campaign.authorId !== userId && !(campaign.editorIds ?? []).includes(userId) && campaign.submittedBy !== userId;
  const isFollowUp = Boolean(campaign.followUpOfNotice || campaign.retractionOf);
  const actions: (CampaignAction | RepairAction)[] = [];
  for (const [action, rule] of Object.entries(CAMPAIGN_LIFECYCLE) as [CampaignAction, ActionRule][]) {
    if (!rule.from.includes(campaign.status) || !rule.roles.includes(role)) continue;
    if ((action === 'approve' || action === 'reject') && !reviewer) continue;
    // Retraction is offered once something may have gone out (a run was created).
    if (action === 'retract' && (campaign.retractedAt || isFollowUp || !campaign.lastRunAt)) continue;
    if (action === 'edit' && campaign.schedule.kind !== 'cron' && campaign.lastRunAt) continue;
    if (campaign.retractedAt && action !== 'retract') continue;
    actions.push(action);
  }
  if (context.unfinished && AUTHORS.includes(role)) actions.push('finish');
  if (campaign.retractedAt && !context.hasFollowUp && AUTHORS.includes(role)) actions.push('attach-follow-up');
  return actions;
}

// Where an officer's task stands, read live from its campaign and notice: the manual tasks
// follow them (issue 20, defect 1). Read on every task read (link, picture, lists, the
// notifier), one small `_id` lookup per campaign and per notice, so a stop takes effect the
// moment it is written: no message has to reach the tasks, and no crash can leave one
// half-delivered.
//
//   withdrawn   the notice has a case outcome (case_closed), was retracted through any
//               campaign (retracted), was archived (archived), or the campaign was
//               cancelled (cancelled): the one rule of campaigns/withdrawal.ts
//   paused      the campaign is paused: shown as 已暂停, not chased; live again on resume
//   live        everything else (a completed campaign's tasks are still to forward)

import { CampaignModel } from '../campaigns/model.js';
import { WITHDRAWAL_CAMPAIGN_FIELDS, WITHDRAWAL_NOTICE_FIELDS, withdrawalReason } from '../campaigns/withdrawal.js';
import type { TaskLiveness } from '../channels/manual/tasks.js';
import { mapLimit } from '../lib/concurrency.js';
import { NoticeModel } from '../notices/model.js';

export interface CampaignFields {
  _id: unknown;
  status: string;
  noticeId: string;
  retractedAt: Date | null;
}

export interface NoticeFields {
  _id: unknown;
  status: string;
  retractedAt: Date | null;
  caseOutcomes?: unknown[];
}

export async function campaignTaskStates(campaignIds: string[]): Promise<Map<string, TaskLiveness>> {
  const valid = campaignIds.filter((id) => /^[0-9a-f]{24}$/.test(id));
  const states = new Map<string, TaskLiveness>();
  if (valid.length === 0) return states;
  // One `{_id}` read each, 8 at a time: on FerretDB 1.24 `{_id: {$in}}` reads the whole
  // collection, and this runs on every task read (link, picture, lists, the notifier).
  const campaigns = (
    await mapLimit(valid, 8, (id) => CampaignModel.findById(id, WITHDRAWAL_CAMPAIGN_FIELDS).lean<CampaignFields>())
  ).filter((c): c is CampaignFields => c !== null);
  const noticeIds = [...new Set(campaigns.map((c) => c.noticeId))].filter((id) => /^[0-9a-f]{24}$/.test(id));
  const notices = new Map(
    (await mapLimit(noticeIds, 8, (id) => NoticeModel.findById(id, WITHDRAWAL_NOTICE_FIELDS).lean<NoticeFields>()))
      .filter((n): n is NoticeFields => n !== null)
      .map((n) => [String(n._id), n]),
  );
  const followUps = new Map<string, string | null>();
  const retractionFollowUp = async (noticeId: string) => {
    if (!followUps.has(noticeId)) {
      const found = await CampaignModel.findOne(
        { followUpOfNotice: noticeId, followUpOutcome: 'retracted' },
        { _id: 1 },
      ).lean<{ _id: unknown }>();
      followUps.set(noticeId, found ? String(found._id) : null);
    }
    return followUps.get(noticeId) ?? null;
  };
  for (const campaign of campaigns) {
    states.set(
      String(campaign._id),
      await livenessOf(campaign, notices.get(campaign.noticeId) ?? null, retractionFollowUp),
    );
  }
  return states;
}

/**
 * A campaign's liveness from its fields and its notice's (the one rule of campaigns/withdrawal.ts);
 * `followUp` names a retracted notice's correction campaign (asked only for a retraction).
 */
export async function livenessOf(
  campaign: CampaignFields,
  notice: NoticeFields | null,
  followUp: (noticeId: string) => Promise<string | null>,
): Promise<TaskLiveness> {
  const reason = withdrawalReason(campaign, notice);
  if (reason) {
    const followUpCampaignId = reason === 'retracted' ? await followUp(campaign.noticeId) : null;
    return { state: 'withdrawn', reason, followUpCampaignId };
  }
  return campaign.status === 'paused' ? { state: 'paused' } : { state: 'live' };
}

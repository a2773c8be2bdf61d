// The campaign and notice facts the officer notifier reads for every officer run it looks at:
// the campaign's title and priority (its message, its quiet hours) and the run's live state
// (task-state.ts: withdrawn, paused or live, and a retraction's correction campaign). Before,
// each look read the whole campaign document (`findForEngine`, 38 ms of FerretDB at 50,000
// groups: the document is loaded whole whatever the projection) and the campaigns and notices
// by `$in` (a scan on FerretDB 1.24); a backlog's runs belong to as many campaigns, so a
// per-pass copy saved little (docs/scale.md, eleventh session, notifier).
//
// Contract: the campaigns' and notices' version tokens (db/versions.ts: changed AFTER every
// write through mongoose) are read first, in one command, on every call; the facts kept are
// used only while both tokens are the ones read when they were kept, and at most KEEP_FACTS_MS
// (a writer killed between its write and its token change: a stop is then seen at most that
// late; the stop's own retry changes the token). What is missing is read by `_id`, each
// campaign and notice once, projected to the fields used. A stop (cancel, retraction, case
// outcome, archive) is therefore seen by the first look after its write, as before. Nothing
// is written: a crash loses only the process's copy.
import { CampaignModel } from '../campaigns/model.js';
import type { Priority } from '../campaigns/schedule.js';
import { WITHDRAWAL_CAMPAIGN_FIELDS, WITHDRAWAL_NOTICE_FIELDS } from '../campaigns/withdrawal.js';
import type { TaskLiveness } from '../channels/manual/tasks.js';
import { collectionToken } from '../db/versions.js';
import { mapLimit } from '../lib/concurrency.js';
import { NoticeModel } from '../notices/model.js';
import { type CampaignFields, type NoticeFields, livenessOf } from './task-state.js';

/** Kept facts are read again after this long even when the tokens stayed. */
export const KEEP_FACTS_MS = 5 * 60_000;

const OBJECT_ID = /^[0-9a-f]{24}$/;

type KeptCampaign = CampaignFields & { title: string; priority: Priority };

export class KeptCampaignFacts {
  private token: string | null = null;
  private since = 0;
  private readonly campaigns = new Map<string, KeptCampaign | null>();
  private readonly notices = new Map<string, NoticeFields | null>();
  /** A retracted notice's correction campaign (`followUpOfNotice`), or null. */
  private readonly followUps = new Map<string, string | null>();

  /** The campaign's title and priority (null: no such campaign). */
  async campaign(id: string): Promise<{ title: string; priority: Priority } | null> {
    const campaign = (await this.campaignsOf([id])).get(id);
    return campaign ? { title: campaign.title, priority: campaign.priority } : null;
  }

  /** Each campaign's liveness, as task-state.ts decides it (absent: no such campaign). */
  async states(campaignIds: string[]): Promise<Map<string, TaskLiveness>> {
    const campaigns = await this.campaignsOf(campaignIds);
    const noticeIds = [...new Set([...campaigns.values()].map((c) => c.noticeId))].filter((id) => OBJECT_ID.test(id));
    const absent = noticeIds.filter((id) => !this.notices.has(id));
    const read = await mapLimit(absent, 8, (id) =>
      NoticeModel.findById(id, WITHDRAWAL_NOTICE_FIELDS).lean<NoticeFields>(),
    );
    for (const [i, id] of absent.entries()) this.notices.set(id, read[i] ?? null);
    const states = new Map<string, TaskLiveness>();
    for (const [id, campaign] of campaigns) {
      states.set(
        id,
        await livenessOf(campaign, this.notices.get(campaign.noticeId) ?? null, (noticeId) => this.followUp(noticeId)),
      );
    }
    return states;
  }

  private async followUp(noticeId: string): Promise<string | null> {
    if (!this.followUps.has(noticeId)) {
      const found = await CampaignModel.findOne(
        { followUpOfNotice: noticeId, followUpOutcome: 'retracted' },
        { _id: 1 },
      ).lean<{
        _id: unknown;
      }>();
      this.followUps.set(noticeId, found ? String(found._id) : null);
    }
    return this.followUps.get(noticeId) ?? null;
  }

  private async campaignsOf(ids: string[]): Promise<Map<string, KeptCampaign>> {
    // Tokens before documents: a write after this read shows as a new token next time.
    const [campaignsToken, noticesToken] = await Promise.all([
      collectionToken('campaigns'),
      collectionToken('notices'),
    ]);
    const token = campaignsToken && noticesToken ? `${campaignsToken}|${noticesToken}` : null;
    if (token === null || token !== this.token || Date.now() - this.since > KEEP_FACTS_MS) {
      this.campaigns.clear();
      this.notices.clear();
      this.followUps.clear();
      this.token = token;
      this.since = Date.now();
    }
    const valid = [...new Set(ids)].filter((id) => OBJECT_ID.test(id));
    const missing = valid.filter((id) => !this.campaigns.has(id));
    const read = await mapLimit(missing, 8, (id) =>
      CampaignModel.findById(id, { ...WITHDRAWAL_CAMPAIGN_FIELDS, title: 1, priority: 1 }).lean<KeptCampaign>(),
    );
    for (const [i, id] of missing.entries()) this.campaigns.set(id, read[i] ?? null);
    const found = new Map<string, KeptCampaign>();
    for (const id of valid) {
      const campaign = this.campaigns.get(id);
      if (campaign) found.set(id, campaign);
    }
    return found;
  }
}

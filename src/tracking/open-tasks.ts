// The officers' live open tasks, for the monthly table's 待民警转发: tasks not confirmed, not
// withdrawn (by the one rule of campaigns/withdrawal.ts, read live, as the tasks themselves
// follow it) and not expired (their run's day more than the horizon ago, progress's rule).
// Read from the per-county open-task documents kept in the process (channels/manual/open-task-rows.ts:
// the watch list's open manual tasks, each with its run), never the watch list itself (a scan on
// FerretDB) nor the task history; a document written before the counts kept runs (re-counted
// once at start) has its entries' runs read by `_id`. The runs' campaigns and notices are read
// by `_id`, one each, and kept while their collections' tokens stay (`KeptRuns`).
import { CampaignModel } from '../campaigns/model.js';
import { localDay } from '../campaigns/schedule.js';
import { WITHDRAWAL_CAMPAIGN_FIELDS, WITHDRAWAL_NOTICE_FIELDS, withdrawalReason } from '../campaigns/withdrawal.js';
import { OpenTaskRows } from '../channels/manual/open-task-rows.js';
import { OpenTaskModel } from '../channels/manual/watch.js';
import { collectionToken } from '../db/versions.js';
import type { Clock } from '../lib/clock.js';
import { mapLimit } from '../lib/concurrency.js';
import { NoticeModel } from '../notices/model.js';
import type { Scope } from '../regions/scope.js';
import { tasksExpiredAfter } from './progress.js';

export interface OpenTask {
  /** The run's local month ('YYYY-MM'), as its batch's. */
  month: string;
  townshipCode: string;
  category: string;
}

const OBJECT_ID = /^[0-9a-f]{24}$/;

/** `<campaignId>@<runAt ISO>/<group>`: the engine's delivery id a task was made for. */
function runOf(reference: string): { campaignId: string; runAt: Date } | null {
  const at = reference.indexOf('@');
  const cut = reference.lastIndexOf('/');
  if (at <= 0 || cut <= at) return null;
  const runAt = new Date(reference.slice(at + 1, cut));
  const campaignId = reference.slice(0, at);
  return OBJECT_ID.test(campaignId) && Number.isFinite(runAt.getTime()) ? { campaignId, runAt } : null;
}

type CampaignFields = { _id: unknown; status: string; noticeId: string; retractedAt: Date | null };
type NoticeFields = {
  _id: unknown;
  status: string;
  retractedAt: Date | null;
  caseOutcomes?: unknown[];
  content?: { category?: string };
};

/** Kept campaigns and notices are read again after this long even when their tokens stayed. */
export const KEEP_RUNS_MS = 5 * 60_000;

/**
 * The withdrawal fields of the open tasks' campaigns and notices, each read by `_id` (an `$in`
 * is a scan of the whole collection on FerretDB 1.24) and kept in the process while the
 * campaigns' and notices' version tokens (db/versions.ts, one read for both) stay, and at most
 * KEEP_RUNS_MS (a writer killed between its write and its token change: the same bound as the
 * workbench's tallies).
 */
class KeptRuns {
  private token: string | null = null;
  private since = 0;
  private readonly campaigns = new Map<string, CampaignFields | null>();
  private readonly notices = new Map<string, NoticeFields | null>();

  async of(
    campaignIds: string[],
  ): Promise<{ campaigns: Map<string, CampaignFields>; notices: Map<string, NoticeFields> }> {
    // Tokens before documents: a write after the token read shows as a new token next time.
    const [campaignsToken, noticesToken] = await Promise.all([
      collectionToken('campaigns'),
      collectionToken('notices'),
    ]);
    const token = campaignsToken && noticesToken ? `${campaignsToken}|${noticesToken}` : null;
    if (token === null || token !== this.token || Date.now() - this.since > KEEP_RUNS_MS) {
      this.campaigns.clear();
      this.notices.clear();
      this.token = token;
      this.since = Date.now();
    }
    const missing = campaignIds.filter((id) => !this.campaigns.has(id));
    const read = await mapLimit(missing, 8, (id) =>
      CampaignModel.findById(id, WITHDRAWAL_CAMPAIGN_FIELDS).lean<CampaignFields>(),
    );
    for (const [i, id] of missing.entries()) this.campaigns.set(id, read[i] ?? null);
    const campaigns = new Map<string, CampaignFields>();
    for (const id of campaignIds) {
      const campaign = this.campaigns.get(id);
      if (campaign) campaigns.set(id, campaign);
    }
    const noticeIds = [...new Set([...campaigns.values()].map((c) => c.noticeId))].filter((id) => OBJECT_ID.test(id));
    const absent = noticeIds.filter((id) => !this.notices.has(id));
    const readNotices = await mapLimit(absent, 8, (id) =>
      NoticeModel.findById(id, { ...WITHDRAWAL_NOTICE_FIELDS, 'content.category': 1 }).lean<NoticeFields>(),
    );
    for (const [i, id] of absent.entries()) this.notices.set(id, readNotices[i] ?? null);
    const notices = new Map<string, NoticeFields>();
    for (const id of noticeIds) {
      const notice = this.notices.get(id);
      if (notice) notices.set(id, notice);
    }
    return { campaigns, notices };
  }
}

export class OpenTaskCounter {
  private readonly rows = new OpenTaskRows();
  private readonly runs = new KeptRuns();

  constructor(
    private readonly clock: Clock,
    private readonly timeZone: string,
  ) {}

  /** Live open tasks inside the scope and under `within`, of runs in the months `from`..`to`. */
  async openTasks(scope: Scope, within: string, from: string, to: string): Promise<OpenTask[]> {
    const now = this.clock.now().getTime();
    // The counts' documents hold the open tasks (channels/manual/open-task-rows.ts): no read of the
    // watch list or the task history.
    const rows = await this.rows.of(scope, this.clock.now(), within);
    // Values written before runs were kept (or a task on a county itself): its entry by `_id`.
    const old = rows.filter((row) => row.legacy || row.tail.length === 0);
    const entries = await mapLimit(old, 8, (row) =>
      OpenTaskModel.findById(row.id, { occurrenceId: 1, regionPath: 1 }).lean<{
        occurrenceId: string | null;
        regionPath: string[];
      }>(),
    );
    const byId = new Map(old.map((row, i) => [row.id, entries[i]]));
    const docs = rows.flatMap((row) => {
      if (!byId.has(row.id)) {
        // [country, province, city, county, …tail]: the township is the path's second last.
        const regionPath = ['', '', '', row.county, ...row.tail];
        return [{ taskKey: `${row.occurrenceId ?? ''}/${row.id}`, regionPath }];
      }
      const entry = byId.get(row.id);
      return entry ? [{ taskKey: `${entry.occurrenceId ?? ''}/${row.id}`, regionPath: entry.regionPath }] : [];
    });
    // Once per run, not per task: a province run has thousands of tasks, and the local day
    // (Intl formatToParts) cost ~4–20 µs a task, ~36,000 open tasks at 50,000 groups.
    const runs = new Map<string, { campaignId: string; month: string } | null>();
    const counted = (taskKey: string) => {
      const occurrence = taskKey.slice(0, taskKey.lastIndexOf('/') + 1);
      if (runs.has(occurrence)) return runs.get(occurrence)!;
      const run = runOf(taskKey);
      const day = run ? localDay(run.runAt, this.timeZone) : '';
      const month = day.slice(0, 7);
      const kept =
        run && month >= from && month <= to && !tasksExpiredAfter(day, now)
          ? { campaignId: run.campaignId, month }
          : null;
      runs.set(occurrence, kept);
      return kept;
    };
    const found = docs.flatMap((doc) => {
      const run = doc.regionPath.length < 2 ? null : counted(doc.taskKey);
      return run ? [{ ...run, townshipCode: doc.regionPath[doc.regionPath.length - 2]! }] : [];
    });
    if (found.length === 0) return [];
    const { campaigns, notices } = await this.runs.of([...new Set(found.map((t) => t.campaignId))]);
    return found.flatMap(({ campaignId, month, townshipCode }) => {
      const campaign = campaigns.get(campaignId);
      const notice = campaign ? notices.get(campaign.noticeId) : undefined;
      if (!campaign || !notice || withdrawalReason(campaign, notice) !== null) return [];
      return [{ month, townshipCode, category: notice.content?.category ?? '' }];
    });
  }
}

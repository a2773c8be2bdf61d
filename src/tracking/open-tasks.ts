// The officers' live open tasks, for the monthly table's 待民警转发: tasks not confirmed, not
// withdrawn (by the one rule of campaigns/withdrawal.ts, read live, as the tasks themselves
// follow it) and not expired (their run's day more than the horizon ago, progress's rule).
// Read from the per-county open-task documents kept in the process (channels/manual/open-task-rows.ts:
// the watch list's open manual tasks, each with its run), never the watch list itself (a scan on
// FerretDB) nor the task history; a document written before the counts kept runs (re-counted
// once at start) has its entries' runs read by `_id`. The runs' campaigns and notices are read
// by `_id`, one each.
import { CampaignModel } from '../campaigns/model.js';
import { localDay } from '../campaigns/schedule.js';
import { WITHDRAWAL_CAMPAIGN_FIELDS, WITHDRAWAL_NOTICE_FIELDS, withdrawalReason } from '../campaigns/withdrawal.js';
import { OpenTaskRows } from '../channels/manual/open-task-rows.js';
import { OpenTaskModel } from '../channels/manual/watch.js';
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

export class OpenTaskCounter {
  private readonly rows = new OpenTaskRows();

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
    const found = docs.flatMap((doc) => {
      const run = runOf(doc.taskKey);
      if (!run || doc.regionPath.length < 2) return [];
      const day = localDay(run.runAt, this.timeZone);
      const month = day.slice(0, 7);
      if (month < from || month > to || tasksExpiredAfter(day, now)) return [];
      return [{ ...run, month, townshipCode: doc.regionPath[doc.regionPath.length - 2]! }];
    });
    if (found.length === 0) return [];
    // Each campaign and notice by `_id` (an `$in` is a scan of the whole collection on FerretDB
    // 1.24): as many reads as the runs with open tasks in the period, whatever the history.
    type CampaignFields = { _id: unknown; status: string; noticeId: string; retractedAt: Date | null };
    type NoticeFields = {
      _id: unknown;
      status: string;
      retractedAt: Date | null;
      caseOutcomes?: unknown[];
      content?: { category?: string };
    };
    const campaignIds = [...new Set(found.map((t) => t.campaignId))];
    const campaigns = new Map<string, CampaignFields>();
    for (const c of await mapLimit(campaignIds, 8, (id) =>
      CampaignModel.findById(id, WITHDRAWAL_CAMPAIGN_FIELDS).lean<CampaignFields>(),
    )) {
      if (c) campaigns.set(String(c._id), c);
    }
    const noticeIds = [...new Set([...campaigns.values()].map((c) => c.noticeId))].filter((id) => OBJECT_ID.test(id));
    const notices = new Map<string, NoticeFields>();
    for (const n of await mapLimit(noticeIds, 8, (id) =>
      NoticeModel.findById(id, { ...WITHDRAWAL_NOTICE_FIELDS, 'content.category': 1 }).lean<NoticeFields>(),
    )) {
      if (n) notices.set(String(n._id), n);
    }
    return found.flatMap(({ campaignId, month, townshipCode }) => {
      const campaign = campaigns.get(campaignId);
      const notice = campaign ? notices.get(campaign.noticeId) : undefined;
      if (!campaign || !notice || withdrawalReason(campaign, notice) !== null) return [];
      return [{ month, townshipCode, category: notice.content?.category ?? '' }];
    });
  }
}

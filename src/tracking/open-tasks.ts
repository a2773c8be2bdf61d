// The officers' live open tasks, for the monthly table's 待民警转发: tasks not confirmed, not
// withdrawn (by the one rule of campaigns/withdrawal.ts, read live, as the tasks themselves
// follow it) and not expired (their entry's `expiresAt`, and their run's day more than the
// horizon ago, progress's rule), counted per township and category. Read from the per-county
// open-task documents kept in the process (channels/manual/kept-open-counts.ts), never the watch
// list itself (a scan on FerretDB) nor the task history, through each county's summary
// (open-task-summary.ts: per run, expiry times per township and path, computed once per held
// document), so a call's work is its counties' runs and groups, not its open tasks (eleventh
// session). A document written before the counts kept runs (re-counted once at start) has its
// entries' runs read by `_id`. The runs' campaigns and notices are read by `_id`, one each,
// and kept while their collections' tokens stay (`KeptRuns`).
import { CampaignModel } from '../campaigns/model.js';
import { localDay } from '../campaigns/schedule.js';
import { WITHDRAWAL_CAMPAIGN_FIELDS, WITHDRAWAL_NOTICE_FIELDS, withdrawalReason } from '../campaigns/withdrawal.js';
import type { CountedRow, KeptOpenCounts } from '../channels/manual/kept-open-counts.js';
import { OpenTaskRows } from '../channels/manual/open-task-rows.js';
import { OpenTaskModel } from '../channels/manual/watch.js';
import { collectionToken } from '../db/versions.js';
import type { Clock } from '../lib/clock.js';
import { mapLimit } from '../lib/concurrency.js';
import { NoticeModel } from '../notices/model.js';
import type { Scope } from '../regions/scope.js';
import { liveAfter, summaryOf, type TaskGroup } from './open-task-summary.js';
import { tasksExpiredAfter } from './progress.js';

/** The live open tasks of a table: per township (the path's second last), per category, all. */
export interface OpenTaskCounts {
  byTownship: Map<string, number>;
  byCategory: Map<string, number>;
  total: number;
}

const OBJECT_ID = /^[0-9a-f]{24}$/;

/** The per-call work of the figures: odd entries, runs and groups walked (tests; never reset here). */
export const openTaskWork = { visited: 0 };

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
  private readonly rows: OpenTaskRows;
  private readonly runs = new KeptRuns();

  /** `openCounts`: the process's kept county documents (context.ts: the workbench's). */
  constructor(
    private readonly clock: Clock,
    private readonly timeZone: string,
    openCounts?: KeptOpenCounts,
  ) {
    this.rows = new OpenTaskRows(openCounts);
  }

  /**
   * Live open tasks inside the scope and under `within`, of runs in the months `from`..`to`,
   * counted per township and category. From each county's summary (open-task-summary.ts, kept
   * with the held document): the work of a call is its counties' runs and groups (a run's
   * townships, or paths inside one county), not its open tasks.
   */
  async counts(scope: Scope, within: string, from: string, to: string): Promise<OpenTaskCounts> {
    const now = this.clock.now().getTime();
    const { lists, belows } = await this.rows.held(scope, within);
    const under = (tail: readonly string[]) => belows.every((below) => tail.includes(below));
    // Once per run, not per task: a province run has thousands of tasks, and the local day
    // (Intl formatToParts) cost ~4–20 µs a call.
    const months = new Map<string, { campaignId: string; month: string } | null>();
    const runIn = (occurrence: string) => {
      if (months.has(occurrence)) return months.get(occurrence)!;
      const run = runOf(`${occurrence}/`);
      const day = run ? localDay(run.runAt, this.timeZone) : '';
      const month = day.slice(0, 7);
      const kept =
        run && month >= from && month <= to && !tasksExpiredAfter(day, now)
          ? { campaignId: run.campaignId, month }
          : null;
      months.set(occurrence, kept);
      return kept;
    };
    // The groups of runs in the months, per run; the odd entries (read by `_id` below).
    const groups: { occurrence: string; group: TaskGroup }[] = [];
    const odd: CountedRow[] = [];
    for (const { county, entries } of lists) {
      const summary = summaryOf(county, entries);
      for (const row of summary.odd) {
        openTaskWork.visited += 1;
        if (row.value[0] > now && under(row.value[3] ? row.value[3].split('/') : [])) odd.push(row);
      }
      for (const [occurrence, run] of summary.runs) {
        openTaskWork.visited += 1;
        if (!runIn(occurrence)) continue;
        // Inside one county (a township or village table): its paths; else its townships.
        for (const group of belows.length > 0 ? run.paths : run.townships) {
          openTaskWork.visited += 1;
          if (belows.length === 0 || under(group.tail)) groups.push({ occurrence, group });
        }
      }
    }
    // Values written before runs were kept (or a task on a county itself): its entry by `_id`.
    const entries = await mapLimit(odd, 8, (row) =>
      OpenTaskModel.findById(row.id, { occurrenceId: 1, regionPath: 1 }).lean<{
        occurrenceId: string | null;
        regionPath: string[];
      }>(),
    );
    const singles = entries.flatMap((entry, i) => {
      if (!entry || entry.regionPath.length < 2 || !entry.occurrenceId || !runIn(entry.occurrenceId)) return [];
      const expiresAt = odd[i]!.value[0];
      const township = entry.regionPath[entry.regionPath.length - 2]!;
      return [{ occurrence: entry.occurrenceId, group: { township, tail: [], expiries: [expiresAt] } }];
    });
    const counted = [...groups, ...singles];
    const counts: OpenTaskCounts = { byTownship: new Map(), byCategory: new Map(), total: 0 };
    if (counted.length === 0) return counts;
    const campaignIds = [...new Set(counted.map(({ occurrence }) => runIn(occurrence)!.campaignId))];
    const { campaigns, notices } = await this.runs.of(campaignIds);
    const categories = new Map<string, string | null>();
    for (const campaignId of campaignIds) {
      const campaign = campaigns.get(campaignId);
      const notice = campaign ? notices.get(campaign.noticeId) : undefined;
      const live = campaign && notice && withdrawalReason(campaign, notice) === null;
      categories.set(campaignId, live ? (notice.content?.category ?? '') : null);
    }
    for (const { occurrence, group } of counted) {
      const category = categories.get(runIn(occurrence)!.campaignId);
      if (category === null || category === undefined) continue;
      const n = liveAfter(group.expiries, now);
      if (n === 0) continue;
      counts.byTownship.set(group.township, (counts.byTownship.get(group.township) ?? 0) + n);
      counts.byCategory.set(category, (counts.byCategory.get(category) ?? 0) + n);
      counts.total += n;
    }
    return counts;
  }
}

// Live progress of a campaign, summed from the `counts` of its batches (which the engine
// derives from the items on every write), per county for cross-county campaigns.
import type { Scope } from '../regions/scope.js';
import type { RegionService } from '../regions/service.js';
import { CampaignModel } from '../campaigns/model.js';
import { WITHDRAWAL_CAMPAIGN_FIELDS, WITHDRAWAL_NOTICE_FIELDS, withdrawalReason } from '../campaigns/withdrawal.js';
import { NoticeModel } from '../notices/model.js';
import { visibleCampaign } from './campaign-lookup.js';
import type { Counts } from './counts.js';
import { mapLimited, runIdsOf } from './run-batches.js';
import { type TownshipFigures, runFigures, runFiguresRead } from './run-summaries.js';

export interface ProgressCounts {
  total: number;
  queued: number;
  sent: number;
  failed: number;
  uncertain: number;
  awaiting: number;
  confirmed: number;
  skipped: number;
  personTimes: number;
  /**
   * Of `awaiting`, the WeCom customer groups waiting for their owner to send the mass-send
   * task in WeCom (not an officer's forwarding): the page words them apart (待群主确认).
   * Counted by progress only, not by the list's summaries.
   */
  awaitingWecom?: number;
}

type CountsWithWecom = ProgressCounts & { awaitingWecom: number };

export interface CampaignProgress extends CountsWithWecom {
  campaignId: string;
  title: string;
  /**
   * True when the run is planned and settled: no run due and not yet created, none being
   * planned, nothing queued, and no officer task still open (`awaiting` is not done) unless
   * the tasks have expired (OFFICER_TASK_HORIZON_MS after the latest run). Right after
   * approval it is false, though nothing is counted yet.
   */
  finished: boolean;
  /** Groups the officers have yet to post to: awaiting deliveries whose tasks have not expired. */
  awaitingOfficers: number;
  counties: Array<CountsWithWecom & { countyCode: string; countyName: string }>;
  /** One row per township (the campaign page's bars within a county). */
  townships: Array<CountsWithWecom & { townshipCode: string; townshipName: string; countyCode: string }>;
}

const zero = (): ProgressCounts => ({
  total: 0,
  queued: 0,
  sent: 0,
  failed: 0,
  uncertain: 0,
  awaiting: 0,
  confirmed: 0,
  skipped: 0,
  personTimes: 0,
});

function add(into: ProgressCounts, counts: Counts | Record<string, number | undefined>): void {
  into.total += counts.total ?? 0;
  into.queued += counts.pending ?? 0;
  into.sent += counts.sent ?? 0;
  into.failed += counts.failed ?? 0;
  into.uncertain += counts.uncertain ?? 0;
  into.awaiting += counts.awaiting ?? 0;
  into.confirmed += counts.confirmed ?? 0;
  into.skipped += counts.skipped ?? 0;
  into.personTimes += counts.reachedMembers ?? 0;
}

/** How long an officer's task is chased (the notifier's horizon): after that an awaiting delivery counts as settled. */
export const OFFICER_TASK_HORIZON_MS = 7 * 24 * 3600_000;

/** Whether the tasks of a run on this local day ('YYYY-MM-DD') have expired at `now` (a day of margin). */
export function tasksExpiredAfter(day: string, now: number): boolean {
  const dayStart = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(dayStart) && now - dayStart > OFFICER_TASK_HORIZON_MS + 24 * 3600_000;
}

export class ProgressService {
  /** Region names by code: a stream re-reads progress every second, names rarely change. */
  private readonly names = new Map<string, string>();
  #planning: (campaignId: string) => Promise<boolean> = async () => false;

  constructor(
    private readonly regions: RegionService,
    private readonly clock: { now(): Date } = { now: () => new Date() },
  ) {}

  /** The engine tells whether a run of the campaign is still being planned (context.ts wires it). */
  attachRunState(planning: (campaignId: string) => Promise<boolean>): void {
    this.#planning = planning;
  }

  /**
   * Whether a run is due (or being planned) that has not yet written all its deliveries, and
   * whether the officers' tasks are no longer waited for: they are withdrawn (the campaign
   * was cancelled or retracted, or its notice retracted, archived or given a case outcome:
   * the same rule as notifications/task-state.ts), or its latest run's local day is more
   * than the horizon ago (a day of margin for the local day).
   */
  private async runState(
    campaignId: string,
    latestDay: string | null,
  ): Promise<{ outstanding: boolean; tasksExpired: boolean }> {
    const doc = await CampaignModel.findById(campaignId, { ...WITHDRAWAL_CAMPAIGN_FIELDS, nextRunAt: 1 }).lean();
    const notice = doc?.noticeId ? await NoticeModel.findById(doc.noticeId, WITHDRAWAL_NOTICE_FIELDS).lean() : null;
    const now = this.clock.now().getTime();
    const due = doc?.status === 'approved' && doc.nextRunAt != null && doc.nextRunAt.getTime() <= now;
    // Withdrawn tasks are settled: the rule the tasks themselves follow (campaigns/withdrawal.ts).
    const withdrawn = withdrawalReason(doc ?? null, notice ?? null) !== null;
    const tasksExpired = withdrawn || (latestDay !== null && tasksExpiredAfter(latestDay, now));
    return { outstanding: due || (await this.#planning(campaignId)), tasksExpired };
  }

  /**
   * Groups the officers have yet to post to, over every scope: the case page's follow-ups.
   * The same figure as progress's `awaitingOfficers` (expired or withdrawn tasks are settled).
   */
  async awaitingOfficers(campaignId: string): Promise<number> {
    const parts = await this.awaitingParts(campaignId);
    if (parts.awaiting === 0) return 0;
    return (await this.runState(campaignId, parts.latestDay)).tasksExpired ? 0 : parts.awaiting;
  }

  /**
   * `awaitingOfficers` in the parts a caller may keep (the cases list, cases/kept.ts): the
   * runs' awaiting deliveries and latest day, with whether every run was settled when read
   * (then they change only with a bump of a run's generation, tracking/run-generation.ts).
   */
  async awaitingParts(campaignId: string): Promise<{ awaiting: number; latestDay: string | null; settled: boolean }> {
    const now = this.clock.now();
    const runs = await mapLimited(await runIdsOf(campaignId), 4, (run) => runFiguresRead(run, now));
    let awaiting = 0;
    let latestDay: string | null = null;
    for (const row of runs.flatMap((run) => run.figures.townships)) {
      awaiting += row.counts.awaiting;
      if (row.latestDay && (!latestDay || row.latestDay > latestDay)) latestDay = row.latestDay;
    }
    return { awaiting, latestDay, settled: runs.every((run) => run.settled) };
  }

  /** Whether the campaign's officer tasks are withdrawn (its document's and its notice's state). */
  async tasksWithdrawn(campaignId: string): Promise<boolean> {
    const doc = await CampaignModel.findById(campaignId, WITHDRAWAL_CAMPAIGN_FIELDS).lean();
    const notice = doc?.noticeId ? await NoticeModel.findById(doc.noticeId, WITHDRAWAL_NOTICE_FIELDS).lean() : null;
    return withdrawalReason(doc ?? null, notice ?? null) !== null;
  }

  /**
   * The campaign's figures per township and run, inside `inside` when given: each run's from
   * its summary once it has nothing pending, else from its batches by `_id`
   * (tracking/run-summaries.ts).
   */
  private async townshipsOf(
    campaignId: string,
    inside?: (regionPath: readonly string[]) => boolean,
  ): Promise<TownshipFigures[]> {
    const now = this.clock.now();
    const runs = await mapLimited(await runIdsOf(campaignId), 4, (run) => runFigures(run, now));
    const rows = runs.flatMap((run) => run.townships);
    return inside ? rows.filter((row) => inside(row.regionPath)) : rows;
  }

  private async nameOf(code: string): Promise<string> {
    const known = this.names.get(code);
    if (known !== undefined) return known;
    const name = (await this.regions.find(code))?.name ?? code;
    if (this.names.size > 10_000) this.names.clear();
    this.names.set(code, name);
    return name;
  }

  /**
   * The list's 进度 and 触达 columns for a page of campaigns: each campaign's batches' counts
   * summed, its batches read by `_id` (batches outside the scope count nothing).
   */
  async summaries(scope: Scope, campaignIds: string[]): Promise<Array<ProgressCounts & { campaignId: string }>> {
    // Each campaign's runs, from their summaries or their own batches by `_id`, a few campaigns at once.
    const unique = [...new Set(campaignIds)];
    const sums = await mapLimited(unique, 4, async (campaignId) => {
      const into = zero();
      for (const row of await this.townshipsOf(campaignId, (path) => scope.contains(path))) add(into, row.counts);
      return { campaignId, ...into };
    });
    return sums;
  }

  async progress(scope: Scope, campaignId: string): Promise<CampaignProgress> {
    const campaign = await visibleCampaign(this.regions, scope, campaignId);
    const figures = await this.townshipsOf(campaignId, (path) => scope.contains(path));
    let latestDay: string | null = null;
    for (const row of figures)
      if (row.latestDay && (!latestDay || row.latestDay > latestDay)) latestDay = row.latestDay;
    const totals = { ...zero(), awaitingWecom: 0 };
    const counties = new Map<string, ProgressCounts & { awaitingWecom: number }>();
    const townships = new Map<string, ProgressCounts & { countyCode: string; awaitingWecom: number }>();
    for (const row of figures) {
      const wecom = row.awaitingWecom;
      add(totals, row.counts);
      totals.awaitingWecom += wecom;
      const county = counties.get(row.countyCode) ?? { ...zero(), awaitingWecom: 0 };
      counties.set(row.countyCode, county);
      add(county, row.counts);
      county.awaitingWecom += wecom;
      const township = townships.get(row.townshipCode) ?? { ...zero(), countyCode: row.countyCode, awaitingWecom: 0 };
      townships.set(row.townshipCode, township);
      add(township, row.counts);
      township.awaitingWecom += wecom;
    }
    // Names not known yet in one read (a first call in a process met ~100 townships one scan each).
    const unnamed = [...counties.keys(), ...townships.keys()].filter((code) => !this.names.has(code));
    if (unnamed.length > 1) {
      if (this.names.size > 10_000) this.names.clear();
      for (const [code, name] of await this.regions.names(unnamed)) this.names.set(code, name);
    }
    const rows = [];
    for (const [countyCode, counts] of [...counties.entries()].sort()) {
      rows.push({ countyCode, countyName: await this.nameOf(countyCode), ...counts });
    }
    const townshipRows = [];
    for (const [townshipCode, counts] of [...townships.entries()].sort()) {
      townshipRows.push({ townshipCode, townshipName: await this.nameOf(townshipCode), ...counts });
    }
    const run = await this.runState(campaignId, latestDay);
    const awaitingOfficers = run.tasksExpired ? 0 : totals.awaiting;
    return {
      campaignId,
      title: campaign.title,
      ...totals,
      awaitingOfficers,
      finished: totals.queued === 0 && awaitingOfficers === 0 && !run.outstanding,
      counties: rows,
      townships: townshipRows,
    };
  }
}

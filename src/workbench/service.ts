// The workbench (工作台): what waits for the caller, counted cheaply, and an admin's first-day
// steps. One call feeds both the home screen and every badge of the console's navigation, so
// it never reads the delivery batches: failed and uncertain sends come from the month's
// reach roll-up (the county-year documents, kept per process while the fold's change log
// names none of them), the open officer tasks from one document per county read by `_id`,
// every other figure from a tally per region kept while its collection's version token
// stays the same (tallies.ts): no scan per call.
import type { Principal } from '../auth/principal.js';
import { AUTHORS, REVIEWERS, type Role } from '../auth/roles.js';
import type { Clock } from '../lib/clock.js';
import type { Scope } from '../regions/scope.js';
import type { ReachStats } from '../tracking/stats.js';
import { CountyList } from '../channels/manual/scope-counties.js';
import { KeptOpenCounts } from '../channels/manual/kept-open-counts.js';
import { type CampaignTally, type GroupTally, type NoticeTally, type UserTally, WorkbenchTallies } from './tallies.js';

/** A wanted case is "near its deadline" this many days ahead (today included). */
export const NEAR_DEADLINE_DAYS = 3;
/** Officers listed with their open forwarding tasks, most first. */
const OFFICER_ROWS = 10;

export interface OfficerQueue {
  name: string;
  phone: string | null;
  open: number;
}

export interface SetupStep {
  key: 'county' | 'ledger' | 'robot' | 'accounts' | 'notice';
  label: string;
  done: boolean;
  path: string;
}

/** A count is null when the caller's role has no such queue. */
export interface WorkbenchCounts {
  month: string;
  noticesInReview: number | null;
  campaignsInReview: number | null;
  failed: number | null;
  uncertain: number | null;
  awaitingTasks: number | null;
  myTasks: number | null;
  casesToHandle: number | null;
  newTips: number;
  awaitingByOfficer: OfficerQueue[];
  setup: SetupStep[] | null;
}

const has = (roles: readonly Role[], role: Role) => roles.includes(role);

function localDate(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

export class WorkbenchService {
  private readonly countyList = new CountyList();
  private readonly tallies: WorkbenchTallies;

  /**
   * `recountMs`: how long a tally nobody wrote to is kept (tallies.ts; TALLY_RECOUNT_MINUTES).
   * `openCounts`: the process's kept county documents, shared with the open-task list and the
   * monthly table (context.ts), so `warm` serves their first calls too.
   */
  constructor(
    private readonly stats: ReachStats,
    private readonly clock: Clock,
    private readonly timeZone: string,
    recountMs?: number,
    private readonly openCounts: KeptOpenCounts = new KeptOpenCounts(),
  ) {
    this.tallies = new WorkbenchTallies(() => this.clock.now().getTime(), recountMs);
  }

  /** Resolves once no tally's background whole read is running (tests wait for it). */
  settled(): Promise<void> {
    return this.tallies.settled();
  }

  /**
   * Reads every tally once (a process's start), so no navigation waits for a whole collection;
   * with `scope` (an api process passes the root's) also that scope's open-task counts and this
   * month's county-years, which a province admin's first call would otherwise read county by
   * county (156 commands at 50,000 groups). Only reads: kept as any call's reads are. The
   * open-task counts are the copy the open-task list and the monthly table read too.
   */
  async warm(scope?: Scope): Promise<void> {
    const t = this.tallies;
    const month = localDate(this.clock.now(), this.timeZone).slice(0, 7);
    await Promise.all([
      t.notices.get(),
      t.campaigns.get(),
      t.tips.get(),
      t.users.get(),
      t.groups.get(),
      scope ? this.openCounts.tasks(this.countyList.of(scope), this.clock.now()) : null,
      scope ? this.stats.monthCounts(scope, month) : null,
    ]);
  }

  async counts(by: Principal): Promise<WorkbenchCounts> {
    const today = localDate(this.clock.now(), this.timeZone);
    const month = today.slice(0, 7);
    const reviewer = has(REVIEWERS, by.role);
    const author = has(AUTHORS, by.role);
    const officer = by.role === 'officer' || by.role === 'admin';
    // An author's open tasks are read once from the per-county open-task counts (by `_id`:
    // channels/manual/open-counts.ts): their count, the caller's own and the per-officer list.
    // Every other figure comes from the tallies kept under their collections' version tokens
    // (tallies.ts): no count of a collection per call.
    const open = author ? this.openTasks(by) : null;
    // The month's sends from the county-years kept per process (tracking/kept-county-years.ts):
    // asked for now, so its log's token is read in the same command as the tallies' tokens.
    const monthSends = author ? this.stats.monthCounts(by.scope, month) : null;
    monthSends?.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    const code = by.scope.regionCode;
    // Asked for together, so their version tokens are read in one command (db/versions.ts).
    const admin = by.role === 'admin';
    const [notices, campaigns, tips, groups, users] = await Promise.all([
      this.tallies.notices.get(),
      reviewer || author ? this.tallies.campaigns.get() : null,
      this.tallies.tips.get(),
      admin ? this.tallies.groups.get() : null,
      admin ? this.tallies.users.get() : null,
    ]);
    const [sends, awaitingTasks, myTasks, officers, setup] = await Promise.all([
      monthSends,
      open ? open.then((tasks) => tasks.length) : null,
      officer && by.phone
        ? open
          ? open.then((tasks) => tasks.filter((task) => task.officerPhone === by.phone).length)
          : this.openTasks(by, by.phone).then((tasks) => tasks.length)
        : officer
          ? 0
          : null,
      open ? open.then((tasks) => this.awaitingByOfficer(tasks)) : [],
      admin ? this.setup(by, notices, groups!, users!) : null,
    ]);
    const noticesInReview = reviewer ? (notices.byRegion.get(code)?.inReview ?? 0) : null;
    const campaignsInReview = reviewer ? (campaigns?.get(code)?.inReview ?? 0) : null;
    const casesToHandle = author ? this.casesToHandle(code, today, notices, campaigns!) : null;
    // New tips inside the scope (authors), and those the caller is the contact of wherever they are.
    const contact = [...(tips.byContact.get(by.id)?.values() ?? [])];
    const newTips = author
      ? (tips.byRegion.get(code)?.fresh ?? 0) + contact.filter((path) => !path.includes(code)).length
      : contact.length;
    return {
      month,
      noticesInReview,
      campaignsInReview,
      failed: sends?.failed ?? null,
      uncertain: sends?.uncertain ?? null,
      awaitingTasks,
      myTasks,
      casesToHandle,
      newTips,
      awaitingByOfficer: officers,
      setup,
    };
  }

  /**
   * Wanted cases that want an author now: approved, not closed, deadline within
   * NEAR_DEADLINE_DAYS or past; and closing follow-ups (已抓获/已破案/已过期) waiting for review.
   */
  private casesToHandle(code: string, today: string, notices: NoticeTally, campaigns: CampaignTally): number {
    const limit = new Date(Date.parse(`${today}T00:00:00Z`) + (NEAR_DEADLINE_DAYS - 1) * 86_400_000)
      .toISOString()
      .slice(0, 10);
    let near = 0;
    for (const w of notices.wanted.values()) if (w.path.includes(code) && w.deadline <= limit) near += 1;
    return near + (campaigns.get(code)?.closingFollowUps ?? 0);
  }

  /**
   * The open manual tasks inside the caller's scope (not confirmed, not withdrawn, not past the
   * links' 7 days), with their officer: the per-county open-task counts of the scope's
   * counties (channels/manual/open-counts.ts), kept in the process and re-read by `_id` only
   * when the counts' change log names them (channels/manual/kept-open-counts.ts), never the watch list or the task
   * history.
   */
  private async openTasks(
    by: Principal,
    officerPhone?: string,
  ): Promise<{ officerName: string | null; officerPhone: string | null }[]> {
    const tasks = await this.openCounts.tasks(this.countyList.of(by.scope), this.clock.now());
    return officerPhone ? tasks.filter((task) => task.officerPhone === officerPhone) : tasks;
  }

  private awaitingByOfficer(open: { officerName: string | null; officerPhone: string | null }[]): OfficerQueue[] {
    const byKey = new Map<string, OfficerQueue>();
    for (const task of open) {
      const key = `${task.officerName ?? ''}|${task.officerPhone ?? ''}`;
      const row = byKey.get(key) ?? { name: task.officerName ?? '未指定民警', phone: task.officerPhone, open: 0 };
      row.open += 1;
      byKey.set(key, row);
    }
    return [...byKey.values()].sort((a, b) => b.open - a.open || a.name.localeCompare(b.name)).slice(0, OFFICER_ROWS);
  }

  /** The first day of a county: 选县 → 导入台账 → 接入机器人 → 建账号 → 第一条通告. */
  private async setup(
    by: Principal,
    noticeTally: NoticeTally,
    groupTally: GroupTally,
    userTally: UserTally,
  ): Promise<SetupStep[]> {
    const code = by.scope.regionCode;
    const counties = await this.countyList.inside(by.scope);
    const groups = groupTally.get(code)?.all ?? 0;
    const robots = groupTally.get(code)?.robots ?? 0;
    const self = userTally.pathOf.get(by.id)?.includes(code) ? 1 : 0;
    const users = (userTally.byRegion.get(code)?.all ?? 0) - self;
    const notices = noticeTally.byRegion.get(code)?.all ?? 0;
    return [
      { key: 'county', label: '选县：建好本县的区划', done: counties > 0, path: '/regions' },
      { key: 'ledger', label: '导入台账：群组表', done: groups > 0, path: '/groups' },
      { key: 'robot', label: '接入机器人：至少一个群由机器人发送', done: robots > 0, path: '/groups' },
      { key: 'accounts', label: '建账号：宣传民警、审核、民警', done: users > 0, path: '/users' },
      { key: 'notice', label: '第一条通告', done: notices > 0, path: '/notices/new' },
    ];
  }
}

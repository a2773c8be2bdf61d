// The workbench (工作台): what waits for the caller, counted cheaply, and an admin's first-day
// steps. One call feeds both the home screen and every badge of the console's navigation, so
// it never reads the delivery batches: failed and uncertain sends come from the month's
// reach roll-up (one county-year document), every other figure is a count on a small
// collection inside the caller's scope.
import { GroupModel } from '../audience/model.js';
import { UserModel } from '../auth/model.js';
import type { Principal } from '../auth/principal.js';
import { AUTHORS, REVIEWERS, type Role } from '../auth/roles.js';
import { openEntries } from '../channels/manual/watch.js';
import { CampaignModel } from '../campaigns/model.js';
import type { Clock } from '../lib/clock.js';
import { NoticeModel } from '../notices/model.js';
import { RegionModel } from '../regions/model.js';
import { TipModel } from '../tips/model.js';
import type { ReachStats } from '../tracking/stats.js';

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
  constructor(
    private readonly stats: ReachStats,
    private readonly clock: Clock,
    private readonly timeZone: string,
  ) {}

  async counts(by: Principal): Promise<WorkbenchCounts> {
    const scope = by.scope.filter();
    const today = localDate(this.clock.now(), this.timeZone);
    const month = today.slice(0, 7);
    const reviewer = has(REVIEWERS, by.role);
    const author = has(AUTHORS, by.role);
    const officer = by.role === 'officer' || by.role === 'admin';
    // An author's open tasks are read once from the open-task watch list (only open tasks:
    // channels/manual/watch.ts): their count, the caller's own and the per-officer list.
    const open = author ? this.openTasks(by) : null;
    const [noticesInReview, campaignsInReview, sends, awaitingTasks, myTasks, casesToHandle, newTips, officers, setup] =
      await Promise.all([
        reviewer ? NoticeModel.countDocuments({ ...scope, status: 'in_review' }) : null,
        reviewer ? CampaignModel.countDocuments({ ...scope, status: 'in_review' }) : null,
        author ? this.stats.report(by.scope, { from: month, to: month, groupBy: [] }).then((r) => r.totals) : null,
        open ? open.then((tasks) => tasks.length) : null,
        officer && by.phone
          ? open
            ? open.then((tasks) => tasks.filter((task) => task.officerPhone === by.phone).length)
            : this.openTasks(by, by.phone).then((tasks) => tasks.length)
          : officer
            ? 0
            : null,
        author ? this.casesToHandle(by, today) : null,
        TipModel.countDocuments({
          status: 'new',
          ...(author ? { $or: [scope, { contactUserId: by.id }] } : { contactUserId: by.id }),
        }),
        open ? open.then((tasks) => this.awaitingByOfficer(tasks)) : [],
        by.role === 'admin' ? this.setup(by) : null,
      ]);
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
  private async casesToHandle(by: Principal, today: string): Promise<number> {
    const limit = new Date(Date.parse(`${today}T00:00:00Z`) + (NEAR_DEADLINE_DAYS - 1) * 86_400_000)
      .toISOString()
      .slice(0, 10);
    const [near, followUps] = await Promise.all([
      NoticeModel.countDocuments({
        ...by.scope.filter(),
        'content.category': 'wanted_clue',
        status: 'approved',
        retractedAt: null,
        'caseOutcomes.0': { $exists: false },
        'content.wanted.deadline': { $lte: limit },
      }),
      CampaignModel.countDocuments({
        ...by.scope.filter(),
        followUpOfNotice: { $ne: null },
        followUpOutcome: { $in: ['caught', 'solved', 'expired'] },
        status: 'in_review',
      }),
    ]);
    return near + followUps;
  }

  /**
   * The open manual tasks inside the caller's scope (not confirmed, not withdrawn, not past the
   * links' 7 days), with their officer: one read of the watch list, never of the task history.
   */
  private openTasks(
    by: Principal,
    officerPhone?: string,
  ): Promise<{ officerName: string | null; officerPhone: string | null }[]> {
    const filter = { ...by.scope.filter(), kind: 'manual', ...(officerPhone ? { officerPhone } : {}) };
    return openEntries(filter, this.clock.now());
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
  private async setup(by: Principal): Promise<SetupStep[]> {
    const scope = by.scope.filter();
    const [counties, groups, robots, users, notices] = await Promise.all([
      RegionModel.countDocuments({ ...scope, level: 'county' }),
      GroupModel.countDocuments(scope),
      GroupModel.countDocuments({ ...scope, channelKind: { $ne: 'manual' } }),
      UserModel.countDocuments({ ...scope, _id: { $ne: by.id } }),
      NoticeModel.countDocuments(scope),
    ]);
    return [
      { key: 'county', label: '选县：建好本县的区划', done: counties > 0, path: '/regions' },
      { key: 'ledger', label: '导入台账：群组表', done: groups > 0, path: '/groups' },
      { key: 'robot', label: '接入机器人：至少一个群由机器人发送', done: robots > 0, path: '/groups' },
      { key: 'accounts', label: '建账号：宣传民警、审核、民警', done: users > 0, path: '/users' },
      { key: 'notice', label: '第一条通告', done: notices > 0, path: '/notices/new' },
    ];
  }
}

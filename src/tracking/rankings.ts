// Rankings for 触达统计: how each township (a 派出所's ground: the region tree has townships, not
// stations) and each officer did with the manual forwarding tasks of a period. The reach
// figures per township come from `GET /api/reach?groupBy=township`; this adds what the reach
// roll-ups do not hold: per officer and per township, the tasks created in the period, how many
// the officer confirmed, how many are still open, and how long a confirmation took.
//
// A task withdrawn before it was confirmed (its campaign retracted or cancelled, its notice
// archived or its case closed) was never to be forwarded: it counts neither as due nor as open.
// 确认率 = confirmed ÷ (confirmed + open), null when nothing was due.
import { UserModel } from '../auth/model.js';
import { ManualTaskModel } from '../channels/manual/model.js';
import { normalisePhone } from '../lib/phone.js';
import type { Scope } from '../regions/scope.js';
import type { RegionService } from '../regions/service.js';
import { checkRange } from './stats.js';

/** Tasks read for one answer; beyond it the answer says `partial` (a county's month is far below). */
export const RANKING_SCAN_LIMIT = 50_000;

export interface ConfirmationFigures {
  /** Tasks created in the period and not withdrawn before confirmation. */
  due: number;
  confirmed: number;
  open: number;
  /** confirmed ÷ due, 0…1, null when nothing was due. */
  rate: number | null;
  /** Median minutes from the task's creation to its confirmation, null when none was confirmed. */
  medianMinutes: number | null;
}

export interface OfficerRanking extends ConfirmationFigures {
  /** The officer as the group sheet names them (the account's name when one matches the phone). */
  name: string;
  phone: string | null;
  /** Whether one active account in scope has this phone (else nobody is told of the tasks). */
  hasAccount: boolean;
  /** The account's unit (its scope region's name), or the township of the officer's groups. */
  unit: string;
}

export interface TownshipRanking extends ConfirmationFigures {
  code: string;
  name: string;
}

export interface Rankings {
  from: string;
  to: string;
  regionCode: string;
  townships: TownshipRanking[];
  officers: OfficerRanking[];
  partial: boolean;
}

export interface RankingQuery {
  from: string;
  to: string;
  regionCode?: string;
}

interface TaskFields {
  regionPath: string[];
  officerName: string | null;
  officerPhone: string | null;
  createdAt: Date;
  confirmedAt: Date | null;
  withdrawnAt: Date | null;
}

class Counter {
  due = 0;
  confirmed = 0;
  open = 0;
  readonly minutes: number[] = [];

  add(task: TaskFields): void {
    if (task.confirmedAt) {
      this.due += 1;
      this.confirmed += 1;
      this.minutes.push(Math.max(0, (task.confirmedAt.getTime() - task.createdAt.getTime()) / 60_000));
    } else if (!task.withdrawnAt) {
      this.due += 1;
      this.open += 1;
    }
  }

  figures(): ConfirmationFigures {
    const sorted = [...this.minutes].sort((a, b) => a - b);
    const middle = sorted.length / 2;
    const median =
      sorted.length === 0
        ? null
        : sorted.length % 2
          ? sorted[Math.floor(middle)]!
          : (sorted[middle - 1]! + sorted[middle]!) / 2;
    return {
      due: this.due,
      confirmed: this.confirmed,
      open: this.open,
      rate: this.due ? this.confirmed / this.due : null,
      medianMinutes: median === null ? null : Math.round(median),
    };
  }
}

/** Higher rate first, then more confirmed, then the name: nothing due goes last. */
function byRate<T extends ConfirmationFigures & { name: string }>(a: T, b: T): number {
  return (b.rate ?? -1) - (a.rate ?? -1) || b.confirmed - a.confirmed || a.name.localeCompare(b.name, 'zh-CN');
}

const localDate = (at: Date, timeZone: string) =>
  new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);

/** YYYY-MM → its last day, YYYY-MM-DD. */
function lastDayOf(month: string): string {
  const [year, m] = month.split('-').map(Number) as [number, number];
  return `${month}-${String(new Date(Date.UTC(year, m, 0)).getUTCDate()).padStart(2, '0')}`;
}

export class RankingService {
  constructor(
    private readonly regions: RegionService,
    private readonly timeZone: string,
  ) {}

  async rankings(scope: Scope, query: RankingQuery): Promise<Rankings> {
    const kind = checkRange(query.from, query.to);
    const base = query.regionCode ?? scope.regionCode;
    // Throws NotFound for a region outside the caller's scope.
    if (query.regionCode) await this.regions.get(scope, query.regionCode);
    const [first, last] = kind === 'day' ? [query.from, query.to] : [`${query.from}-01`, lastDayOf(query.to)];
    // A day either side covers any zone's offset; each task is then kept by its local date.
    const window = {
      $gte: new Date(Date.parse(`${first}T00:00:00Z`) - 86_400_000),
      $lt: new Date(Date.parse(`${last}T00:00:00Z`) + 2 * 86_400_000),
    };
    const read = await ManualTaskModel.find(
      { regionPath: base, createdAt: window },
      { _id: 0, regionPath: 1, officerName: 1, officerPhone: 1, createdAt: 1, confirmedAt: 1, withdrawnAt: 1 },
    )
      .limit(RANKING_SCAN_LIMIT + 1)
      .lean<TaskFields[]>();
    const partial = read.length > RANKING_SCAN_LIMIT;
    const tasks = read.slice(0, RANKING_SCAN_LIMIT).filter((task) => {
      const date = localDate(task.createdAt, this.timeZone);
      return date >= first && date <= last;
    });

    const townships = await this.regions.subtree(scope, base, 'township').catch(() => []);
    const townshipOf = new Map(townships.map((t) => [t.code, t]));
    const byTownship = new Map<string, Counter>();
    const officers = new Map<string, { counter: Counter; name: string; phone: string | null; townships: Map<string, number> }>();
    for (const task of tasks) {
      const township = task.regionPath.find((code) => townshipOf.has(code));
      if (township) {
        const counter = byTownship.get(township) ?? new Counter();
        counter.add(task);
        byTownship.set(township, counter);
      }
      const phone = task.officerPhone ? normalisePhone(task.officerPhone) : '';
      const key = phone ? `phone:${phone}` : `name:${task.officerName ?? ''}`;
      let officer = officers.get(key);
      if (!officer) {
        officer = { counter: new Counter(), name: task.officerName ?? '未指定民警', phone: task.officerPhone, townships: new Map() };
        officers.set(key, officer);
      }
      officer.counter.add(task);
      if (township) officer.townships.set(township, (officer.townships.get(township) ?? 0) + 1);
    }

    const accounts = await this.accounts(scope);
    const units = await this.regions.names([...new Set([...accounts.values()].flatMap((a) => (a ? [a.regionCode] : [])))]);
    const officerRows: OfficerRanking[] = [...officers.entries()].map(([key, officer]) => {
      const account = key.startsWith('phone:') ? accounts.get(key.slice(6)) : undefined;
      const home = [...officer.townships.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
      return {
        name: account?.displayName ?? officer.name,
        phone: officer.phone,
        hasAccount: !!account,
        unit: (account ? units.get(account.regionCode) : undefined) ?? (home ? (townshipOf.get(home)?.name ?? '') : ''),
        ...officer.counter.figures(),
      };
    });
    const townshipRows: TownshipRanking[] = townships.map((t) => ({
      code: t.code,
      name: t.name,
      ...(byTownship.get(t.code) ?? new Counter()).figures(),
    }));
    return {
      from: query.from,
      to: query.to,
      regionCode: base,
      townships: townshipRows.sort(byRate),
      officers: officerRows.sort(byRate),
      partial,
    };
  }

  /** Active accounts with a phone inside the scope, by normalised phone; null where two share one. */
  private async accounts(scope: Scope): Promise<Map<string, { displayName: string; regionCode: string } | null>> {
    const users = await UserModel.find(
      { ...scope.filter(), active: true, phone: { $ne: null } },
      { _id: 0, displayName: 1, phone: 1, regionCode: 1 },
    ).lean<{ displayName: string; phone: string; regionCode: string }[]>();
    const out = new Map<string, { displayName: string; regionCode: string } | null>();
    for (const user of users) {
      const phone = normalisePhone(user.phone);
      if (phone.length < 5) continue;
      out.set(phone, out.has(phone) ? null : { displayName: user.displayName, regionCode: user.regionCode });
    }
    return out;
  }

}

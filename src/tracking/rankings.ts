// Rankings for 触达统计: how each township (a 派出所's ground: the region tree has townships, not
// stations) and each officer did with the manual forwarding tasks of a period. The reach
// figures per township come from `GET /api/reach?groupBy=township`; this adds what the reach
// roll-ups do not hold: per officer and per township, the tasks created in the period, how many
// the officer confirmed, how many are still open, and how long a confirmation took.
//
// A task withdrawn before it was confirmed (its campaign retracted or cancelled, its notice
// archived or its case closed) was never to be forwarded: it counts neither as due nor as open.
// 确认率 = confirmed ÷ (confirmed + open), null when nothing was due.
//
// Read from the tallies (rank-tally.ts) by `_id`, never from the tasks: above a county the
// region's blocks that cover the period (a month one read, 30 days at most 8), for a county or
// a township its county's month documents (one per month), below a township one county-day
// document per day. Exact as of the last fold (every 2 s, with the roll-ups), and bounded by
// the period whatever the tasks collection holds. 用时中位数 is the median of the delays in whole
// seconds, in minutes.
import { UserModel } from '../auth/model.js';
import { mapLimit } from '../lib/concurrency.js';
import { normalisePhone } from '../lib/phone.js';
import type { Scope } from '../regions/scope.js';
import type { RegionService } from '../regions/service.js';
import { type Delays, medianOf } from './rank-delays.js';
import { type Cell, cellsAbove, cellsOfCounty, cellsWithin, keyOf } from './rank-tally.js';
import { checkRange } from './stats.js';

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

class Counter {
  due = 0;
  confirmed = 0;
  open = 0;
  /** The cells' confirmation delays (rank-delays.ts), decoded only for the median. */
  private readonly delays: Delays[] = [];

  add(cell: Cell): void {
    this.due += cell[5];
    this.confirmed += cell[6];
    this.open += cell[7];
    if (cell[6]) this.delays.push(cell[8]);
  }

  figures(): ConfirmationFigures {
    const median = medianOf(this.delays);
    return {
      due: this.due,
      confirmed: this.confirmed,
      open: this.open,
      rate: this.due ? this.confirmed / this.due : null,
      medianMinutes: median === null ? null : Math.round(median / 60),
    };
  }
}

/** Higher rate first, then more confirmed, then the name: nothing due goes last. */
function byRate<T extends ConfirmationFigures & { name: string }>(a: T, b: T): number {
  return (b.rate ?? -1) - (a.rate ?? -1) || b.confirmed - a.confirmed || a.name.localeCompare(b.name, 'zh-CN');
}

/** Every day from `first` to `last` (YYYY-MM-DD), both included. */
function daysFrom(first: string, last: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${first}T00:00:00Z`); t <= Date.parse(`${last}T00:00:00Z`); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

/** YYYY-MM → its last day, YYYY-MM-DD. */
function lastDayOf(month: string): string {
  const [year, m] = month.split('-').map(Number) as [number, number];
  return `${month}-${String(new Date(Date.UTC(year, m, 0)).getUTCDate()).padStart(2, '0')}`;
}

export class RankingService {
  constructor(private readonly regions: RegionService) {}

  async rankings(scope: Scope, query: RankingQuery): Promise<Rankings> {
    const kind = checkRange(query.from, query.to);
    const base = query.regionCode ?? scope.regionCode;
    const [first, last] = kind === 'day' ? [query.from, query.to] : [`${query.from}-01`, lastDayOf(query.to)];
    // The tallies of each local day of the period, by `_id` (rank-tally.ts): bounded by the
    // days and the region's own tallies, not by the tasks collection.
    const region = await this.regions.get(scope, base);
    const at = region.regionPath.indexOf(base);
    const depth = at >= 0 ? at : region.regionPath.length;
    const county = depth >= 3 ? (depth === 3 ? base : region.regionPath[3]!) : null;
    const cells =
      county === null
        ? await cellsAbove(first, last, base)
        : depth <= 4
          ? await cellsOfCounty(first, last, county, depth === 4 ? base : null)
          : (await mapLimit(daysFrom(first, last), 8, (day) => cellsWithin(day, county, base, depth))).flat();

    const townships = await this.regions.subtree(scope, base, 'township').catch(() => []);
    const townshipOf = new Map(townships.map((t) => [t.code, t]));
    const byTownship = new Map<string, Counter>();
    const officers = new Map<
      string,
      { counter: Counter; name: string; phone: string | null; townships: Map<string, number> }
    >();
    for (const cell of cells) {
      const [township, , name, phone, tasks] = cell;
      const key = keyOf(cell);
      if (townshipOf.has(township)) {
        const counter = byTownship.get(township) ?? new Counter();
        counter.add(cell);
        byTownship.set(township, counter);
      }
      let officer = officers.get(key);
      if (!officer) {
        officer = { counter: new Counter(), name: name ?? '未指定民警', phone, townships: new Map() };
        officers.set(key, officer);
      }
      officer.counter.add(cell);
      if (townshipOf.has(township)) officer.townships.set(township, (officer.townships.get(township) ?? 0) + tasks);
    }

    const accounts = await this.accounts(scope);
    const units = await this.regions.names([
      ...new Set([...accounts.values()].flatMap((a) => (a ? [a.regionCode] : []))),
    ]);
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
      partial: false,
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

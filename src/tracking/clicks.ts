// Clicks on tracked links, counted exactly without counters: every counted click is a
// document whose _id is `${visitor}#${n}`, inserted under a unique index (which holds on
// FerretDB, unlike a concurrent $inc). The visitor is an HMAC of address, user agent, day
// and link under a server secret, so no raw address is stored and keys change every day.
// A visitor counts at most MAX_PER_VISITOR clicks per link and day: a click storm costs at
// most that many small documents.
//
// The monthly table reads clicks per township and month from the tallies (click-tally.ts),
// never from this collection: a click with a township is written as that module's header
// says (intent, then the click carrying its intent's id, on the request path; the tallies and
// the intent's removal batched per process by click-flusher.ts).
import { createHmac } from 'node:crypto';
import mongoose from 'mongoose';
import { localDay } from '../campaigns/schedule.js';
import type { Clock } from '../lib/clock.js';
import { isDuplicateKey } from '../lib/errors.js';
import { ClickTallyFlusher, FLUSH_EVERY_MS } from './click-flusher.js';
import {
  beginClick,
  type ClickIntent,
  clickTalliesBuilt,
  endClick,
  readClickTallies,
  repairClickTallies,
} from './click-tally.js';
import { type LinkTarget, townshipOf } from './links.js';

export const MAX_PER_VISITOR = 10;
/** Visitors whose next click number a process keeps (a hint: about 100 bytes each). */
const VISITORS_KEPT = 50_000;

const clickSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    campaignId: { type: String, required: true },
    groupId: { type: String, default: '' },
    noticeId: { type: String, required: true },
    townshipCode: { type: String, default: '' },
    day: { type: String, required: true },
    month: { type: String, required: true },
    /** The visitor's first click on this link this day: unique clicks are these. */
    first: { type: Boolean, required: true },
    at: { type: Date, required: true },
    /** The tally intent it was written under (click-tally.ts); absent on clicks counted before the tallies. */
    intent: { type: String, default: undefined },
  },
  { versionKey: false },
);
// Clicks per township in a month (the monthly table).
clickSchema.index({ month: 1, townshipCode: 1 });
// Clicks of a campaign per group and day.
clickSchema.index({ campaignId: 1, day: 1 });

export const ClickModel = mongoose.model('Click', clickSchema);

export interface ClickCount {
  clicks: number;
  uniqueClicks: number;
}

export class ClickService {
  constructor(
    private readonly clock: Clock,
    private readonly timeZone: string,
    private readonly secret: () => Buffer,
    /** The village of a group, for links that do not carry it (audience room). */
    private readonly villageOfGroup: (groupId: string) => Promise<string | null> = async () => null,
    /** This process's tally batches (another instance in a test: another process). */
    private readonly flusher = new ClickTallyFlusher(FLUSH_EVERY_MS, (error) =>
      process.stderr.write(`[click tallies] ${error instanceof Error ? error.message : String(error)}\n`),
    ),
  ) {}

  /**
   * Counts one click; true when it was counted (false past the visitor's daily cap). On the
   * request path: the intent and the click (two inserts) for a visitor this process has seen
   * (its next free `#n` kept in `nextClick`); a visitor's earlier clicks cost a failed insert
   * each and one read of its last `_id`. The tally step is the flusher's (click-flusher.ts).
   */
  async record(target: LinkTarget, ip: string, userAgent: string): Promise<boolean> {
    const at = this.clock.now();
    const day = localDay(at, this.timeZone);
    const visitor = createHmac('sha256', this.secret())
      .update([ip, userAgent, day, target.campaignId, target.groupId ?? '', target.noticeId].join('\n'))
      .digest('base64url')
      .slice(0, 22);
    const from = this.nextClick.get(visitor) ?? 0;
    if (from >= MAX_PER_VISITOR) return false;
    const village = target.villageCode ?? (target.groupId ? await this.villageOfGroup(target.groupId) : null);
    const fields = {
      campaignId: target.campaignId,
      groupId: target.groupId ?? '',
      noticeId: target.noticeId,
      // '' when the link names no group: counted for the campaign, in no township.
      townshipCode: village ? townshipOf(village) : '',
      day,
      month: day.slice(0, 7),
      at,
    };
    // A click in no township is counted for the campaign only: no tally.
    const intent = fields.townshipCode ? await beginClick(visitor, fields.month, fields.townshipCode, at) : null;
    let capChecked = false;
    for (let n = from; n < MAX_PER_VISITOR; n++) {
      try {
        await ClickModel.create({ _id: `${visitor}#${n}`, ...fields, first: n === 0, intent: intent?._id });
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        // Clicked before: past the cap already? (One read instead of up to ten failed inserts.)
        if (!capChecked && n < MAX_PER_VISITOR - 1) {
          capChecked = true;
          if (await ClickModel.exists({ _id: `${visitor}#${MAX_PER_VISITOR - 1}` })) break;
        }
        continue;
      }
      this.remember(visitor, n + 1);
      if (intent) await this.tally(intent, n === 0);
      return true;
    }
    this.remember(visitor, MAX_PER_VISITOR);
    if (intent) await endClick(intent);
    return false;
  }

  /** Visitor → its next free click number as this process last saw it (a bounded hint). */
  private readonly nextClick = new Map<string, number>();

  private remember(visitor: string, next: number): void {
    this.nextClick.delete(visitor);
    this.nextClick.set(visitor, next);
    if (this.nextClick.size > VISITORS_KEPT) this.nextClick.delete(this.nextClick.keys().next().value!);
  }

  /** The tally step of a written click (click-tally.ts step 3): handed to the flusher; a parameter so a test can stop the writer there. */
  tally: (intent: ClickIntent, first: boolean) => Promise<void> = async (intent, first) =>
    this.flusher.add(intent, first);

  /** Applies this process's pending tallies now (the flusher does within FLUSH_EVERY_MS anyway). */
  flushTallies(): Promise<void> {
    return this.flusher.flush();
  }

  /** Shutdown: the pending tallies applied, the flusher's timer stopped. */
  close(): Promise<void> {
    return this.flusher.close();
  }

  /** Finishes the tallies of clicks whose writers died (click-tally.ts); `force` skips the pacing. */
  async repairTallies(now: Date, force = false): Promise<number> {
    return repairClickTallies(
      now,
      async (intent) => {
        const clicks = await Promise.all(
          Array.from({ length: MAX_PER_VISITOR }, (_, n) =>
            ClickModel.findById(`${intent.visitor}#${n}`, { intent: 1, first: 1 }).lean<{
              intent?: string;
              first: boolean;
            }>(),
          ),
        );
        const mine = clicks.find((click) => click?.intent === intent._id);
        return mine ? { first: mine.first } : null;
      },
      force,
    );
  }

  /**
   * Clicks per township over the months, for every township with a click in `region` or (for
   * a township or village) in its county: from the tallies, one `_id` read per month; from the
   * clicks until the tallies are built (click-tally.ts). Scope-check before showing anything.
   */
  async inRegion(months: readonly string[], region: string): Promise<Map<string, ClickCount>> {
    const counts = new Map<string, ClickCount>();
    if (await clickTalliesBuilt()) {
      // Read-your-writes: this process's clicks not yet tallied are applied first.
      await this.flusher.flush();
      // A township's or village's code begins with its county's (regions/levels.ts
      // `codeFitsParent`): their clicks are in the county's documents.
      const county = region.length > 6 ? region.slice(0, 6) : undefined;
      for (const [code, [clicks, uniqueClicks]] of await readClickTallies(months, county ?? region)) {
        if (clicks > 0) counts.set(code, { clicks, uniqueClicks });
      }
      return counts;
    }
    for (const month of months) {
      for (const [code, count] of await this.perTownship(month, await this.townshipsClicked(month))) {
        const sum = counts.get(code) ?? { clicks: 0, uniqueClicks: 0 };
        counts.set(code, { clicks: sum.clicks + count.clicks, uniqueClicks: sum.uniqueClicks + count.uniqueClicks });
      }
    }
    return counts;
  }

  /** Townships with a click in a month, read from the clicks (scope-check them before showing anything). */
  async townshipsClicked(month: string): Promise<string[]> {
    const rows = await ClickModel.aggregate<{ _id: string }>([
      { $match: { month, townshipCode: { $ne: '' } } },
      { $group: { _id: '$townshipCode' } },
    ]);
    return rows.map((row) => row._id);
  }

  /** Clicks per township in a month, for the townships given (already scope-checked). */
  async perTownship(month: string, townshipCodes: string[]): Promise<Map<string, ClickCount>> {
    const counts = new Map<string, ClickCount>(townshipCodes.map((code) => [code, { clicks: 0, uniqueClicks: 0 }]));
    if (townshipCodes.length === 0) return counts;
    const match = { month, townshipCode: { $in: townshipCodes } };
    const [all, unique] = await Promise.all([
      ClickModel.aggregate<{ _id: string; n: number }>([
        { $match: match },
        { $group: { _id: '$townshipCode', n: { $sum: 1 } } },
      ]),
      ClickModel.aggregate<{ _id: string; n: number }>([
        { $match: { ...match, first: true } },
        { $group: { _id: '$townshipCode', n: { $sum: 1 } } },
      ]),
    ]);
    for (const row of all) counts.get(row._id)!.clicks = row.n;
    for (const row of unique) counts.get(row._id)!.uniqueClicks = row.n;
    return counts;
  }
}

// What residents may see of a notice (issue 15 finding 5, SPEC §3.8). A notice is public only
// once it was actually sent (some delivery of it went out); a retracted or archived notice shows
// only that it was withdrawn (and, for a wanted case, how it ended once that follow-up went out);
// a wanted notice's tip form is open until its deadline day ends.
import { localDay } from '../campaigns/schedule.js';
import type { Clock } from '../lib/clock.js';
import type { ApprovedNotice, CaseOutcome, Notice, NoticeService } from '../notices/service.js';
import type { Scope } from '../regions/scope.js';
import { RECEIVED_STATUSES } from '../tracking/recipients.js';
import type { CountKey } from '../tracking/counts.js';
import { runIdsOf, runIdsOfNotice } from '../tracking/run-batches.js';
import { runFigures } from '../tracking/run-summaries.js';

export type TipForm = 'open' | 'closed_deadline' | null;

export type PublicState =
  | { kind: 'missing' }
  | {
      kind: 'withdrawn';
      /** The case outcome whose follow-up has gone out (residents were told), if any. */
      announced: CaseOutcome | null;
      wanted: boolean;
      issuingUnit: string;
      /** The follow-up notice residents were sent (a case outcome's), if any. */
      followUpNoticeId: string | null;
    }
  | { kind: 'live'; notice: ApprovedNotice; tipForm: TipForm };

// Being sent never reverts, so a positive answer is kept; a negative one only briefly (a
// notice page is asked for again as soon as its first card lands in a group).
const NOT_SENT_TTL_MS = 30_000;
const MAX_REMEMBERED = 10_000;

export class PublicationService {
  private readonly sent = new Set<string>();
  private readonly notSentUntil = new Map<string, number>();

  constructor(
    private readonly notices: NoticeService,
    private readonly rootScope: Scope,
    private readonly clock: Clock,
    private readonly timeZone: string,
  ) {}

  /** Whether any delivery of the notice (or of the campaign, with `campaignId`) went out. */
  async wasSent(filter: { noticeId: string } | { campaignId: string }): Promise<boolean> {
    const key = 'noticeId' in filter ? `n:${filter.noticeId}` : `c:${filter.campaignId}`;
    if (this.sent.has(key)) return true;
    const now = this.clock.now().getTime();
    if ((this.notSentUntil.get(key) ?? 0) > now) return false;
    // The notice's (or campaign's) runs from their summaries once settled, else their own
    // batches by `_id` (tracking/run-summaries.ts); the first run that reached a group answers.
    const runs = 'noticeId' in filter ? await runIdsOfNotice(filter.noticeId) : await runIdsOf(filter.campaignId);
    let reached = false;
    for (const run of runs) {
      const { townships } = await runFigures(run, this.clock.now());
      if (townships.some((row) => RECEIVED_STATUSES.some((status) => (row.counts[status as CountKey] ?? 0) > 0))) {
        reached = true;
        break;
      }
    }
    if (this.sent.size + this.notSentUntil.size > MAX_REMEMBERED) {
      this.sent.clear();
      this.notSentUntil.clear();
    }
    if (reached) {
      this.sent.add(key);
      this.notSentUntil.delete(key);
    } else {
      this.notSentUntil.set(key, now + NOT_SENT_TTL_MS);
    }
    return reached;
  }

  async state(noticeId: string): Promise<PublicState> {
    const notice = await this.notices.get(this.rootScope, noticeId).catch(() => null);
    if (!notice || notice.approvedVersion == null || !(await this.wasSent({ noticeId }))) return { kind: 'missing' };
    if (isWithdrawn(notice)) {
      const announced = await this.announcedOutcome(notice);
      return {
        kind: 'withdrawn',
        announced,
        wanted: notice.content.category === 'wanted_clue',
        issuingUnit: notice.content.issuingUnit,
        followUpNoticeId: announced?.followUpNoticeId ?? null,
      };
    }
    const approved = await this.notices.getVersion(this.rootScope, noticeId, notice.approvedVersion);
    const wanted = approved.content.wanted;
    const tipForm: TipForm = !wanted ? null : this.deadlinePassed(wanted.deadline) ? 'closed_deadline' : 'open';
    return { kind: 'live', notice: approved, tipForm };
  }

  /** The deadline is a local date: the form stays open through that whole day. */
  deadlinePassed(deadline: string): boolean {
    return localDay(this.clock.now(), this.timeZone) > deadline;
  }

  private async announcedOutcome(notice: Notice): Promise<CaseOutcome | null> {
    for (const outcome of [...notice.caseOutcomes].reverse()) {
      if (outcome.followUpCampaignId && (await this.wasSent({ campaignId: outcome.followUpCampaignId }))) {
        return outcome;
      }
    }
    return null;
  }
}

export function isWithdrawn(notice: Pick<Notice, 'status' | 'retractedAt'>): boolean {
  return notice.status === 'archived' || notice.retractedAt !== null;
}

// A wanted notice as a case (SPEC §3.8): its deadline and its end. When the deadline day has
// passed, the scheduler drafts the "已过期" follow-up; an editor's "已抓获/已破案" drafts the
// solved one. Each follow-up is a notice waiting for review plus an urgent campaign waiting for
// review, addressed to every group that received the original through any campaign
// (`recipientsOfNotice`); the original is withdrawn at once (never sent again; its public page
// and pictures come down).
import { createHash } from 'node:crypto';
import type { AuditService } from '../audit/service.js';
import type { Principal } from '../auth/principal.js';
import { localDay } from '../campaigns/schedule.js';
import { type CampaignService, followUpIdFor } from '../campaigns/service.js';
import { type Intent, newIntent, runIntent, unfinishedIntents } from '../db/claims.js';
import { collectionToken, collectionVersion } from '../db/versions.js';
import type { Clock } from '../lib/clock.js';
import { Conflict, NotFound } from '../lib/errors.js';
import type { ApprovedNotice, CaseOutcome, Notice, NoticeService } from '../notices/service.js';
import type { Scope } from '../regions/scope.js';
import { isWithdrawn } from '../residents/publication.js';
import type { TipService } from '../tips/service.js';
import { tasksExpiredAfter } from '../tracking/progress.js';
import { noticeWasPlanned, receivedCountsOf } from '../tracking/recipients.js';
import { mapLimited } from '../tracking/run-batches.js';
import { allRunsGeneration } from '../tracking/run-generation.js';
import { noticeReachRead } from '../tracking/run-summaries.js';
import { followUpContent } from './follow-up-text.js';
import { GenerationKept, TokenKept } from './kept.js';

export interface CaseSummary {
  noticeId: string;
  title: string;
  deadline: string;
  deadlinePassed: boolean;
  withdrawn: boolean;
  /** followUpAwaitingOfficers: groups the officers have yet to post the follow-up to (待转发). */
  outcomes: (CaseOutcome & { followUpStatus: string | null; followUpAwaitingOfficers: number })[];
  newTips: number;
  /** Groups and villages the original reached through any campaign (the follow-ups' audience). */
  reached: { groupCount: number; villageCount: number };
  /** Why the case wants its editors' attention: the badge counts cases with any. */
  attention: ('deadline_passed' | 'follow_up_in_review' | 'new_tips')[];
}

const LIST_LIMIT = 200;
/** The deadline watch re-reads the notices at least this often, whatever their token says. */
export const DEADLINE_KEEP_MS = 10 * 60_000;
/** An intent younger than this is left to the runner that recorded it (the sweep takes older ones). */
const INTENT_SWEEP_AFTER_MS = 10_000;

/** What the follow-up's title says: what was chosen. */
const OUTCOME_LABELS: Record<CaseOutcome['kind'], string> = { caught: '已抓获', solved: '已破案', expired: '已过期' };

/** One outcome of each slot per case: 已抓获 and 已破案 are the same end. */
function outcomeSlot(kind: CaseOutcome['kind']): 'expired' | 'solved' {
  return kind === 'expired' ? 'expired' : 'solved';
}

/** The follow-up draft's id, the same for every runner of one outcome (hex of its key's hash). */
function draftIdFor(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 24);
}

export class CaseService {
  constructor(
    private readonly notices: NoticeService,
    private readonly campaigns: CampaignService,
    private readonly tips: TipService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly timeZone: string,
    /** Who drafts on the scheduler's behalf: root scope, never a person who could approve. */
    private readonly system: Principal,
    /** How long the runner of a case outcome's steps holds them (one that died is taken over after); trace: see config.intentTrace. */
    private readonly options: {
      intentLeaseMs: number;
      trace?: boolean;
      /** Groups the officers have yet to post a campaign to (tracking's progress). */
      awaitingOfficers?: (campaignId: string) => Promise<number>;
      /** The same figure in parts the list keeps (tracking/progress.ts `awaitingParts`, `tasksWithdrawn`). */
      awaitingParts?: (campaignId: string) => Promise<{ awaiting: number; latestDay: string | null; settled: boolean }>;
      tasksWithdrawn?: (campaignId: string) => Promise<boolean>;
    } = { intentLeaseMs: 60_000 },
  ) {}
  /** The deadline watch's last full pass: the notices' token before it, the deadlines still ahead. */
  private deadlines: { token: string; at: number; pending: string[] } | null = null;
  /** The list's reads of notices, campaigns and tips, kept under their tokens (kept.ts). */
  private readonly kept = new TokenKept(() => this.clock.now().getTime(), DEADLINE_KEEP_MS);
  /** Each case's reach, kept under the generation of every run (kept.ts `GenerationKept`). */
  private readonly reaches = new GenerationKept<{ groupCount: number; villageCount: number }>();
  /** The follow-ups' awaiting deliveries and latest day, kept the same way. */
  private readonly awaiting = new GenerationKept<{ awaiting: number; latestDay: string | null }>();
  readonly owner = `cases-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  private deadlinePassed(deadline: string): boolean {
    return localDay(this.clock.now(), this.timeZone) > deadline;
  }

  /**
   * The scheduler's job: every live wanted notice past its deadline gets its "已过期" draft once.
   * Idle passes (once a minute, docs/cases.md *The deadline watch*) read one document: the
   * notices' version token (db/versions.ts), by `_id`. While it is the token read before the
   * last full pass, and no deadline that pass kept has passed since, nothing can be due: the
   * notices are not read (a scan of every notice on FerretDB). Any notice write, a kept deadline
   * passing, or DEADLINE_KEEP_MS (a writer that died between its write and the token) makes the
   * next pass a full one.
   */
  async sweepDeadlines(): Promise<number> {
    const token = await collectionToken('notices');
    const kept = this.deadlines;
    const now = this.clock.now().getTime();
    if (
      kept &&
      token !== null &&
      kept.token === token &&
      now - kept.at < DEADLINE_KEEP_MS &&
      !kept.pending.some((deadline) => this.deadlinePassed(deadline))
    )
      return 0;
    this.deadlines = null;
    let drafted = 0;
    const pending: string[] = [];
    for (const notice of await this.notices.liveWantedNotices()) {
      const deadline = notice.content.wanted?.deadline;
      if (!deadline) continue;
      if (notice.caseOutcomes.some((outcome) => outcome.kind === 'expired')) continue;
      if (!this.deadlinePassed(deadline)) {
        pending.push(deadline);
        continue;
      }
      const outcome = await this.conclude(this.system, notice, 'expired', null, null).catch((error: unknown) => {
        if (error instanceof Conflict) return null; // another scheduler was first
        throw error;
      });
      if (outcome) drafted += 1;
    }
    // A pass that drafted wrote notices: the token it read is old, and the next pass is full.
    if (token !== null) this.deadlines = { token, at: now, pending };
    return drafted;
  }

  /** "已抓获/已破案": drafts the solved follow-up and withdraws the original. */
  async solve(
    by: Principal,
    noticeId: string,
    kind: 'caught' | 'solved',
    note: string | null,
    ip: string | null = null,
  ): Promise<CaseSummary> {
    const notice = await this.notices.get(by.scope, noticeId);
    // A notice that is not a wanted notice is no case: 404, like any unknown case (fuzz ST202).
    if (notice.content.category !== 'wanted_clue') throw new NotFound(`协查案件 ${noticeId}`);
    if (notice.approvedVersion == null) throw new Conflict('通告尚未审核通过，无需结案；可直接修改或归档');
    if (notice.caseOutcomes.some((outcome) => outcome.kind !== 'expired')) throw new Conflict('此案已结案');
    if (notice.status === 'archived') throw new Conflict('通告已归档');
    const approved = await this.notices.getVersion(by.scope, noticeId, notice.approvedVersion);
    await this.conclude(by, approved, kind, note?.trim() || null, ip);
    return this.summary(by.scope, noticeId);
  }

  /**
   * Records the outcome and withdraws the original in one claimed write on the notice, with
   * the intent of what must follow (NOTICE_LIFECYCLE['case-outcome']): the notice's batches
   * are woken through the path a retraction takes (so its pending deliveries are skipped now
   * and the urgent follow-up is not deferred), then, only if the notice was planned (asked
   * after the withdrawal, so no run can slip in between), the follow-up is drafted,
   * submitted and its campaign created. Each step is safe to repeat: the draft's and the
   * campaign's ids are derived from the notice and outcome. A process that dies part-way
   * leaves the intent to the scheduler's sweep (sweepIntents). One outcome of each slot:
   * a second click or a second scheduler gets 409.
   */
  private async conclude(
    by: Principal,
    original: ApprovedNotice,
    kind: CaseOutcome['kind'],
    note: string | null,
    ip: string | null,
  ): Promise<CaseOutcome> {
    const noticeId = original.noticeId;
    const at = this.clock.now();
    const slot = outcomeSlot(kind);
    const outcome: CaseOutcome = {
      kind,
      at,
      by: by.id,
      note,
      followUpNoticeId: draftIdFor(`case-outcome:${noticeId}:${slot}`),
      followUpCampaignId: followUpIdFor(noticeId, slot),
    };
    const intent = newIntent('case-outcome', by, at, { kind, note, ip });
    const recorded = await this.notices.recordCaseOutcome(noticeId, outcome, (k) => outcomeSlot(k) === slot, intent);
    if (!recorded) throw new Conflict(kind === 'expired' ? '已起草过期通告' : '此案已结案');
    const state = await runIntent(intent, this.owner, at, this.options.intentLeaseMs, () =>
      this.concludeSteps(intent, original),
    );
    // Done (its marker written): off the notices' intent list (notices/intent-list.ts).
    if (state !== 'busy') await this.notices.intentsDone([intent.id]);
    return outcome;
  }

  /** The steps of concluding a case, each safe to repeat (see conclude). */
  private async concludeSteps(intent: Intent, original: ApprovedNotice): Promise<void> {
    const noticeId = original.noticeId;
    const kind = intent.args.kind as CaseOutcome['kind'];
    const note = (intent.args.note as string | null) ?? null;
    const ip = (intent.args.ip as string | null) ?? null;
    const by = await this.actorOf(intent);
    const at = new Date(intent.at);
    const slot = outcomeSlot(kind);
    this.trace(intent, 'withdraw-notice');
    await this.campaigns.withdrawNotice(noticeId, 'case_closed');
    this.trace(intent, 'follow-up');
    // A notice that never went out has nobody to tell: it is only withdrawn.
    if (await noticeWasPlanned(noticeId, this.clock.now())) {
      const draft = await this.notices.create(by, followUpContent(original, kind, localDay(at, this.timeZone)), ip, {
        id: draftIdFor(`case-outcome:${noticeId}:${slot}`),
      });
      if (draft.status === 'draft') await this.notices.submit(by, draft.id, ip);
      await this.campaigns.createFollowUp(by, {
        noticeId,
        followUpNoticeId: draft.id,
        outcome: slot,
        label: OUTCOME_LABELS[kind],
        from: {
          id: noticeId,
          title: original.content.title,
          // Plain text: on every channel (a manual task too) it carries the title, the number to call and the link.
          cardStyle: 'text',
          regionCode: original.regionCode,
          regionPath: original.regionPath,
        },
      });
    }
    this.trace(intent, 'audit');
    await this.audit.record({
      actor: by,
      action: kind === 'expired' ? 'case.expire' : 'case.solve',
      target: { kind: 'notice', id: noticeId },
      ip,
      regionPath: original.regionPath,
      details: { kind, note },
    });
  }

  private trace(intent: Intent, step: string): void {
    if (this.options.trace) process.stderr.write(`intent-step ${intent.kind} ${intent.id} ${step}\n`);
  }

  /** Who concluded it: the system for the deadline, else the user (their scope drafts the follow-up). */
  private async actorOf(intent: Intent): Promise<Principal> {
    if (intent.by === this.system.id) return this.system;
    return { ...this.system, id: intent.by, username: intent.byName, displayName: intent.byName, role: 'editor' };
  }

  /**
   * The scheduler's sweep: finishes case outcomes whose runner died (its lease lapsed) or never
   * started. Returns how many it ran.
   */
  async sweepIntents(): Promise<number> {
    return (await this.sweepIntentsLeft()).ran;
  }

  /** The sweep, with how many unfinished intents it left (too recent, or their runner lives). */
  async sweepIntentsLeft(): Promise<{ ran: number; left: number }> {
    const now = this.clock.now();
    let ran = 0;
    let left = 0;
    for (const notice of await this.notices.withIntents()) {
      const unfinished = await unfinishedIntents(notice.intents);
      // Listed but done (their runner died before taking them off): off the list now.
      const open = new Set(unfinished.map((intent) => intent.id));
      await this.notices.intentsDone(
        notice.intents.filter((intent) => !open.has(intent.id)).map((intent) => intent.id),
      );
      for (const intent of unfinished) {
        if (now.getTime() - new Date(intent.at).getTime() < INTENT_SWEEP_AFTER_MS) {
          left += 1;
          continue;
        }
        const doc = await this.notices.get(this.system.scope, notice.id);
        if (doc.approvedVersion == null) continue;
        const original = await this.notices.getVersion(this.system.scope, notice.id, doc.approvedVersion);
        const state = await runIntent(intent, this.owner, now, this.options.intentLeaseMs, () =>
          this.concludeSteps(intent, original),
        );
        if (state === 'ran') ran += 1;
        if (state === 'busy') left += 1;
        else await this.notices.intentsDone([intent.id]);
      }
    }
    return { ran, left };
  }

  /**
   * `read`: what the caller read for several cases at once (the list): the notice's reach, new
   * tips and approved version, and the follow-ups' campaign statuses (kept: kept.ts).
   */
  private async toSummary(
    notice: Notice,
    read?: {
      reached?: { groupCount: number; villageCount: number };
      newTips?: number;
      approved?: ApprovedNotice | null;
      status?: (campaignId: string) => Promise<string | null>;
      awaitingOfficers?: (campaignId: string) => Promise<number>;
    },
  ): Promise<CaseSummary> {
    const approved =
      read?.approved !== undefined
        ? read.approved
        : notice.approvedVersion != null
          ? await this.notices.getVersion(this.system.scope, notice.id, notice.approvedVersion)
          : null;
    const content = approved?.content ?? notice.content;
    const deadline = content.wanted?.deadline ?? '';
    const outcomes = await Promise.all(
      notice.caseOutcomes.map(async (outcome) => {
        const followUpStatus = outcome.followUpCampaignId
          ? await (read?.status ?? ((id: string) => this.campaignStatus(id)))(outcome.followUpCampaignId)
          : null;
        // The ids are fixed when the outcome is recorded; a notice never sent gets no follow-up.
        if (followUpStatus === null)
          return {
            ...outcome,
            followUpNoticeId: null,
            followUpCampaignId: null,
            followUpStatus,
            followUpAwaitingOfficers: 0,
          };
        // A follow-up whose run is over is not 已发送 while officers still hold its tasks.
        const awaitingOfficers = read?.awaitingOfficers ?? this.options.awaitingOfficers;
        const followUpAwaitingOfficers =
          outcome.followUpCampaignId && awaitingOfficers ? await awaitingOfficers(outcome.followUpCampaignId) : 0;
        return { ...outcome, followUpStatus, followUpAwaitingOfficers };
      }),
    );
    const newTips = read?.newTips ?? (await this.tips.newCounts([notice.id])).get(notice.id) ?? 0;
    const deadlinePassed = deadline !== '' && this.deadlinePassed(deadline);
    const attention: CaseSummary['attention'] = [];
    if (deadlinePassed && !outcomes.some((o) => o.kind !== 'expired')) attention.push('deadline_passed');
    if (outcomes.some((o) => o.followUpStatus === 'in_review')) attention.push('follow_up_in_review');
    if (newTips > 0) attention.push('new_tips');
    return {
      noticeId: notice.id,
      title: content.title,
      deadline,
      deadlinePassed,
      withdrawn: isWithdrawn(notice),
      outcomes,
      newTips,
      reached: read?.reached ?? (await receivedCountsOf([notice.id], this.clock.now())).get(notice.id)!,
      attention,
    };
  }

  async summary(scope: Scope, noticeId: string): Promise<CaseSummary> {
    const notice = await this.notices.get(scope, noticeId);
    if (notice.content.category !== 'wanted_clue') throw new NotFound(`协查案件 ${noticeId}`);
    return this.toSummary(notice);
  }

  private campaignStatus(campaignId: string): Promise<string | null> {
    return this.campaigns.get(this.system.scope, campaignId).then(
      (campaign) => campaign.status,
      () => null,
    );
  }

  /**
   * The wanted cases in scope, newest first, with the badge: how many want attention. The
   * notices with their approved versions, the follow-ups' statuses and the new tips are kept
   * per process under their collections' tokens (kept.ts: the three tokens in one command);
   * every listed case's reach and its follow-ups' awaiting deliveries come from their runs'
   * summaries (tracking/run-summaries.ts), kept under the generation of every run (kept.ts).
   */
  async list(scope: Scope): Promise<{ badge: number; cases: CaseSummary[] }> {
    // Asked before the runs are read (GenerationKept's contract).
    const runsGeneration = allRunsGeneration();
    const noticesVersion = collectionVersion('notices');
    const campaignsVersion = collectionVersion('campaigns');
    const tipsVersion = collectionVersion('tips');
    const { notices, approved } = await this.kept.get(
      'notices',
      scope.regionCode,
      async () => {
        const notices = await this.notices.list(scope, { category: 'wanted_clue', limit: LIST_LIMIT });
        const approved = await Promise.all(
          notices.map((notice) =>
            notice.approvedVersion != null
              ? this.notices.getVersion(this.system.scope, notice.id, notice.approvedVersion)
              : null,
          ),
        );
        return { notices, approved };
      },
      noticesVersion,
    );
    const ids = notices.map((notice) => notice.id);
    const [reached, tips] = await Promise.all([
      this.reaches.getAll(runsGeneration, ids, async (missing) => {
        const now = this.clock.now();
        const read = await mapLimited(missing, 4, (id) => noticeReachRead(id, now));
        return new Map(missing.map((id, k) => [id, { value: read[k]!.reach, keepable: read[k]!.settled }]));
      }),
      this.kept.get('tips', ids.join(','), () => this.tips.newCounts(ids), tipsVersion),
    ]);
    const status = (campaignId: string) =>
      this.kept.get('campaigns', campaignId, () => this.campaignStatus(campaignId), campaignsVersion);
    // A follow-up's officers still to post: its runs' awaiting deliveries kept under the runs'
    // generation, whether its tasks are withdrawn under the campaigns' and notices' tokens, the
    // horizon applied now (the rule of tracking/progress.ts `awaitingOfficers`).
    const { awaitingParts, tasksWithdrawn } = this.options;
    const bothTokens = Promise.all([campaignsVersion, noticesVersion]).then(([c, n]) =>
      c && n ? { token: `${c.token}|${n.token}`, n: 0 } : null,
    );
    const awaitingOfficers =
      awaitingParts && tasksWithdrawn
        ? async (campaignId: string) => {
            const parts = (
              await this.awaiting.getAll(runsGeneration, [campaignId], async (missing) => {
                const read = await awaitingParts(missing[0]!);
                return new Map([[missing[0]!, { value: read, keepable: read.settled }]]);
              })
            ).get(campaignId)!;
            if (parts.awaiting === 0) return 0;
            const withdrawn = await this.kept.get(
              'campaigns+notices',
              `withdrawn|${campaignId}`,
              () => tasksWithdrawn(campaignId),
              bothTokens,
            );
            const expired =
              withdrawn || (parts.latestDay !== null && tasksExpiredAfter(parts.latestDay, this.clock.now().getTime()));
            return expired ? 0 : parts.awaiting;
          }
        : undefined;
    const cases = await Promise.all(
      notices.map((notice, k) =>
        this.toSummary(notice, {
          reached: reached.get(notice.id),
          newTips: tips.get(notice.id) ?? 0,
          approved: approved[k] ?? null,
          status,
          awaitingOfficers,
        }),
      ),
    );
    return { badge: cases.filter((c) => c.attention.length > 0).length, cases };
  }
}

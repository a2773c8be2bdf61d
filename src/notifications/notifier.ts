// Tells officers of their manual tasks, and escalates what stays unconfirmed (SPEC §3.4).
// Run by the scheduler role every few seconds; every step is decided by a unique insert
// (kind|occurrence|officer), so two schedulers or a restart never send a step twice.
//
//   digest      once an officer's new tasks of a run have stopped arriving (SETTLE_MS), one
//               message listing them, to the officer's notification robot; a later set of
//               the same run (a take-over, a retry, a part released at 07:00) gets its own
//   reminder    one period after the digest (TASK_REMINDER_MINUTES; urgent runs
//               TASK_REMINDER_URGENT_MINUTES), the tasks still unconfirmed, to the officer again
//   escalation  one more period later, the groups still waiting, to the officer's superior
//   withdrawn   the run's campaign or notice was stopped (retract, cancel, case outcome,
//               archived notice): once, at once, to an officer who was told of the tasks,
//               已撤回，请勿转发 (and for a retraction: forward the correction); the tasks are
//               then withdrawn for good (their links retired)
//
// The tasks' state is read live (channels/manual: TaskStates): a paused campaign's tasks are
// not chased, a stopped one's are never reminded or escalated, from the moment of the stop.
// Normal-priority steps wait for the end of quiet hours; urgent ones and withdrawals go at
// once. An officer with no robot (or no account) gets nothing, and the step is recorded so.
//
// Each step is an outbox entry: claimed with its message (`sending`), then posted, then
// marked. A process that dies in between leaves it `sending`; the next pass posts it again
// once its attempt's lease (SENDING_LEASE_MS) has lapsed (at least once: a crash after the
// post and before the mark sends it twice, at most MAX_ATTEMPTS times). One officer's failure
// (a robot that throws, a database hiccup) is logged and never stops the others.
import { createHash } from 'node:crypto';
import type { ChannelRegistry } from '../channels/registry.js';
import type { ManualTask, WithdrawReason } from '../channels/manual/tasks.js';
import type { ChannelMessage } from '../channels/types.js';
import type { Clock } from '../lib/clock.js';
import { mapLimit } from '../lib/concurrency.js';
import { isDuplicateKey } from '../lib/errors.js';
import {
  type DueCursor,
  dropSlot,
  nextSlot,
  readCursor,
  runEntryIds,
  firstFiledSlot,
  slotItems,
  slotOf,
  slotStart,
  writeCursor,
} from '../channels/manual/due-slots.js';
import {
  type OpenTaskEntry,
  dueMarker,
  entriesById,
  raiseDue,
  repairCounts,
  setDue,
  unwatch,
} from '../channels/manual/watch.js';
import { runIdsOf } from '../tracking/run-batches.js';
import { type Priority, type QuietHours, deferForQuietHours, isQuiet } from '../campaigns/schedule.js';
import { officerMessage } from './message.js';
import {
  type NotificationKind,
  type NotificationStatus,
  NotificationOutboxModel,
  NotificationStepModel,
  type NotificationStepDoc,
} from './model.js';
import { advanceCounts, type StepCounts } from './step-counts.js';
import { recordStep, type StepPageQuery, stepPage } from './step-list.js';
import type { OfficerRobotService } from './robots.js';

/** An officer's tasks of a run count as complete once none has been added for this long. */
export const SETTLE_MS = 60_000;
/** A run that could not be handled now (quiet hours, paused, a failure) is looked at again this much later. */
const RECHECK_MS = 60_000;
/** The due marker is never raised further than this ahead (a lost $min costs at most this delay). */
const MAX_IDLE_MS = 10 * 60_000;
/** A step still `sending` this long after its attempt began is posted again. */
export const SENDING_LEASE_MS = 2 * 60_000;
/** After this many attempts a step left `sending` is recorded uncertain. */
const MAX_ATTEMPTS = 3;

export interface OfficerAccount {
  id: string;
  name: string;
}

/** The officer of a group's task, or why there is none to tell. */
export type OfficerMatch = { account: OfficerAccount } | { account: null; why: 'none' | 'ambiguous' };

/**
 * An open task as the notifier sees it: whether a digest listed it, and the correction of a
 * retraction. A WeCom customer group in its owner's task (`wecomTaskId`) has no link: the
 * officer confirms the task once in WeCom's 群发助手.
 */
export type NotifierTask = ManualTask & { told: boolean; followUpCampaignId?: string | null; wecomTaskId?: string };

export interface NotifierPorts {
  /**
   * The watch list's tasks (manual task ids and `wecom:<delivery id>`), read by `_id` with
   * their live state; confirmed, reported and announced ones are left out.
   */
  tasksOf(ids: string[]): Promise<NotifierTask[]>;
  /** Marks tasks as listed in a digest. */
  markTold(taskIds: string[]): Promise<void>;
  /** Withdraws tasks for good (idempotent). */
  withdrawTasks(taskIds: string[], reason: WithdrawReason): Promise<number>;
  /** Finishes officers' confirmations of these tasks whose process died part-way (idempotent). */
  repairConfirmations(taskIds: string[]): Promise<number>;
  /** The officer of a group: the one active account with the phone whose scope covers the region. */
  officerFor(phone: string, regionPath: string[]): Promise<OfficerMatch>;
  userById(id: string): Promise<OfficerAccount | null>;
  campaign(id: string): Promise<{ title: string; priority: Priority } | null>;
  /** remind_groupmsg_send for these WeCom tasks (within WeCom's 3 a day); what happened, in words. */
  remindWecom?(taskIds: string[]): Promise<string>;
}

export interface NotifierSettings {
  reminderMinutes: { normal: number; urgent: number };
  quietHours: QuietHours;
  timeZone: string;
  publicBaseUrl: string;
  /** Due entries one pass handles at most (officers' runs kept whole); default MAX_DUE_PER_PASS. */
  maxDuePerPass?: number;
}

/**
 * A pass handles the runs of at most this many due entries, earliest due first (a run whole):
 * after an outage or an install's first listing every open task can be due at once, and one
 * pass handling them all took minutes. The rest stay due; the marker keeps the next pass due.
 */
export const MAX_DUE_PER_PASS = 200;
/** A pass reads at most this many filed slots (minutes); the next goes on (after an outage). */
export const MAX_SLOTS_PER_PASS = 120;

interface OfficerRun {
  occurrenceId: string;
  campaignId: string;
  officerKey: string;
  officerName: string | null;
  officerPhone: string | null;
  regionPath: string[];
  tasks: NotifierTask[];
}

export interface NotificationStep {
  kind: NotificationKind;
  occurrenceId: string;
  officerName: string | null;
  recipientName: string | null;
  groupNames: string[];
  status: NotificationStatus;
  detail: string | null;
  at: Date;
}

/** `<campaignId>@<runAt>/<groupId>` (the engine's delivery id) → its run and campaign. */
function runOf(reference: string): { occurrenceId: string; campaignId: string } | null {
  const cut = reference.lastIndexOf('/');
  const at = reference.indexOf('@');
  if (cut < 0 || at < 0 || at > cut) return null;
  return { occurrenceId: reference.slice(0, cut), campaignId: reference.slice(0, at) };
}

const officerKeyOf = (task: ManualTask) => task.officer!.phone ?? `name:${task.officer!.name}`;

function byOfficerRun(tasks: NotifierTask[]): OfficerRun[] {
  const runs = new Map<string, OfficerRun>();
  for (const task of tasks) {
    const run = runOf(task.reference);
    if (!run || !task.officer) continue;
    const officerKey = officerKeyOf(task);
    const key = `${run.occurrenceId}|${officerKey}`;
    let entry = runs.get(key);
    if (!entry) {
      entry = {
        ...run,
        officerKey,
        officerName: task.officer.name,
        officerPhone: task.officer.phone,
        regionPath: task.regionPath,
        tasks: [],
      };
      runs.set(key, entry);
    }
    entry.tasks.push(task);
  }
  return [...runs.values()];
}

const stepId = (kind: NotificationKind, run: OfficerRun) => `${kind}|${run.occurrenceId}|${run.officerKey}`;

/** A later digest of a run: keyed by its tasks, so two schedulers seeing the same set claim one step. */
const laterDigestId = (run: OfficerRun, tasks: NotifierTask[]) =>
  `${stepId('digest', run)}|${createHash('sha256')
    .update(
      tasks
        .map((t) => t.id)
        .sort()
        .join(','),
    )
    .digest('hex')
    .slice(0, 16)}`;

interface DueStep {
  kind: NotificationKind;
  id: string;
  tasks: NotifierTask[];
}

export class OfficerNotifier {
  constructor(
    private readonly ports: NotifierPorts,
    private readonly robots: OfficerRobotService,
    private readonly channels: ChannelRegistry,
    private readonly settings: NotifierSettings,
    private readonly clock: Clock,
    private readonly log: (message: string, error: unknown) => void = (message, error) =>
      process.stderr.write(`${message}: ${error instanceof Error ? error.message : String(error)}\n`),
  ) {}

  /**
   * Asks the pass under way to stop after the officer run it is handling (shutdown): the
   * cursor keeps what was done, and the next pass (of any process) resumes there.
   */
  stop(): void {
    this.stopping = true;
  }
  private stopping = false;

  /**
   * One pass: repairs, re-posts stranded steps, then sends every step that is due now.
   * Driven by due keys (channels/manual/due-slots.ts): when the due marker lies ahead, nothing
   * else is read; otherwise the slots from the cursor up to now are read by `_id`, each filed
   * officer run whose entries are due is handled (its entries and tasks read by `_id`), expired
   * entries dropped, each handled entry's next look filed and written, and the cursor moved
   * past it. A pass handles at most `maxDuePerPass` due entries (runs whole) and
   * MAX_SLOTS_PER_PASS slots; it stops between runs when asked (`stop`). Returns steps recorded.
   */
  async tick(): Promise<number> {
    const now = this.clock.now();
    await this.resendStranded(now).catch((error) => this.log('notifier outbox', error));
    // Open-task counts whose writer died between its entry write and its count write.
    await repairCounts().catch((error) => this.log('open-task counts repair', error));
    const marker = await dueMarker();
    if (marker.at && marker.at.getTime() > now.getTime()) return 0;
    const cap = this.settings.maxDuePerPass ?? MAX_DUE_PER_PASS;
    const stored = await readCursor();
    let cursor: DueCursor = stored ?? { slot: slotOf(marker.at ?? now), index: 0 };
    // A writer whose filing landed behind the cursor lowered the marker to its time.
    if (marker.at && slotStart(slotOf(marker.at)) < slotStart(cursor.slot))
      cursor = { slot: slotOf(marker.at), index: 0 };
    const nowSlot = slotOf(now);
    const looked = new Map<string, number>();
    const campaigns = new Map<string, { title: string; priority: Priority } | null>();
    let recorded = 0;
    let taken = 0;
    let earliest = now.getTime() + MAX_IDLE_MS;
    let unfinished = false;
    let slots = 0;
    walk: for (;;) {
      // The cursor's slot when part of it is done, else the next slot with anything filed.
      const filed = cursor.index > 0 ? cursor.slot : await firstFiledSlot(cursor.slot, nowSlot);
      if (filed === null) {
        cursor = { slot: nowSlot, index: cursor.slot === nowSlot ? cursor.index : 0 };
        break;
      }
      if (filed !== cursor.slot) cursor = { slot: filed, index: 0 };
      const items = await slotItems(cursor.slot, cursor.index);
      let blocked = false;
      let count = cursor.index;
      for (const [k, item] of items.entries()) {
        count = Math.max(count, item.n + 1);
        // An item may name several runs (a wave's): the cursor passes it after its last one.
        const lastOfItem = items[k + 1]?.n !== item.n;
        if (item.at.getTime() > now.getTime()) {
          blocked = true; // later in the current minute: read again by the next pass
          earliest = Math.min(earliest, item.at.getTime());
          continue;
        }
        let next = looked.get(item.run);
        if (next === undefined) {
          if (this.stopping) {
            unfinished = true;
            break walk;
          }
          const result = await this.lookAtRun(item.run, now, taken, cap, campaigns);
          if (result === 'full') {
            unfinished = true;
            break walk;
          }
          taken += result.entries;
          recorded += result.recorded;
          next = result.next;
          looked.set(item.run, next);
          earliest = Math.min(earliest, next);
        }
        // A run due again already (a failure: looked at next pass) keeps its item.
        if (next <= now.getTime()) blocked = true;
        if (!blocked && lastOfItem) cursor = { slot: cursor.slot, index: item.n + 1 };
      }
      if (blocked || cursor.slot >= nowSlot) break;
      await dropSlot(cursor.slot, count);
      cursor = { slot: nextSlot(cursor.slot), index: 0 };
      if (++slots >= MAX_SLOTS_PER_PASS) {
        unfinished = true;
        break;
      }
    }
    if (!stored || stored.slot !== cursor.slot || stored.index !== cursor.index) await writeCursor(cursor);
    // Not through to now: the marker stays due, and the next pass goes on from the cursor.
    if (unfinished) return recorded;
    // Looks filed ahead before this pass (a reminder's time): the marker never passes them.
    earliest = await this.firstFiledAfter(nowSlot, earliest);
    await raiseDue(marker.stamp, new Date(Math.max(earliest, now.getTime())));
    return recorded;
  }

  /** The start of the first slot after `slot` with anything filed, if before `until`. */
  private async firstFiledAfter(slot: string, until: number): Promise<number> {
    const last = slotOf(until - 1);
    const filed = last > slot ? await firstFiledSlot(nextSlot(slot), last) : null;
    return filed === null ? until : Math.min(until, slotStart(filed));
  }

  /**
   * One filed officer run: its entries read by `_id` (from the run's list); when one is due,
   * the run is handled whole: expired entries dropped, confirmations repaired, its step sent,
   * and every entry's next look filed and written. 'full' when its entries would take the pass
   * over `cap`. `next`: the earliest `dueAt` of its entries after the look.
   */
  private async lookAtRun(
    runKey: string,
    now: Date,
    taken: number,
    cap: number,
    campaigns: Map<string, { title: string; priority: Priority } | null>,
  ): Promise<{ entries: number; recorded: number; next: number } | 'full'> {
    const entries = await entriesById(await runEntryIds(runKey));
    const expired = entries.filter((entry) => entry.expiresAt.getTime() <= now.getTime());
    const live = entries.filter((entry) => entry.expiresAt.getTime() > now.getTime());
    const earliestOf = (list: OpenTaskEntry[]) =>
      list.reduce((min, entry) => Math.min(min, entry.dueAt.getTime()), Number.POSITIVE_INFINITY);
    if (!live.some((entry) => entry.dueAt.getTime() <= now.getTime())) {
      await unwatch(expired.map((entry) => entry._id));
      // Not due: an item left by an earlier look (the run was filed again, later) or a writer killed after filing.
      return { entries: 0, recorded: 0, next: earliestOf(live) };
    }
    if (taken > 0 && taken + live.length > cap) return 'full';
    await unwatch(expired.map((entry) => entry._id));
    // Next look of every entry: at its expiry unless its run says sooner.
    const next = new Map(live.map((entry) => [entry._id, entry.expiresAt.getTime()]));
    let recorded = 0;
    // Confirmations whose process stopped after the claim (their entry fell due a lease later).
    await this.ports
      .repairConfirmations(live.filter((entry) => entry.kind === 'manual').map((entry) => entry._id))
      .catch((error) => this.log('confirmation repair', error));
    const tasks = await this.ports.tasksOf(live.map((entry) => entry._id));
    // Entries whose task is no longer open (confirmed, reported, announced: a process died
    // between that write and the entry's removal) leave the list now.
    const found = new Set(tasks.map((task) => task.id));
    const stale = live.filter((entry) => !found.has(entry._id)).map((entry) => entry._id);
    await unwatch(stale);
    for (const id of stale) next.delete(id);
    // A correction's tasks (retraction) are listed with the withdrawal: the officer's tasks of its runs.
    const followUps = [...new Set(tasks.flatMap((task) => (task.followUpCampaignId ? [task.followUpCampaignId] : [])))];
    const followUpTasks = followUps.length ? await this.followUpTasks(followUps, runKey) : [];
    for (const run of byOfficerRun(tasks)) {
      let due = now.getTime() + RECHECK_MS;
      try {
        if (!campaigns.has(run.campaignId)) campaigns.set(run.campaignId, await this.ports.campaign(run.campaignId));
        const campaign = campaigns.get(run.campaignId);
        if (!campaign) {
          due = Number.POSITIVE_INFINITY; // each entry's expiry
        } else {
          const done = await this.stepsOfRun(run);
          const result = await this.step(run, campaign, done, [...tasks, ...followUpTasks], now);
          if (result.recorded) recorded++;
          // The steps as they stand after this one: the one recorded added; read again when
          // another process claimed the due step first.
          const after = !result.stepDue
            ? done
            : result.claimed
              ? new Map(done).set(result.claimed._id, result.claimed)
              : await this.stepsOfRun(run);
          due = result.withdrawn ? Number.NaN : await this.nextLook(run, campaign.priority, now, after);
        }
      } catch (error) {
        // One officer's failure never stops the others; the step is tried again next pass.
        this.log(`notifier: ${run.officerName ?? run.officerKey} of ${run.occurrenceId}`, error);
        due = now.getTime();
      }
      for (const task of run.tasks) {
        if (Number.isNaN(due)) next.delete(task.id);
        else if (next.has(task.id)) next.set(task.id, Math.min(next.get(task.id)!, due));
      }
    }
    // Filed at their next looks, then written (setDue); entries already due then are left as they are.
    const byId = new Map(live.map((entry) => [entry._id, entry]));
    await setDue(
      [...next]
        .filter(([id, at]) => byId.get(id)!.dueAt.getTime() !== at)
        .map(([id, at]) => ({ id, run: runKey, dueAt: new Date(at) })),
    );
    let earliest = Number.POSITIVE_INFINITY;
    for (const at of next.values()) earliest = Math.min(earliest, at);
    return { entries: live.length, recorded, next: earliest };
  }

  /** The officer's open tasks of these campaigns' runs (a retraction's correction), read by `_id`. */
  private async followUpTasks(campaignIds: string[], runKey: string): Promise<NotifierTask[]> {
    const officer = runKey.slice(runKey.indexOf('|') + 1);
    const runs = (await mapLimit(campaignIds, 4, (id) => runIdsOf(id))).flat();
    const ids = (await mapLimit(runs, 4, (occurrenceId) => runEntryIds(`${occurrenceId}|${officer}`))).flat();
    const entries = (await entriesById(ids)).filter((entry) => !entry.withdrawn);
    return entries.length ? this.ports.tasksOf(entries.map((entry) => entry._id)) : [];
  }

  /** The digest, reminder and escalation of a run recorded so far (three `_id` reads). */
  private async stepsOfRun(run: OfficerRun): Promise<Map<string, NotificationStepDoc>> {
    const ids = (['digest', 'reminder', 'escalation'] as const).map((kind) => stepId(kind, run));
    const found = await mapLimit(ids, 3, (id) => NotificationStepModel.findById(id).lean<NotificationStepDoc>());
    return new Map(found.flatMap((doc) => (doc ? [[doc._id, doc] as const] : [])));
  }

  /**
   * When a run has to be looked at again, after this pass: its tasks still settling (the
   * digest's SETTLE_MS after the newest untold one), else the reminder's or the escalation's
   * time, else never (the entries' expiry). A normal run whose step waits for the end of quiet
   * hours is looked at then; a paused run a minute later; the step itself decides, as it
   * always did.
   */
  private async nextLook(
    run: OfficerRun,
    priority: Priority,
    now: Date,
    done: Map<string, NotificationStepDoc>,
  ): Promise<number> {
    const state = run.tasks[0]!.state;
    if (state === 'paused') return now.getTime() + RECHECK_MS;
    const quiet = priority !== 'urgent' && isQuiet(now, this.settings.quietHours, this.settings.timeZone);
    const periodMs = this.settings.reminderMinutes[priority] * 60_000;
    const firstDigest = done.get(stepId('digest', run));
    const told = new Set(firstDigest?.taskIds ?? []);
    const untold = run.tasks.filter((task) => !task.told && !told.has(task.id));
    let at: number;
    if (!firstDigest || untold.length > 0) {
      const fresh = firstDigest ? untold : run.tasks;
      at = Math.max(...fresh.map((task) => task.createdAt.getTime())) + SETTLE_MS;
      // A later digest just sent: its tasks are marked told by now; the next look is then its reminder.
      if (at <= now.getTime() && firstDigest) at = now.getTime() + RECHECK_MS;
    } else {
      const reminder = done.get(stepId('reminder', run));
      const escalation = done.get(stepId('escalation', run));
      at = !reminder
        ? firstDigest.at.getTime() + periodMs
        : !escalation
          ? reminder.at.getTime() + periodMs
          : Number.POSITIVE_INFINITY;
    }
    if (at <= now.getTime()) {
      // A normal step held by quiet hours is looked at when they end (not every few minutes all
      // night: the run has nothing to do before; a stop lowers its entries' looks to its time).
      at = quiet
        ? Math.max(
            deferForQuietHours(now, priority, this.settings.quietHours, this.settings.timeZone).getTime(),
            now.getTime() + RECHECK_MS,
          )
        : now.getTime() + RECHECK_MS;
    }
    return at;
  }

  private async step(
    run: OfficerRun,
    campaign: { title: string; priority: Priority },
    done: Map<string, NotificationStepDoc>,
    allTasks: NotifierTask[],
    now: Date,
  ): Promise<{ recorded: boolean; withdrawn: boolean; stepDue?: boolean; claimed?: NotificationStepDoc | null }> {
    const state = run.tasks[0]!.state;
    if (state === 'withdrawn') return { recorded: await this.withdraw(run, campaign.title, allTasks), withdrawn: true };
    const nothing = { recorded: false, withdrawn: false };
    if (state === 'paused') return nothing; // not chased while paused; live again on resume
    if (campaign.priority !== 'urgent' && isQuiet(now, this.settings.quietHours, this.settings.timeZone))
      return nothing;
    const due = this.dueStep(run, campaign.priority, done, now);
    if (!due) return nothing;
    const claimed = await this.send(due, run, campaign.title);
    const recorded = claimed !== null;
    // A reminder re-sends WeCom's own notice of the owner's tasks (群发助手), robot or not.
    const wecomTasks = [...new Set(due.tasks.flatMap((task) => (task.wecomTaskId ? [task.wecomTaskId] : [])))];
    if (recorded && due.kind === 'reminder' && wecomTasks.length && this.ports.remindWecom) {
      const note = await this.ports.remindWecom(wecomTasks);
      if (note) await NotificationStepModel.updateOne({ _id: due.id }, { $set: { wecomDetail: note } });
    }
    if (due.kind === 'digest') await this.ports.markTold(due.tasks.map((task) => task.id));
    return { recorded, withdrawn: false, stepDue: true, claimed };
  }

  private dueStep(
    run: OfficerRun,
    priority: Priority,
    done: Map<string, NotificationStepDoc>,
    now: Date,
  ): DueStep | null {
    const periodMs = this.settings.reminderMinutes[priority] * 60_000;
    const firstDigest = done.get(stepId('digest', run));
    // Told: marked after a digest, or listed in the first digest (claimed, not yet marked:
    // its process died; a later set's claim is keyed by its tasks, so it cannot repeat either).
    const inFirst = new Set(firstDigest?.taskIds ?? []);
    const untold = run.tasks.filter((task) => !task.told && !inFirst.has(task.id));
    if (!firstDigest || untold.length > 0) {
      // Each new set of tasks gets its digest once it has stopped growing.
      const fresh = firstDigest ? untold : run.tasks;
      const newest = Math.max(...fresh.map((task) => task.createdAt.getTime()));
      if (now.getTime() - newest < SETTLE_MS) return null;
      return { kind: 'digest', id: firstDigest ? laterDigestId(run, fresh) : stepId('digest', run), tasks: fresh };
    }
    const reminder = done.get(stepId('reminder', run));
    if (!reminder) {
      return now.getTime() - firstDigest.at.getTime() >= periodMs
        ? { kind: 'reminder', id: stepId('reminder', run), tasks: run.tasks }
        : null;
    }
    if (done.has(stepId('escalation', run))) return null;
    return now.getTime() - reminder.at.getTime() >= periodMs
      ? { kind: 'escalation', id: stepId('escalation', run), tasks: run.tasks }
      : null;
  }

  /**
   * A stopped run: an officer who was told of its tasks is told once that they are withdrawn
   * (with the correction's tasks of a retraction, when they exist yet); then the tasks are
   * withdrawn for good. Both steps are safe to repeat (a unique step, an idempotent update).
   */
  private async withdraw(run: OfficerRun, campaignTitle: string, allTasks: NotifierTask[]): Promise<boolean> {
    const first = run.tasks[0]!;
    const reason = first.withdrawnReason ?? 'retracted';
    let recorded = false;
    if (run.tasks.some((task) => task.told)) {
      const followUpCampaignId = first.followUpCampaignId ?? null;
      const followUpTasks = followUpCampaignId
        ? allTasks.filter(
            (task) =>
              task.state !== 'withdrawn' &&
              task.officer &&
              officerKeyOf(task) === run.officerKey &&
              runOf(task.reference)?.campaignId === followUpCampaignId,
          )
        : [];
      recorded =
        (await this.send(
          { kind: 'withdrawn', id: stepId('withdrawn', run), tasks: run.tasks.filter((task) => task.told) },
          run,
          campaignTitle,
          { reason, followUpTasks: followUpTasks.map((task) => ({ groupName: task.groupName, link: task.link })) },
        )) !== null;
    }
    await this.ports.withdrawTasks(
      run.tasks.map((task) => task.id),
      reason,
    );
    return recorded;
  }

  /**
   * Claims the step with its message (the outbox entry), then posts it. The step as claimed (its
   * status before the post), or null when it was claimed before.
   */
  private async send(
    due: DueStep,
    run: OfficerRun,
    campaignTitle: string,
    withdrawal?: Parameters<typeof officerMessage>[0]['withdrawal'],
  ): Promise<NotificationStepDoc | null> {
    const match: OfficerMatch = run.officerPhone
      ? await this.ports.officerFor(run.officerPhone, run.regionPath)
      : { account: null, why: 'none' };
    const officer = match.account;
    const recipient = due.kind === 'escalation' ? await this.superiorOf(officer) : officer;
    const credentialsSet = recipient ? Boolean(await this.robots.credentials(recipient.id)) : false;
    const unreachable: NotificationStatus | null = credentialsSet
      ? null
      : !officer && match.account === null && match.why === 'ambiguous'
        ? 'ambiguous_officer'
        : due.kind === 'escalation' && officer && !recipient
          ? 'no_superior'
          : 'no_robot';
    const message = officerMessage({
      kind: due.kind,
      campaignTitle,
      officerName: run.officerName,
      tasks: due.tasks.map((task) => ({
        groupName: task.groupName,
        link: task.link,
        wecom: Boolean(task.wecomTaskId),
      })),
      tasksPageUrl: `${this.settings.publicBaseUrl}/tasks`,
      withdrawal,
    });
    const now = this.clock.now();
    // Listed on its campaign first (the campaign page reads the list by `_id`), then claimed
    // (step-list.ts `recordStep`); counted after the post (step-counts.ts: a kill in between is repaired).
    const claimed = await recordStep({
      _id: due.id,
      kind: due.kind,
      campaignId: run.campaignId,
      occurrenceId: run.occurrenceId,
      officerKey: run.officerKey,
      officerName: run.officerName,
      recipientUserId: recipient?.id ?? null,
      recipientName: recipient?.name ?? null,
      groupNames: due.tasks.map((task) => task.groupName),
      taskIds: due.tasks.map((task) => task.id),
      at: now,
      status: unreachable ?? 'sending',
      detail: unreachable ? this.unreachableDetail(due.kind, match, recipient) : null,
      wecomDetail: null,
      message: unreachable ? null : message,
      attempts: 0,
      attemptAt: now,
    });
    if (!claimed) return null;
    if (!unreachable) {
      await NotificationOutboxModel.create({ _id: due.id, attemptAt: now }).catch((error) => {
        if (!isDuplicateKey(error)) throw error;
      });
      await this.deliver(due.id);
    }
    // After the post (its latency unchanged); a step left uncounted by a kill or a throw before
    // this is counted by the campaign's next advance (step-counts.ts).
    await advanceCounts(run.campaignId).catch((error) => this.log(`notifier counts ${run.campaignId}`, error));
    return claimed;
  }

  /** Posts a claimed step's message and records the outcome. Safe to repeat (at least once). */
  private async deliver(id: string): Promise<void> {
    const step = await NotificationStepModel.findById(id).lean<NotificationStepDoc>();
    if (step?.status !== 'sending' || !step.recipientUserId || !step.message) {
      await NotificationOutboxModel.deleteOne({ _id: id });
      return;
    }
    const now = this.clock.now();
    await NotificationStepModel.updateOne({ _id: id }, { $set: { attemptAt: now }, $inc: { attempts: 1 } });
    await NotificationOutboxModel.updateOne({ _id: id }, { $set: { attemptAt: now } });
    const credentials = await this.robots.credentials(step.recipientUserId);
    if (!credentials) {
      await NotificationStepModel.updateOne(
        { _id: id },
        { $set: { status: 'no_robot', detail: `${step.recipientName ?? '该民警'}未设置通知机器人，未发送` } },
      );
      await NotificationOutboxModel.deleteOne({ _id: id });
      return;
    }
    const outcome = await this.channels
      .adapterFor(credentials.kind)
      .send(
        {
          groupId: `officer:${step.recipientUserId}`,
          groupName: `${step.recipientName ?? ''}的通知群`,
          credentials,
          regionPath: [],
          officer: null,
        },
        step.message as ChannelMessage,
      )
      .catch((error: unknown) => ({
        status: 'uncertain' as const,
        message: error instanceof Error ? error.message : String(error),
      }));
    const status: NotificationStatus =
      outcome.status === 'sent' ? 'sent' : outcome.status === 'uncertain' ? 'uncertain' : 'failed';
    await NotificationStepModel.updateOne(
      { _id: id },
      {
        $set: {
          status,
          detail: outcome.status === 'sent' ? null : ((outcome as { message?: string }).message ?? null),
        },
      },
    );
    await NotificationOutboxModel.deleteOne({ _id: id });
  }

  /**
   * Steps left `sending` by a process that died: posted again (or recorded uncertain after
   * MAX_ATTEMPTS). Read from the outbox (only steps still sending), never the step history.
   */
  async resendStranded(now: Date = this.clock.now()): Promise<number> {
    const lapsed = (await NotificationOutboxModel.find({}).lean<{ _id: string; attemptAt: Date }[]>()).filter(
      (entry) => entry.attemptAt.getTime() < now.getTime() - SENDING_LEASE_MS,
    );
    const found = await mapLimit(lapsed, 8, (entry) =>
      NotificationStepModel.findById(entry._id).lean<NotificationStepDoc>(),
    );
    const stranded: NotificationStepDoc[] = [];
    for (const [i, step] of found.entries()) {
      if (step?.status === 'sending' && step.attemptAt && step.attemptAt.getTime() < now.getTime() - SENDING_LEASE_MS) {
        stranded.push(step);
      } else if (step?.status !== 'sending') {
        await NotificationOutboxModel.deleteOne({ _id: lapsed[i]!._id });
      }
    }
    for (const step of stranded) {
      try {
        if ((step.attempts ?? 0) >= MAX_ATTEMPTS) {
          await NotificationStepModel.updateOne(
            { _id: step._id, status: 'sending' },
            { $set: { status: 'uncertain', detail: '多次发送未得到结果，可能已发出' } },
          );
          await NotificationOutboxModel.deleteOne({ _id: step._id });
        } else {
          await this.deliver(step._id);
        }
      } catch (error) {
        this.log(`notifier outbox ${step._id}`, error);
      }
    }
    return stranded.length;
  }

  private async superiorOf(officer: OfficerAccount | null): Promise<OfficerAccount | null> {
    if (!officer) return null;
    const superiorId = (await this.robots.get(officer.id))?.superiorUserId;
    return superiorId ? this.ports.userById(superiorId) : null;
  }

  private unreachableDetail(kind: NotificationKind, match: OfficerMatch, recipient: OfficerAccount | null) {
    const officer = match.account;
    if (!officer) {
      return match.why === 'ambiguous'
        ? '管辖范围内有多个账号使用该民警的手机号，无法确定通知对象，未发送'
        : '该民警没有系统账号（管辖范围内按手机号未找到），无法通知';
    }
    if (kind === 'escalation' && !recipient) return '该民警未设置上级（所长），无法督办';
    return `${recipient?.name ?? officer.name}未设置通知机器人，未发送`;
  }

  /** One page of a campaign's steps for the campaign page (step-list.ts `stepPage`), each with its slot as `id`. */
  async stepsOf(campaignId: string, query: StepPageQuery): Promise<(NotificationStep & { id: string })[]> {
    const rows = await stepPage(campaignId, query);
    return rows.map(({ n, step: doc }) => ({
      id: String(n),
      kind: doc.kind as NotificationKind,
      occurrenceId: doc.occurrenceId,
      officerName: doc.officerName ?? null,
      recipientName: doc.recipientName ?? null,
      groupNames: doc.groupNames ?? [],
      status: doc.status as NotificationStatus,
      detail: [doc.detail, doc.wecomDetail].filter(Boolean).join('；') || null,
      at: doc.at,
    }));
  }

  /** A campaign's steps counted per kind (step-counts.ts: one document, brought up to date). */
  countsOf(campaignId: string): Promise<StepCounts> {
    return advanceCounts(campaignId);
  }
}

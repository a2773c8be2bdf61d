// Tells officers of their manual tasks, and escalates what stays unconfirmed (SPEC §3.4).
// Run by the scheduler role every few seconds; every step is decided by a unique insert
// (kind|occurrence|officer), so two schedulers or a restart never send a step twice.
//
//   digest      once an officer's tasks of a run have stopped arriving (SETTLE_MS), one message
//               listing them all, to the officer's notification robot
//   reminder    one period after the digest (TASK_REMINDER_MINUTES; urgent runs
//               TASK_REMINDER_URGENT_MINUTES), the tasks still unconfirmed, to the officer again
//   escalation  one more period later, the groups still waiting, to the officer's superior
//
// Normal-priority steps wait for the end of quiet hours; urgent ones go at once. An officer
// with no robot (or no account) gets nothing, and the step is recorded as such.
import type { ChannelRegistry } from '../channels/registry.js';
import type { ManualTask } from '../channels/manual/tasks.js';
import type { Clock } from '../lib/clock.js';
import { isDuplicateKey } from '../lib/errors.js';
import { type Priority, type QuietHours, isQuiet } from '../campaigns/schedule.js';
import { officerMessage } from './message.js';
import {
  type NotificationKind,
  type NotificationStatus,
  NotificationStepModel,
  type NotificationStepDoc,
} from './model.js';
import type { OfficerRobotService } from './robots.js';

/** An officer's tasks of a run count as complete once none has been added for this long. */
export const SETTLE_MS = 60_000;
/** Tasks older than this are not chased any more. */
const HORIZON_MS = 7 * 24 * 3600_000;

export interface OfficerAccount {
  id: string;
  name: string;
}

/**
 * One open item of an officer: a manual task (with its signed link), or a WeCom customer
 * group in a task the officer has to confirm in WeCom's 群发助手 (no link: `wecomTaskId`).
 */
export type OpenTask = Pick<ManualTask, 'id' | 'reference' | 'groupName' | 'officer' | 'createdAt' | 'link'> & {
  wecomTaskId?: string;
};

export interface NotifierPorts {
  /** Unconfirmed manual tasks created since the instant. */
  openTasksSince(since: Date): Promise<ManualTask[]>;
  /** Groups of WeCom customer-group tasks not yet sent, whose task WeCom accepted since the instant. */
  openWecomItemsSince?(since: Date): Promise<{ reference: string; groupName: string; officer: ManualTask['officer']; createdAt: Date; taskId: string }[]>;
  /** remind_groupmsg_send for these WeCom tasks (within WeCom's 3 a day); what happened, in words. */
  remindWecom?(taskIds: string[]): Promise<string>;
  /** The active user whose phone is the group officer's (null: the officer has no account). */
  officerByPhone(phone: string): Promise<OfficerAccount | null>;
  userById(id: string): Promise<OfficerAccount | null>;
  campaign(id: string): Promise<{ title: string; priority: Priority } | null>;
}

export interface NotifierSettings {
  reminderMinutes: { normal: number; urgent: number };
  quietHours: QuietHours;
  timeZone: string;
  publicBaseUrl: string;
}

interface OfficerRun {
  occurrenceId: string;
  campaignId: string;
  officerKey: string;
  officerName: string | null;
  officerPhone: string | null;
  tasks: OpenTask[];
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

function byOfficerRun(tasks: OpenTask[]): OfficerRun[] {
  const runs = new Map<string, OfficerRun>();
  for (const task of tasks) {
    const run = runOf(task.reference);
    if (!run || !task.officer) continue;
    const officerKey = task.officer.phone ?? `name:${task.officer.name}`;
    const key = `${run.occurrenceId}|${officerKey}`;
    let entry = runs.get(key);
    if (!entry) {
      entry = { ...run, officerKey, officerName: task.officer.name, officerPhone: task.officer.phone, tasks: [] };
      runs.set(key, entry);
    }
    entry.tasks.push(task);
  }
  return [...runs.values()];
}

const stepId = (kind: NotificationKind, run: OfficerRun) => `${kind}|${run.occurrenceId}|${run.officerKey}`;

export class OfficerNotifier {
  constructor(
    private readonly ports: NotifierPorts,
    private readonly robots: OfficerRobotService,
    private readonly channels: ChannelRegistry,
    private readonly settings: NotifierSettings,
    private readonly clock: Clock,
  ) {}

  /** One pass: sends every step that is due now. Returns how many steps were recorded. */
  async tick(): Promise<number> {
    const now = this.clock.now();
    const since = new Date(now.getTime() - HORIZON_MS);
    const wecom = ((await this.ports.openWecomItemsSince?.(since)) ?? []).map(
      (item): OpenTask => ({
        id: item.reference,
        reference: item.reference,
        groupName: item.groupName,
        officer: item.officer,
        createdAt: item.createdAt,
        link: null,
        wecomTaskId: item.taskId,
      }),
    );
    const runs = byOfficerRun([...(await this.ports.openTasksSince(since)), ...wecom]);
    if (runs.length === 0) return 0;
    const ids = runs.flatMap((run) => (['digest', 'reminder', 'escalation'] as const).map((kind) => stepId(kind, run)));
    const done = new Map(
      (await NotificationStepModel.find({ _id: { $in: ids } }).lean<NotificationStepDoc[]>()).map((s) => [s._id, s]),
    );
    const campaigns = new Map<string, { title: string; priority: Priority } | null>();
    let recorded = 0;
    for (const run of runs) {
      if (!campaigns.has(run.campaignId)) campaigns.set(run.campaignId, await this.ports.campaign(run.campaignId));
      const campaign = campaigns.get(run.campaignId);
      if (!campaign) continue;
      if (campaign.priority !== 'urgent' && isQuiet(now, this.settings.quietHours, this.settings.timeZone)) continue;
      const kind = this.dueStep(run, campaign.priority, done, now);
      if (kind && (await this.send(kind, run, campaign.title))) recorded++;
    }
    return recorded;
  }

  private dueStep(
    run: OfficerRun,
    priority: Priority,
    done: Map<string, NotificationStepDoc>,
    now: Date,
  ): NotificationKind | null {
    const periodMs = this.settings.reminderMinutes[priority] * 60_000;
    const digest = done.get(stepId('digest', run));
    if (!digest) {
      const newest = Math.max(...run.tasks.map((task) => task.createdAt.getTime()));
      return now.getTime() - newest >= SETTLE_MS ? 'digest' : null;
    }
    const reminder = done.get(stepId('reminder', run));
    if (!reminder) return now.getTime() - digest.at.getTime() >= periodMs ? 'reminder' : null;
    if (done.has(stepId('escalation', run))) return null;
    return now.getTime() - reminder.at.getTime() >= periodMs ? 'escalation' : null;
  }

  /** Claims the step, then posts it. False when another process claimed it first. */
  private async send(kind: NotificationKind, run: OfficerRun, campaignTitle: string): Promise<boolean> {
    const officer = run.officerPhone ? await this.ports.officerByPhone(run.officerPhone) : null;
    const recipient = kind === 'escalation' ? await this.superiorOf(officer) : officer;
    const credentials = recipient ? await this.robots.credentials(recipient.id) : null;
    const base = {
      _id: stepId(kind, run),
      kind,
      campaignId: run.campaignId,
      occurrenceId: run.occurrenceId,
      officerKey: run.officerKey,
      officerName: run.officerName,
      recipientUserId: recipient?.id ?? null,
      recipientName: recipient?.name ?? null,
      groupNames: run.tasks.map((task) => task.groupName),
      taskIds: run.tasks.map((task) => task.id),
      at: this.clock.now(),
    };
    const unreachable: NotificationStatus | null = credentials
      ? null
      : kind === 'escalation' && officer && !recipient
        ? 'no_superior'
        : 'no_robot';
    try {
      await NotificationStepModel.create({
        ...base,
        status: unreachable ?? 'sending',
        detail: unreachable ? this.unreachableDetail(kind, officer, recipient) : null,
      });
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
    // A reminder re-sends WeCom's own notice of the owner's tasks (群发助手), robot or not.
    const wecomTasks = [...new Set(run.tasks.flatMap((task) => (task.wecomTaskId ? [task.wecomTaskId] : [])))];
    const wecomNote = kind === 'reminder' && wecomTasks.length ? await this.ports.remindWecom?.(wecomTasks) : undefined;
    if (wecomNote)
      await NotificationStepModel.updateOne(
        { _id: base._id },
        { $set: { detail: unreachable ? `${this.unreachableDetail(kind, officer, recipient)}；${wecomNote}` : wecomNote } },
      );
    if (!credentials || !recipient) return true;
    const message = officerMessage({
      kind,
      campaignTitle,
      officerName: run.officerName,
      tasks: run.tasks.map((task) => ({ groupName: task.groupName, link: task.link, wecom: Boolean(task.wecomTaskId) })),
      tasksPageUrl: `${this.settings.publicBaseUrl}/tasks`,
    });
    const outcome = await this.channels.adapterFor(credentials.kind).send(
      {
        groupId: `officer:${recipient.id}`,
        groupName: `${recipient.name}的通知群`,
        credentials,
        regionPath: [],
        officer: null,
      },
      message,
    );
    const status: NotificationStatus =
      outcome.status === 'sent' ? 'sent' : outcome.status === 'uncertain' ? 'uncertain' : 'failed';
    await NotificationStepModel.updateOne(
      { _id: base._id },
      { $set: { status, detail: outcome.status === 'sent' ? (wecomNote ?? null) : outcome.message } },
    );
    return true;
  }

  private async superiorOf(officer: OfficerAccount | null): Promise<OfficerAccount | null> {
    if (!officer) return null;
    const superiorId = (await this.robots.get(officer.id))?.superiorUserId;
    return superiorId ? this.ports.userById(superiorId) : null;
  }

  private unreachableDetail(kind: NotificationKind, officer: OfficerAccount | null, recipient: OfficerAccount | null) {
    if (!officer) return '该民警没有系统账号（按手机号未找到），无法通知';
    if (kind === 'escalation' && !recipient) return '该民警未设置上级（所长），无法督办';
    return `${recipient?.name ?? officer.name}未设置通知机器人，未发送`;
  }

  /** A campaign's steps, oldest first, for the campaign page. */
  async stepsOf(campaignId: string): Promise<NotificationStep[]> {
    const docs = await NotificationStepModel.find({ campaignId }).sort({ at: 1 }).lean<NotificationStepDoc[]>();
    return docs.map((doc) => ({
      kind: doc.kind as NotificationKind,
      occurrenceId: doc.occurrenceId,
      officerName: doc.officerName ?? null,
      recipientName: doc.recipientName ?? null,
      groupNames: doc.groupNames,
      status: doc.status as NotificationStatus,
      detail: doc.detail ?? null,
      at: doc.at,
    }));
  }
}

// What an officer's robot posts: one message per officer per run listing the groups to
// forward to with each task's link. Pure; kept within the smallest robot text limit.
import type { ChannelMessage } from '../channels/types.js';
import type { NotificationKind } from './model.js';

/** WeCom's text limit (2,048 bytes, the smallest of the robots) less room for the JSON envelope. */
const MAX_CONTENT_BYTES = 1_900;

export interface TaskLine {
  groupName: string;
  /** The task's signed link (always given to the notifier; null would only name the group). */
  link: string | null;
  /** A WeCom customer group: the officer confirms the task in WeCom's 群发助手, not by a link. */
  wecom?: boolean;
}

export interface OfficerMessageInput {
  kind: NotificationKind;
  campaignTitle: string;
  officerName: string | null;
  tasks: TaskLine[];
  /** The officer's own task list in the console, named when not every link fits. */
  tasksPageUrl: string;
  /** For `withdrawn`: why, and for a retraction the correction's tasks of the officer (when made yet). */
  withdrawal?: { reason: 'retracted' | 'cancelled' | 'case_closed' | 'archived'; followUpTasks: TaskLine[] };
}

const WITHDRAWN_WHY: Record<NonNullable<OfficerMessageInput['withdrawal']>['reason'], string> = {
  retracted: '通告已撤回',
  cancelled: '推送已取消',
  case_closed: '案件已结案',
  archived: '通告已撤下',
};

const HEADINGS: Record<NotificationKind, (input: OfficerMessageInput) => string> = {
  digest: (i) => `【待转发】${i.campaignTitle}\n${i.officerName ?? '民警'}，您有 ${i.tasks.length} 个群需要转发：`,
  reminder: (i) =>
    `【提醒】${i.campaignTitle}\n${i.officerName ?? '民警'}，以下 ${i.tasks.length} 个群尚未确认转发，请尽快处理：`,
  escalation: (i) =>
    `【督办】${i.campaignTitle}\n${i.officerName ?? '民警'}负责的以下 ${i.tasks.length} 个群在提醒后仍未确认转发：`,
  withdrawn: (i) =>
    `【已撤回，请勿转发】${i.campaignTitle}\n${i.officerName ?? '民警'}，${WITHDRAWN_WHY[i.withdrawal?.reason ?? 'retracted']}，以下 ${i.tasks.length} 个群的转发任务已撤回，请勿转发：`,
};

function withdrawnFooter(input: OfficerMessageInput): string {
  const withdrawal = input.withdrawal;
  if (withdrawal?.reason !== 'retracted') return '已撤回，请勿转发。尚未转发的群不要再转发。';
  const followUps = withdrawal.followUpTasks;
  if (followUps.length === 0) {
    return `已撤回，请勿转发。如已转发，请在群内转发更正通知（更正通知的转发任务审核通过后另行发送，也可在 ${input.tasksPageUrl} 查看）。`;
  }
  const lines = followUps.map((task, index) =>
    task.link ? `${index + 1}. ${task.groupName}\n${task.link}` : `${index + 1}. ${task.groupName}`,
  );
  return ['已撤回，请勿转发。如已转发，请在群内转发更正通知：', ...lines].join('\n');
}

const FOOTERS: Record<Exclude<NotificationKind, 'withdrawn'>, string> = {
  digest: '打开链接，复制文字、保存图片转发到群后，点「已转发到群」确认。',
  reminder: '打开链接，转发到群后点「已转发到群」确认。',
  escalation: '请督促落实。',
};

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

export function officerMessage(input: OfficerMessageInput): ChannelMessage {
  const heading = HEADINGS[input.kind](input);
  const wecomCount = input.tasks.filter((task) => task.wecom).length;
  const footer =
    input.kind === 'withdrawn'
      ? withdrawnFooter(input)
      : wecomCount > 0 && input.kind !== 'escalation'
        ? `企业微信客户群 ${wecomCount} 个：去企业微信群发助手确认（打开企业微信 → 客户联系 → 群发助手，点「发送」一次即可发到这些群）。${
            wecomCount < input.tasks.length ? `\n其余的群：${FOOTERS[input.kind]}` : ''
          }`
        : FOOTERS[input.kind];
  // The superior needs the groups, not the officer's signed links; a withdrawn task has none.
  const lines = input.tasks.map((task, index) =>
    task.wecom
      ? `${index + 1}. ${task.groupName}（企业微信客户群）`
      : input.kind === 'escalation' || input.kind === 'withdrawn' || !task.link
        ? `${index + 1}. ${task.groupName}`
        : `${index + 1}. ${task.groupName}\n${task.link}`,
  );
  const rest = (shown: number) =>
    shown < lines.length ? [`……另有 ${lines.length - shown} 个群，见 ${input.tasksPageUrl}`] : [];
  let shown = lines.length;
  const compose = () => [heading, ...lines.slice(0, shown), ...rest(shown), footer].join('\n');
  while (shown > 0 && bytes(compose()) > MAX_CONTENT_BYTES) shown--;
  return {
    type: 'text',
    card: {
      format: 'text',
      title: heading.split('\n')[0]!,
      content: compose(),
      url: input.tasksPageUrl,
      pictureUrl: null,
    },
  };
}

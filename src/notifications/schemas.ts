import { Type } from '@sinclair/typebox';
import { ChannelInputBody } from '../audience/schemas.js';
import { DateTime, Nullable, ObjectIdString } from '../lib/schemas.js';
import { NOTIFICATION_KINDS, NOTIFICATION_STATUSES, OFFICER_ROBOT_KINDS } from './model.js';

export const OfficerRobotBody = Type.Object(
  {
    channel: ChannelInputBody,
    superiorUserId: Type.Optional(Nullable(ObjectIdString)),
  },
  { additionalProperties: false },
);

export const OfficerRobotReply = Type.Object({
  userId: Type.String(),
  kind: Type.Union(OFFICER_ROBOT_KINDS.map((kind) => Type.Literal(kind))),
  credentialsSet: Type.Boolean({ description: '是否已设置机器人凭据（凭据本身从不返回）' }),
  superiorUserId: Nullable(Type.String()),
  updatedAt: DateTime,
});

export const NotificationStepReply = Type.Object({
  id: Type.String({ description: '该条在推送通知列表中的序号（翻页游标：after / before）' }),
  kind: Type.Union(
    NOTIFICATION_KINDS.map((kind) => Type.Literal(kind)),
    {
      description: 'digest 任务汇总 / reminder 提醒 / escalation 督办（告知上级）',
    },
  ),
  occurrenceId: Type.String(),
  officerName: Nullable(Type.String()),
  recipientName: Nullable(Type.String()),
  groupNames: Type.Array(Type.String()),
  status: Type.Union(NOTIFICATION_STATUSES.map((status) => Type.Literal(status))),
  detail: Nullable(Type.String()),
  at: DateTime,
});

/** A page of a campaign's steps: by slot number (step-list.ts), never an offset. */
export const NotificationStepQuery = Type.Object(
  {
    sort: Type.Optional(
      Type.Union([Type.Literal('oldest'), Type.Literal('newest')], {
        description: '排序，默认旧的在前（有 before 时新的在前）',
      }),
    ),
    after: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: '从此 id 之后接着列（旧的在前时用）' })),
    before: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: '从此 id 之前接着列（新的在前时用）' })),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50, description: '每页条数（默认 50）' }),
  },
  { additionalProperties: false },
);

const KindCount = Type.Integer({ minimum: 0 });
export const NotificationCountsReply = Type.Object({
  total: Type.Integer({ minimum: 0, description: '通知记录总条数' }),
  kinds: Type.Object(
    Object.fromEntries(NOTIFICATION_KINDS.map((kind) => [kind, KindCount])) as Record<
      (typeof NOTIFICATION_KINDS)[number],
      typeof KindCount
    >,
    { description: '按环节计数：digest 任务汇总 / reminder 提醒 / escalation 督办 / withdrawn 撤回告知' },
  ),
});

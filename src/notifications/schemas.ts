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

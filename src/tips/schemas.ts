import { Type } from '@sinclair/typebox';
import { DateTime, Nullable, ObjectIdString } from '../lib/schemas.js';
import { TIP_STATUSES } from './model.js';

const TipStatus = Type.Union(TIP_STATUSES.map((s) => Type.Literal(s)));

export const TipBody = Type.Object({
  id: Type.String(),
  noticeId: Type.String(),
  text: Type.String(),
  phone: Nullable(Type.String()),
  hasPhoto: Type.Boolean(),
  status: TipStatus,
  note: Nullable(Type.String()),
  notified: Nullable(Type.Object({ status: Type.String(), reason: Nullable(Type.String()), at: DateTime })),
  receivedAt: DateTime,
  updatedAt: DateTime,
});

export const TipListQuery = Type.Object(
  {
    noticeId: Type.Optional(ObjectIdString),
    status: Type.Optional(TipStatus),
    before: Type.Optional(ObjectIdString),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  },
  { additionalProperties: false },
);

export const UpdateTipBody = Type.Object(
  {
    status: Type.Optional(TipStatus),
    note: Type.Optional(Nullable(Type.String({ maxLength: 1000, description: '办案备注' }))),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const NotifyRobotBody = Type.Object(
  {
    kind: Type.Union(['wecom', 'dingtalk', 'feishu', 'webhook'].map((k) => Type.Literal(k))),
    webhookUrl: Type.Optional(Type.String({ maxLength: 500 })),
    key: Type.Optional(Type.String({ maxLength: 200 })),
    accessToken: Type.Optional(Type.String({ maxLength: 200 })),
    hookId: Type.Optional(Type.String({ maxLength: 200 })),
    url: Type.Optional(Type.String({ maxLength: 500 })),
    secret: Type.Optional(Type.String({ maxLength: 200 })),
    keyword: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false, description: '通知机器人（只写：凭据不会返回）' },
);

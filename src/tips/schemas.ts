import { Type } from '@sinclair/typebox';
import { ListWindowQuery } from '../lib/keyset.js';
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
    ...ListWindowQuery,
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


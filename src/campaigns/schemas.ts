import { type Static, Type } from '@sinclair/typebox';
import { ListWindowQuery } from '../lib/keyset.js';
import { BatchIds } from '../lib/batch.js';
import { DateTime, NonBlank, Nullable, ObjectIdString } from '../lib/schemas.js';
import { CAMPAIGN_STATUSES } from './model.js';

/** Villages within radiusKm of a point; the values are checked by the audience room (audience/radius.ts). */
const NearBody = Type.Object(
  { lat: Type.Number(), lng: Type.Number(), radiusKm: Type.Number() },
  { additionalProperties: false, description: '距某点 radiusKm 公里以内的村/社区' },
);

const Codes = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 5000, default: [], description });

export const AudienceBody = Type.Object(
  {
    regions: Codes('地区代码（含下级）'),
    tags: Codes('群标签'),
    groups: Type.Array(ObjectIdString, { maxItems: 5000, default: [], description: '指定群 ID' }),
    excludeRegions: Codes('排除的地区'),
    excludeTags: Codes('排除的标签'),
    excludeGroups: Type.Array(ObjectIdString, { maxItems: 5000, default: [], description: '排除的群 ID' }),
    near: Type.Optional(Nullable(NearBody)),
  },
  { additionalProperties: false },
);

const IsoDate = Type.String({ format: 'date-time' });

export const ScheduleBody = Type.Union([
  Type.Object({ kind: Type.Literal('now') }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('once'), at: IsoDate }, { additionalProperties: false }),
  Type.Object(
    {
      kind: Type.Literal('cron'),
      cron: Type.String({ minLength: 9, maxLength: 100, description: 'node-cron 表达式，如 "0 9 * * 1"' }),
      startAt: Type.Optional(IsoDate),
      endAt: IsoDate,
    },
    { additionalProperties: false },
  ),
]);
export type ScheduleBody = Static<typeof ScheduleBody>;

export const CampaignBody = Type.Object(
  {
    title: NonBlank(100, '推送名称'),
    noticeId: ObjectIdString,
    audience: AudienceBody,
    schedule: ScheduleBody,
    cardStyle: Type.Optional(Type.Union([Type.Literal('text'), Type.Literal('rich'), Type.Literal('image')])),
    priority: Type.Optional(Type.Union([Type.Literal('normal'), Type.Literal('urgent')])),
  },
  { additionalProperties: false },
);
export type CampaignBody = Static<typeof CampaignBody>;

export const CampaignReply = Type.Object({
  id: Type.String(),
  title: Type.String(),
  noticeId: Type.String(),
  audience: Type.Object({
    regions: Type.Array(Type.String()),
    tags: Type.Array(Type.String()),
    near: Type.Optional(Nullable(NearBody)),
    groups: Type.Array(Type.String()),
    excludeRegions: Type.Array(Type.String()),
    excludeTags: Type.Array(Type.String()),
    excludeGroups: Type.Array(Type.String()),
    recipientsOf: Type.Optional(Nullable(Type.String())),
    recipientsOfNotice: Type.Optional(Nullable(Type.String())),
  }),
  schedule: Type.Object({
    kind: Type.Union([Type.Literal('now'), Type.Literal('once'), Type.Literal('cron')]),
    at: Type.Optional(DateTime),
    cron: Type.Optional(Type.String()),
    startAt: Type.Optional(Nullable(DateTime)),
    endAt: Type.Optional(DateTime),
  }),
  cardStyle: Type.Union([Type.Literal('text'), Type.Literal('rich'), Type.Literal('image')]),
  priority: Type.Union([Type.Literal('normal'), Type.Literal('urgent')]),
  status: Type.Union(CAMPAIGN_STATUSES.map((s) => Type.Literal(s))),
  authorId: Type.String(),
  authorName: Type.String(),
  regionCode: Type.String(),
  reviewerId: Nullable(Type.String()),
  reviewNote: Nullable(Type.String()),
  approvedAt: Nullable(DateTime),
  nextRunAt: Nullable(DateTime),
  revision: Type.Integer(),
  retractionOf: Nullable(Type.String()),
  followUpOfNotice: Type.Optional(Nullable(Type.String())),
  followUpOutcome: Type.Optional(Nullable(Type.String())),
  retractedAt: Nullable(DateTime),
  createdAt: DateTime,
  paused: Type.Optional(Type.Boolean({ description: '已暂停：修改并重新审核后仍保持暂停，直到恢复' })),
  unfinished: Type.Optional(
    Type.Array(Type.Object({ kind: Type.String(), at: DateTime }), {
      description: '状态已改变、后续步骤尚未完成的操作（如撤回未完成）；调度器会自动完成，也可用 finish 立即完成',
    }),
  ),
  actions: Type.Optional(
    Type.Array(Type.String(), {
      description:
        '调用者现在可执行的操作：edit submit approve reject pause resume cancel retract，finish（完成未完成的操作），attach-follow-up（为已撤回的推送选择更正通知）',
    }),
  ),
  followUpId: Type.Optional(Nullable(Type.String({ description: '已撤回推送的更正推送' }))),
  audienceSummary: Type.Optional(
    Type.Object({
      groupCount: Type.Integer(),
      villageCount: Type.Integer(),
      memberTotal: Type.Integer(),
      wecomOverCap: Type.Optional(Type.Integer()),
      capWarning: Type.Optional(Type.String()),
    }),
  ),
});

export const CampaignListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(CAMPAIGN_STATUSES.map((s) => Type.Literal(s)))),
    ...ListWindowQuery,
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  },
  { additionalProperties: false },
);

export const RejectBody = Type.Object({ note: NonBlank(500, '驳回理由') }, { additionalProperties: false });

export const ReviewBatchBody = Type.Object(
  {
    ids: BatchIds(100, '待审核推送的 ID（最多 100 个）'),
    decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')], { description: 'approve 通过、reject 驳回' }),
    reason: Type.Optional(Type.String({ maxLength: 500, description: '驳回理由（驳回时必填，每个推送相同）' })),
  },
  { additionalProperties: false },
);

export const RetractBody = Type.Object(
  { followUpNoticeId: Type.Optional(Nullable(ObjectIdString)) },
  {
    additionalProperties: false,
    description:
      '停止并撤回：立即停止未发出的部分并撤回通告；可同时选择更正通知（向已收到的群发送），也可以之后再选（follow-up）',
  },
);

export const FollowUpBody = Type.Object(
  { followUpNoticeId: ObjectIdString },
  {
    additionalProperties: false,
    description: '为已撤回的推送选择（或更换）更正通知：向收到原通告的群发送，待审核',
  },
);

export const RetractReply = Type.Object({ retracted: CampaignReply, followUp: Nullable(CampaignReply) });

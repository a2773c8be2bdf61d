import { type Static, Type } from '@sinclair/typebox';
import { DateTime, NonBlank, Nullable, ObjectIdString } from '../lib/schemas.js';
import { RegionCode } from '../regions/schemas.js';
import { CHANNEL_KINDS } from '../channels/credentials.js';

const ChannelKindSchema = Type.Union(
  CHANNEL_KINDS.map((kind) => Type.Literal(kind)),
  { description: 'wecom 企业微信 | dingtalk 钉钉 | feishu 飞书 | webhook 自建平台 | manual 人工转发' },
);

/** Write-only: accepted on create/update, never returned. */
export const ChannelInputBody = Type.Object(
  {
    kind: ChannelKindSchema,
    webhookUrl: Type.Optional(
      Nullable(Type.String({ maxLength: 500, description: '机器人 webhook 完整地址（可代替 key/token/hookId）' })),
    ),
    key: Type.Optional(Nullable(Type.String({ maxLength: 128, description: '企业微信机器人 key' }))),
    accessToken: Type.Optional(Nullable(Type.String({ maxLength: 128, description: '钉钉 access_token' }))),
    hookId: Type.Optional(Nullable(Type.String({ maxLength: 128, description: '飞书 hook ID' }))),
    url: Type.Optional(Nullable(Type.String({ maxLength: 500, description: '自建平台接收地址' }))),
    secret: Type.Optional(Nullable(Type.String({ maxLength: 256, description: '加签/签名密钥' }))),
    keyword: Type.Optional(Nullable(Type.String({ maxLength: 64, description: '机器人安全关键词' }))),
  },
  { additionalProperties: false },
);

const OfficerInput = Type.Object(
  {
    name: NonBlank(32, '负责民警姓名'),
    phone: Type.Optional(Nullable(Type.String({ maxLength: 20, description: '联系电话' }))),
  },
  { additionalProperties: false },
);

const Tags = Type.Array(Type.String({ maxLength: 32 }), { maxItems: 20, description: '标签，如 重点村、学校、商户' });
const MemberCount = Type.Integer({ minimum: 0, maximum: 100_000, description: '群成员数' });

export const CreateGroupBody = Type.Object(
  {
    name: NonBlank(64, '群名称'),
    regionCode: RegionCode,
    channel: ChannelInputBody,
    memberCount: MemberCount,
    officer: Type.Optional(Nullable(OfficerInput)),
    tags: Type.Optional(Tags),
    active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateGroupBody = Static<typeof CreateGroupBody>;

export const UpdateGroupBody = Type.Object(
  {
    name: Type.Optional(NonBlank(64, '群名称')),
    regionCode: Type.Optional(RegionCode),
    channel: Type.Optional(ChannelInputBody),
    memberCount: Type.Optional(MemberCount),
    officer: Type.Optional(Nullable(OfficerInput)),
    tags: Type.Optional(Tags),
    active: Type.Optional(Type.Boolean()),
    clearFlag: Type.Optional(Type.Literal(true, { description: '清除故障标记' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

/** What the API shows of a group: no credentials, ever (the serializer drops anything not listed). */
export const GroupBody = Type.Object({
  id: Type.String(),
  name: Type.String(),
  regionCode: Type.String(),
  channelKind: ChannelKindSchema,
  memberCount: Type.Integer(),
  memberCountUpdatedAt: Nullable(DateTime),
  officer: Nullable(Type.Object({ name: Type.String(), phone: Nullable(Type.String()) })),
  tags: Type.Array(Type.String()),
  note: Nullable(Type.String({ description: '备注（来自台账）' })),
  active: Type.Boolean(),
  flagged: Nullable(Type.Object({ at: DateTime, reason: Type.String() })),
  createdAt: DateTime,
  updatedAt: DateTime,
});

export const GroupListQuery = Type.Object(
  {
    regionCode: Type.Optional(RegionCode),
    tag: Type.Optional(Type.String({ maxLength: 32 })),
    channelKind: Type.Optional(ChannelKindSchema),
    active: Type.Optional(Type.Boolean()),
    flagged: Type.Optional(Type.Boolean()),
    q: Type.Optional(Type.String({ maxLength: 64 })),
    after: Type.Optional(ObjectIdString),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  },
  { additionalProperties: false },
);

const Codes = Type.Array(RegionCode, { maxItems: 5000 });
const Ids = Type.Array(ObjectIdString, { maxItems: 5000 });
const TagList = Type.Array(Type.String({ minLength: 1, maxLength: 32 }), { maxItems: 100 });

export const AudienceSpecBody = Type.Object(
  {
    regions: Type.Optional(Codes),
    tags: Type.Optional(TagList),
    groups: Type.Optional(Ids),
    excludeRegions: Type.Optional(Codes),
    excludeTags: Type.Optional(TagList),
    excludeGroups: Type.Optional(Ids),
  },
  { additionalProperties: false },
);

export const AudienceTotalsBody = Type.Object({
  groupCount: Type.Integer(),
  villageCount: Type.Integer(),
  memberTotal: Type.Integer(),
});

export const TestMessageResult = Type.Object({
  status: Type.Union([
    Type.Literal('sent'),
    Type.Literal('retryable'),
    Type.Literal('permanent'),
    Type.Literal('uncertain'),
  ]),
  code: Type.Optional(Type.String()),
  message: Type.String(),
});

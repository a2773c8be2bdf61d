import { type Static, Type } from '@sinclair/typebox';
import { BatchIds } from '../lib/batch.js';
import { ListWindowQuery } from '../lib/keyset.js';
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

const ForTests = Type.Boolean({ description: '试发群：作者可以把推送试发到这个群（只有管理员可以标记）' });

export const CreateGroupBody = Type.Object(
  {
    name: NonBlank(64, '群名称'),
    regionCode: RegionCode,
    channel: ChannelInputBody,
    memberCount: MemberCount,
    officer: Type.Optional(Nullable(OfficerInput)),
    tags: Type.Optional(Tags),
    active: Type.Optional(Type.Boolean()),
    forTests: Type.Optional(ForTests),
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
    forTests: Type.Optional(ForTests),
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
  forTests: Type.Boolean({ description: '试发群' }),
  flagged: Nullable(Type.Object({ at: DateTime, reason: Type.String() })),
  createdAt: DateTime,
  updatedAt: DateTime,
  sameRobot: Type.Optional(
    Type.Array(Type.Object({ id: Type.String(), name: Type.String(), regionCode: Type.String() }), {
      description: '保存时：范围内使用同一机器人（同一群聊）的其他群；每次推送只发一次，两群都计为触达',
    }),
  ),
  sameRobotWarning: Type.Optional(Nullable(Type.String({ description: '显示在机器人字段旁的提醒' }))),
});

export const GroupListQuery = Type.Object(
  {
    regionCode: Type.Optional(RegionCode),
    tag: Type.Optional(Type.String({ maxLength: 32 })),
    channelKind: Type.Optional(ChannelKindSchema),
    active: Type.Optional(Type.Boolean()),
    flagged: Type.Optional(Type.Boolean()),
    ...ListWindowQuery,
    q: Type.Optional(Type.String({ maxLength: 64, description: '群名称包含的文字' })),
    officer: Type.Optional(Type.String({ maxLength: 32, description: '负责民警姓名或电话包含的文字' })),
    sort: Type.Optional(
      Type.Union(
        [
          Type.Literal('newest'),
          Type.Literal('oldest'),
          Type.Literal('name'),
          Type.Literal('-name'),
          Type.Literal('members'),
          Type.Literal('-members'),
        ],
        { description: '排序：newest/oldest 按创建时间，name 按群名称，members 按人数（前加 - 为倒序），默认旧的在前；按列排序时以 after 接着列' },
      ),
    ),
    forTests: Type.Optional(Type.Boolean({ description: '只列试发群' })),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  },
  { additionalProperties: false },
);

/** 群 停用 / 启用 / 改负责民警 / 打标签 on many groups at once (issue 21.7). */
export const GroupBatchBody = Type.Object(
  {
    ids: BatchIds(500, '群 ID（最多 500 个）'),
    action: Type.Union([Type.Literal('deactivate'), Type.Literal('activate'), Type.Literal('officer'), Type.Literal('tag')], {
      description: 'deactivate 停用、activate 启用、officer 改负责民警、tag 打标签（加在原有标签之后）',
    }),
    officer: Type.Optional(
      Nullable(
        Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 20 }), phone: Type.Optional(Nullable(Type.String({ maxLength: 20 }))) },
          { additionalProperties: false },
        ),
      ),
    ),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 32 }), { minItems: 1, maxItems: 20 })),
  },
  { additionalProperties: false },
);

const Codes = Type.Array(RegionCode, { maxItems: 5000 });

/** Types only here: ranges are checked in radius.ts with messages that say what is wrong. */
export const NearBody = Type.Object(
  {
    lat: Type.Number({ description: '纬度（WGS-84，度）' }),
    lng: Type.Number({ description: '经度（WGS-84，度）' }),
    radiusKm: Type.Number({ description: '半径（公里，0–200）' }),
  },
  { additionalProperties: false, description: '距某点 radiusKm 公里以内的村/社区（按村坐标的大圆距离）' },
);
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
    near: Type.Optional(Nullable(NearBody)),
  },
  { additionalProperties: false },
);

const ChannelTotals = Type.Object({ groupCount: Type.Integer(), memberTotal: Type.Integer() });

export const AudienceTotalsBody = Type.Object({
  groupCount: Type.Integer(),
  villageCount: Type.Integer(),
  memberTotal: Type.Integer(),
  byChannel: Type.Object(Object.fromEntries(CHANNEL_KINDS.map((kind) => [kind, ChannelTotals])), {
    description: '按渠道：群数、成员数',
  }),
  manualTaskCount: Type.Integer({ description: '人工转发渠道的群数（每个群生成一条民警转发任务）' }),
  wecomOverCap: Type.Optional(Type.Integer({ description: '已达到本月接收上限的企业微信客户群数（这些群不会收到）' })),
  capWarning: Type.Optional(Type.String({ description: '审核前显示的提示：这次推送将有 N 个群超出本月接收上限' })),
  radius: Type.Optional(
    Type.Object(
      {
        villageCount: Type.Integer({ description: '范围内的村/社区数（有坐标）' }),
        groupCount: Type.Integer({ description: '范围内被选中的群数' }),
        memberTotal: Type.Integer(),
        villagesWithoutCoordinates: Type.Integer({
          description: '管辖范围内缺少坐标、无法判断是否在范围内的村/社区数',
        }),
        withoutCoordinates: Type.Array(Type.Object({ code: Type.String(), name: Type.String() }), {
          description: '缺少坐标的村/社区（前 20 个）',
        }),
      },
      { description: '距离范围覆盖的村与群' },
    ),
  ),
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

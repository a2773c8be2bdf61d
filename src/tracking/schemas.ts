// TypeBox schemas of the tracking routes: validation, types and OpenAPI from one definition.
import { Type } from '@sinclair/typebox';
import { CATEGORIES } from '../notices/categories.js';
import { Nullable, ObjectIdString } from '../lib/schemas.js';

const Period = Type.String({
  maxLength: 10,
  pattern: '^\\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\\d|3[01]))?$',
  description: 'YYYY-MM-DD 或 YYYY-MM（两端同一格式，含两端）',
});
const RegionCode = Type.String({ pattern: '^\\d{2,12}$', description: '地区代码（须在管辖范围内）' });

export const ReachQuerySchema = Type.Object(
  {
    from: Period,
    to: Period,
    groupBy: Type.Optional(
      Type.String({
        pattern: '^((day|month|region|county|township|category|campaign)(,|$))*$',
        maxLength: 80,
        description: '分组维度，逗号分隔：day,month,region,county,township,category,campaign',
      }),
    ),
    regionCode: Type.Optional(RegionCode),
    category: Type.Optional(Type.Union(CATEGORIES.map((c) => Type.Literal(c)))),
    campaignId: Type.Optional(ObjectIdString),
  },
  { additionalProperties: false },
);

const Figures = {
  deliveries: Type.Integer(),
  messages: Type.Integer(),
  sent: Type.Integer(),
  confirmed: Type.Integer(),
  awaiting: Type.Integer(),
  failed: Type.Integer(),
  uncertain: Type.Integer(),
  skipped: Type.Integer(),
  pending: Type.Integer(),
  groupsReached: Type.Integer(),
  villagesReached: Type.Integer(),
  personTimes: Type.Integer(),
  channels: Type.Record(Type.String(), Type.Integer(), {
    description: '发送消息数按渠道（wecom、dingtalk、feishu、webhook、manual、wecom_group）；有投递的渠道都列出，相加等于 messages',
  }),
};

export const ReachReportSchema = Type.Object({
  from: Type.String(),
  to: Type.String(),
  groupBy: Type.Array(Type.String()),
  regionCode: Type.String(),
  totals: Type.Object(Figures),
  rows: Type.Array(
    Type.Object({
      day: Type.Optional(Type.String()),
      month: Type.Optional(Type.String()),
      regionCode: Type.Optional(Type.String()),
      regionName: Type.Optional(Type.String()),
      countyCode: Type.Optional(Type.String()),
      townshipCode: Type.Optional(Type.String()),
      category: Type.Optional(Type.String()),
      campaignId: Type.Optional(Type.String()),
      ...Figures,
    }),
  ),
});

export const MonthlyQuery = Type.Object(
  {
    period: Type.Optional(
      Type.String({ description: '统计期：月份 YYYY-MM、季度 YYYY-Qn 或年份 YYYY（与 month 二选一）' }),
    ),
    month: Type.Optional(Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM（旧参数，同 period）' })),
    regionCode: Type.Optional(RegionCode),
  },
  { additionalProperties: false },
);

const Format = Type.Optional(
  Type.Union([Type.Literal('xlsx'), Type.Literal('csv')], { default: 'xlsx', description: '文件格式，默认 xlsx' }),
);

export const MonthlyExportQuery = Type.Object(
  { ...MonthlyQuery.properties, format: Format },
  { additionalProperties: false },
);

export const FormatQuery = Type.Object({ format: Format }, { additionalProperties: false });

const MonthlyFiguresFields = {
  messages: Type.Integer({ description: '发送消息数' }),
  groupsReached: Type.Integer({ description: '触达群数' }),
  villagesReached: Type.Integer({ description: '触达村数' }),
  personTimes: Type.Integer({ description: '受教育人次' }),
  awaitingOfficers: Type.Integer({ description: '待民警转发：民警尚未确认转发的群次（不计入发送消息数）' }),
  channelMessages: Type.Array(Type.Integer(), {
    description: '发送消息数按渠道，顺序同 channels；相加等于发送消息数',
  }),
};

export const MonthlyTableSchema = Type.Object({
  month: Type.String({ description: '统计期（同 period；旧字段）' }),
  period: Type.String(),
  periodLabel: Type.String({ description: '如 2026年12月、2026年第4季度、2026年' }),
  from: Type.String(),
  to: Type.String(),
  regionCode: Type.String(),
  regionName: Type.String(),
  channels: Type.Array(Type.Object({ channel: Type.String(), channelLabel: Type.String() }), {
    description: '本期有投递的渠道（按渠道分列的列）',
  }),
  rows: Type.Array(
    Type.Object({
      townshipCode: Type.String(),
      townshipName: Type.String(),
      ...MonthlyFiguresFields,
      clicks: Type.Integer({ description: '点击次数' }),
      uniqueClicks: Type.Integer({ description: '独立访客（按乡镇、按月计）' }),
    }),
  ),
  total: Type.Object(
    { ...MonthlyFiguresFields, clicks: Type.Integer(), uniqueClicks: Type.Integer() },
    { description: '合计：群数、村数去重，与触达统计的总数一致' },
  ),
  categories: Type.Array(
    Type.Object({ category: Type.String(), categoryLabel: Type.String(), ...MonthlyFiguresFields }),
    { description: '按类别' },
  ),
});

/** A campaign's delivery counts (its progress, a county's or a township's part of it, the list's summaries). */
export const ProgressFields = {
  total: Type.Integer(),
  queued: Type.Integer(),
  sent: Type.Integer(),
  failed: Type.Integer(),
  uncertain: Type.Integer(),
  awaiting: Type.Integer(),
  confirmed: Type.Integer(),
  skipped: Type.Integer(),
  personTimes: Type.Integer(),
};

const AwaitingWecom = {
  awaitingWecom: Type.Integer({ description: '待确认中，等群主在企业微信群发助手确认的企业微信客户群数（其余待民警转发）' }),
};

export const ProgressSchema = Type.Object({
  campaignId: Type.String(),
  title: Type.String(),
  finished: Type.Boolean({
    description: '每个投递都已了结（已发送、已确认、失败、跳过或不确定），或民警任务已过期；待民警转发不算完成',
  }),
  awaitingOfficers: Type.Integer({ description: '民警尚未转发（待确认且未过期）的群数' }),
  ...ProgressFields,
  ...AwaitingWecom,
  counties: Type.Array(
    Type.Object({ countyCode: Type.String(), countyName: Type.String(), ...ProgressFields, ...AwaitingWecom }),
  ),
  townships: Type.Array(
    Type.Object({
      townshipCode: Type.String(),
      townshipName: Type.String(),
      countyCode: Type.String(),
      ...ProgressFields,
      ...AwaitingWecom,
    }),
  ),
});

// Codes are about 80 characters; the router refuses path parameters over 100 (414) anyway.
export const CodeParams = Type.Object({ code: Type.String({ maxLength: 100 }) }, { additionalProperties: false });
export const NoticePageParams = Type.Object(
  { noticeId: Type.String({ maxLength: 64 }) },
  { additionalProperties: false },
);

export const RankingQuerySchema = Type.Object(
  { from: Period, to: Period, regionCode: Type.Optional(RegionCode) },
  { additionalProperties: false },
);

const ConfirmationFigures = {
  due: Type.Integer({ description: '期内应转发的人工任务（未确认即撤下的不计）' }),
  confirmed: Type.Integer({ description: '已确认转发' }),
  open: Type.Integer({ description: '待确认' }),
  rate: Nullable(Type.Number({ description: '确认率 0–1（已确认 ÷ 应转发），无任务时为 null' })),
  medianMinutes: Nullable(Type.Integer({ description: '从任务生成到确认的用时中位数（分钟）' })),
};

export const RankingsSchema = Type.Object({
  from: Type.String(),
  to: Type.String(),
  regionCode: Type.String(),
  townships: Type.Array(Type.Object({ code: Type.String(), name: Type.String(), ...ConfirmationFigures })),
  officers: Type.Array(
    Type.Object({
      name: Type.String(),
      phone: Nullable(Type.String()),
      hasAccount: Type.Boolean({ description: '范围内恰有一个启用的账号使用此电话' }),
      unit: Type.String({ description: '账号的管辖地区名称，或其群所在的乡镇' }),
      ...ConfirmationFigures,
    }),
  ),
  partial: Type.Boolean({ description: '任务过多，只统计了前 50,000 条' }),
});

import { Type } from '@sinclair/typebox';
import { DateTime, Nullable } from '../lib/schemas.js';

const Count = (description: string) => Nullable(Type.Integer({ minimum: 0, description: `${description}；角色无此队列时为 null` }));

export const WorkbenchCountsBody = Type.Object({
  month: Type.String({ description: '本月（YYYY-MM，服务时区）' }),
  noticesInReview: Count('待审核通告'),
  campaignsInReview: Count('待审核推送'),
  failed: Count('本月发送失败'),
  uncertain: Count('本月结果不确定'),
  awaitingTasks: Count('待确认的人工转发任务（管辖范围内）'),
  myTasks: Count('本人待确认的转发任务'),
  casesToHandle: Count('要处理的协查案件：3 天内到期或已过期且未结案，及待审核的结案通告'),
  newTips: Type.Integer({ minimum: 0, description: '新线索（本人可见的）' }),
  awaitingByOfficer: Type.Array(
    Type.Object({ name: Type.String(), phone: Nullable(Type.String()), open: Type.Integer({ minimum: 0 }) }),
    { description: '待确认转发任务最多的民警（前 10 位）' },
  ),
  setup: Type.Union([
    Type.Array(
      Type.Object({
        key: Type.Union(['county', 'ledger', 'robot', 'accounts', 'notice'].map((k) => Type.Literal(k))),
        label: Type.String(),
        done: Type.Boolean(),
        path: Type.String(),
      }),
    ),
    Type.Null(),
  ], { description: '管理员的开通步骤（其他角色为 null）' }),
});

const Person = Type.Object({ id: Type.String(), name: Type.String(), unit: Type.String({ description: '所在单位（管辖区划名称）' }) });

const PeopleFields = {
  author: Nullable(Person),
  editors: Type.Array(Person, { description: '自上次通过以来编辑过的人' }),
  submittedBy: Nullable(Person),
  submittedAt: Nullable(DateTime),
  updatedAt: DateTime,
};

export const NoticeReviewFactsBody = Type.Object({
  ...PeopleFields,
  approvedVersion: Nullable(Type.Integer({ description: '已通过的版本号：新版本的变化对照此版本' })),
});

const Tally = { groupCount: Type.Integer(), memberTotal: Type.Integer() };

export const CampaignReviewFactsBody = Type.Object({
  ...PeopleFields,
  audience: Type.Object({
    recipientsOfOriginal: Type.Boolean({ description: '后续通告：发给收到原通告的群' }),
    groupCount: Type.Integer(),
    villageCount: Type.Integer(),
    memberTotal: Type.Integer(),
    partial: Type.Boolean({ description: '群太多，只统计了前 50,000 个' }),
    townships: Type.Array(Type.Object({ code: Type.String(), name: Type.String(), ...Tally })),
    byChannel: Type.Array(Type.Object({ channel: Type.String(), ...Tally })),
    manualTaskCount: Type.Integer({ description: '人工转发任务数（人工渠道的群数）' }),
    officersWithoutAccount: Type.Array(
      Type.Object({ name: Type.String(), phone: Nullable(Type.String()), groupCount: Type.Integer() }),
      { description: '人工转发群的负责民警中没有账号（或电话未登记）的：发送后无人收到任务提醒' },
    ),
    manualGroupsWithoutAccount: Type.Integer(),
    wecomOverCap: Type.Optional(Type.Integer({ description: '已达到接收上限的企业微信客户群数（这些群不会收到）' })),
    capWarning: Type.Optional(Type.String({ description: '审核前显示的提示：这次推送将有 N 个群超出本月接收上限' })),
    samples: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), channel: Type.String() }), {
      description: '每个渠道取受众中的一个群：审核页按它预览卡片（村名、民警与县里的转发设置取自该群）',
    }),
  }),
});

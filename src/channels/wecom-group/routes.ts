// HTTP for WeCom customer groups: a county's app (admins, secret write-only), the sync and
// its report, a village picked by hand, an officer's WeCom userid, and a campaign's tasks.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { WecomGroupSync } from '../../audience/wecom-sync.js';
import type { AuditService } from '../../audit/service.js';
import { ADMINS, ANY_ROLE } from '../../auth/roles.js';
import type { UserService } from '../../auth/users.js';
import { UserModel } from '../../auth/model.js';
import type { CampaignService } from '../../campaigns/service.js';
import { allow, principal } from '../../http/access.js';
import { NotFound } from '../../lib/errors.js';
import { DateTime, IdParams, Nullable } from '../../lib/schemas.js';
import { CountyParams, countyInScope } from '../../regions/county.js';
import type { RegionService } from '../../regions/service.js';
import { WECOM_CAP_POLICIES } from './limits.js';
import type { WecomGroupService } from './service.js';

const tags = ['wecom-groups'];

const ChatParams = Type.Object(
  { code: Type.String({ pattern: '^[0-9]{6,12}$' }), chatId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,100}$', description: '客户群 chat_id（路由参数最多 100 个字符）' }) },
  { additionalProperties: false },
);

const AppReply = Type.Object({
  countyCode: Type.String(),
  corpId: Type.String(),
  hasSecret: Type.Boolean({ description: 'Secret 已设置（只写不读）' }),
  capPolicy: Type.String({ description: '企业微信每个群的接收上限：month 每月天数次、week 每周 7 次、day 每天 1 次' }),
  updatedAt: DateTime,
  updatedBy: Type.String({ description: '设置人的姓名' }),
});
const AppBody = Type.Object(
  {
    corpId: Type.String({ minLength: 1, maxLength: 64, description: '企业 ID（ww 开头）' }),
    secret: Type.Optional(
      Nullable(Type.String({ maxLength: 128, description: '自建应用的 Secret（留空则保留原值）' })),
    ),
    capPolicy: Type.Optional(Type.Union(WECOM_CAP_POLICIES.map((p) => Type.Literal(p)))),
  },
  { additionalProperties: false },
);
const Named = Type.Object({ chatId: Type.String(), name: Type.String() });
const SyncReply = Type.Object({
  countyCode: Type.String(),
  at: DateTime,
  by: Type.String({ description: '同步人的姓名' }),
  total: Type.Integer(),
  created: Type.Integer(),
  updated: Type.Integer(),
  ambiguous: Type.Array(
    Type.Object({
      chatId: Type.String(),
      name: Type.String(),
      candidates: Type.Array(Type.Object({ code: Type.String(), name: Type.String(), townshipName: Type.String() })),
    }),
  ),
  unmatched: Type.Array(Named),
  ownersWithoutOfficer: Type.Array(Type.Object({ ownerUserId: Type.String(), groups: Type.Integer() })),
  byOwner: Type.Optional(
    Type.Array(
      Type.Object({
        ownerUserId: Type.String({ description: '群主的企业微信账号' }),
        officerName: Nullable(Type.String({ description: '该账号对应的民警（没有则为空）' })),
        groups: Type.Integer({ description: '本次同步归入的群数' }),
        villageCount: Type.Integer(),
        villages: Type.Array(Type.String(), { description: '前 8 个村（社区）名' }),
      }),
      { description: '按群主：本次同步放到各村的客户群' },
    ),
  ),
  left: Type.Array(Named),
  ownerChanged: Type.Array(Type.Object({ chatId: Type.String(), name: Type.String(), from: Type.String(), to: Type.String() })),
  ownerLeft: Type.Array(Named),
});
const TaskReply = Type.Object({
  id: Type.String(),
  ownerUserId: Type.String(),
  officerName: Nullable(Type.String()),
  state: Type.String(),
  msgid: Nullable(Type.String()),
  openedAt: Nullable(DateTime),
  sentAt: Nullable(DateTime),
  reminders: Type.Integer(),
  lastError: Nullable(Type.String()),
  groups: Type.Array(
    Type.Object({
      groupId: Type.String(),
      groupName: Type.String(),
      chatId: Type.String(),
      state: Type.String(),
      sentAt: Nullable(DateTime),
      reason: Nullable(Type.String()),
    }),
  ),
});

export const wecomGroupRoutes: FastifyPluginAsyncTypebox<{
  wecomGroups: WecomGroupService;
  sync: WecomGroupSync;
  regions: RegionService;
  users: UserService;
  campaigns: CampaignService;
  audit: AuditService;
}> = async (app, { wecomGroups, sync, regions, users, campaigns, audit }) => {
  /** The county inside the caller's scope (404 outside it), and a county at that. */
  const county = (request: { params: { code: string } }, by: ReturnType<typeof principal>) =>
    countyInScope(regions, by.scope, request.params.code, '企业微信应用按区县设置，请选择区县');

  app.get(
    '/api/regions/:code/wecom-app',
    {
      config: allow(ADMINS, 'region'),
      schema: { tags, summary: '区县的企业微信应用（Secret 不返回）', params: CountyParams, response: { 200: AppReply } },
    },
    async (request) => {
      const region = await county(request, principal(request));
      const view = await wecomGroups.getApp(region.code);
      if (!view) throw new NotFound('本县的企业微信应用');
      return view;
    },
  );

  app.put(
    '/api/regions/:code/wecom-app',
    {
      config: allow(ADMINS, 'region'),
      schema: {
        tags,
        summary: '设置区县的企业微信应用',
        description: '企业 ID 与“客户联系”可调用应用的 Secret；Secret 只写不读，加密保存。',
        params: CountyParams,
        body: AppBody,
        response: { 200: AppReply },
      },
    },
    async (request) => {
      const by = principal(request);
      const region = await county(request, by);
      const view = await wecomGroups.setApp(region.code, request.body, by.displayName);
      await audit.record({
        actor: by,
        action: 'wecom-app.change',
        target: { kind: 'region', id: region.code },
        ip: request.ip,
        regionPath: region.regionPath,
        details: { corpId: view.corpId, capPolicy: view.capPolicy, secretChanged: Boolean(request.body.secret) },
      });
      return view;
    },
  );

  app.post(
    '/api/regions/:code/wecom-sync',
    {
      config: allow(ADMINS, 'region'),
      schema: {
        tags,
        summary: '同步区县的企业微信客户群',
        description: '按群名匹配村（社区），群主按企业微信账号匹配民警，成员数取外部联系人（居民）数。',
        params: CountyParams,
        response: { 200: SyncReply },
      },
    },
    async (request) => {
      const by = principal(request);
      const region = await county(request, by);
      const report = await sync.sync(region.code, by.displayName);
      await audit.record({
        actor: by,
        action: 'wecom-groups.sync',
        target: { kind: 'region', id: region.code },
        ip: request.ip,
        regionPath: region.regionPath,
        details: {
          total: report.total,
          created: report.created,
          updated: report.updated,
          ambiguous: report.ambiguous.length,
          unmatched: report.unmatched.length,
          left: report.left.length,
          ownerChanged: report.ownerChanged.length,
        },
      });
      return report;
    },
  );

  app.get(
    '/api/regions/:code/wecom-sync',
    {
      config: allow(ADMINS, 'region'),
      schema: { tags, summary: '上次同步的报告', params: CountyParams, response: { 200: SyncReply } },
    },
    async (request) => {
      const region = await county(request, principal(request));
      const report = await sync.lastReport(region.code);
      if (!report) throw new NotFound('本县的企业微信同步报告（尚未同步）');
      return report;
    },
  );

  app.post(
    '/api/regions/:code/wecom-groups/:chatId/village',
    {
      config: allow(ADMINS, 'region'),
      schema: {
        tags,
        summary: '为未匹配或有歧义的客户群指定村（社区）',
        params: ChatParams,
        body: Type.Object({ villageCode: Type.String({ pattern: '^[0-9]{12}$' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ groupId: Type.String() }) },
      },
    },
    async (request) => {
      const by = principal(request);
      const region = await county(request, by);
      const placed = await sync.pickVillage(region.code, request.params.chatId, request.body.villageCode);
      await audit.record({
        actor: by,
        action: 'wecom-groups.pick-village',
        target: { kind: 'group', id: placed.groupId },
        ip: request.ip,
        regionPath: region.regionPath,
        details: { chatId: request.params.chatId, villageCode: request.body.villageCode },
      });
      return placed;
    },
  );

  app.put(
    '/api/users/:id/wecom-userid',
    {
      config: allow(ADMINS, 'user'),
      schema: {
        tags,
        summary: '关联用户的企业微信账号（群主匹配民警用）',
        params: IdParams,
        body: Type.Object(
          { wecomUserId: Nullable(Type.String({ pattern: '^[A-Za-z0-9_.@-]{1,64}$' })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ id: Type.String(), wecomUserId: Nullable(Type.String()) }) },
      },
    },
    async (request) => {
      const by = principal(request);
      const user = await users.get(by.scope, request.params.id);
      await UserModel.updateOne({ _id: user.id }, { $set: { wecomUserId: request.body.wecomUserId } });
      await audit.record({
        actor: by,
        action: 'user.wecom-userid.change',
        target: { kind: 'user', id: user.id },
        ip: request.ip,
        details: { wecomUserId: request.body.wecomUserId },
      });
      return { id: user.id, wecomUserId: request.body.wecomUserId };
    },
  );

  app.get(
    '/api/campaigns/:id/wecom-tasks',
    {
      config: allow(ANY_ROLE, 'campaign'),
      schema: {
        tags,
        summary: '推送的企业微信客户群群发任务（每个群主一个）及每个群的结果',
        params: IdParams,
        response: { 200: Type.Array(TaskReply) },
      },
    },
    async (request) => {
      await campaigns.get(principal(request).scope, request.params.id);
      return wecomGroups.report(request.params.id);
    },
  );
};

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuditService } from '../audit/service.js';
import type { Principal } from '../auth/principal.js';
import { ANY_ROLE } from '../auth/roles.js';
import type { UserService } from '../auth/users.js';
import type { CampaignService } from '../campaigns/service.js';
import { allow, principal } from '../http/access.js';
import { Forbidden, NotFound } from '../lib/errors.js';
import { IdParams, OkBody } from '../lib/schemas.js';
import type { OfficerNotifier } from './notifier.js';
import type { OfficerRobotService } from './robots.js';
import {
  NotificationCountsReply,
  NotificationStepQuery,
  NotificationStepReply,
  OfficerRobotBody,
  OfficerRobotReply,
} from './schemas.js';

const tags = ['notifications'];

/** An admin sets anyone's robot in scope; any user their own (the case officer's tips, the digests). */
function mayEdit(by: Principal, userId: string): void {
  if (by.role !== 'admin' && by.id !== userId) throw new Forbidden('只能设置自己的通知机器人');
}

export const notificationRoutes: FastifyPluginAsyncTypebox<{
  robots: OfficerRobotService;
  notifier: OfficerNotifier;
  users: UserService;
  campaigns: CampaignService;
  audit: AuditService;
}> = async (app, { robots, notifier, users, campaigns, audit }) => {
  app.get(
    '/api/campaigns/:id/notifications',
    {
      config: allow(ANY_ROLE, 'campaign'),
      schema: {
        tags,
        summary: '推送的民警通知记录（任务汇总、提醒、督办），分页',
        description:
          '按记录顺序分页（游标为上一页最后一条的 id：旧的在前用 after，新的在前用 before）；每页最多 limit 条，默认 50。总数与按环节计数见 …/notifications/summary。',
        params: IdParams,
        querystring: NotificationStepQuery,
        response: { 200: Type.Array(NotificationStepReply) },
      },
    },
    async (request) => {
      await campaigns.get(principal(request).scope, request.params.id);
      const { sort, after, before, limit } = request.query;
      const order = sort ?? (before !== undefined ? 'newest' : 'oldest');
      const cursor = order === 'oldest' ? after : before;
      return notifier.stepsOf(request.params.id, {
        sort: order,
        cursor: cursor === undefined ? undefined : Number(cursor),
        limit,
      });
    },
  );

  app.get(
    '/api/campaigns/:id/notifications/summary',
    {
      config: allow(ANY_ROLE, 'campaign'),
      schema: {
        tags,
        summary: '推送的民警通知记录条数（总数与按环节计数）',
        params: IdParams,
        response: { 200: NotificationCountsReply },
      },
    },
    async (request) => {
      await campaigns.get(principal(request).scope, request.params.id);
      return notifier.countsOf(request.params.id);
    },
  );

  app.get(
    '/api/users/:id/notify-robot',
    {
      config: allow(ANY_ROLE, 'user'),
      schema: { tags, summary: '用户的通知机器人', params: IdParams, response: { 200: OfficerRobotReply } },
    },
    async (request) => {
      const by = principal(request);
      mayEdit(by, request.params.id);
      await users.get(by.scope, request.params.id);
      const setting = await robots.get(request.params.id);
      if (!setting) throw new NotFound('该用户的通知机器人');
      return setting;
    },
  );

  app.put(
    '/api/users/:id/notify-robot',
    {
      config: allow(ANY_ROLE, 'user'),
      schema: {
        tags,
        summary: '设置用户的通知机器人与上级',
        description:
          '机器人凭据只写不读；可直接粘贴机器人的完整 webhook 地址。本人可设置自己的机器人；上级只能由管理员设置。',
        params: IdParams,
        body: OfficerRobotBody,
        response: { 200: OfficerRobotReply },
      },
    },
    async (request) => {
      const by = principal(request);
      mayEdit(by, request.params.id);
      if (request.body.superiorUserId !== undefined && by.role !== 'admin') {
        throw new Forbidden('上级（所长）只能由管理员设置');
      }
      await users.assertManages(by, request.params.id);
      if (request.body.superiorUserId) await users.get(by.scope, request.body.superiorUserId);
      const setting = await robots.set(request.params.id, request.body);
      await audit.record({
        actor: by,
        action: 'user.notify-robot.change',
        target: { kind: 'user', id: request.params.id },
        ip: request.ip,
        details: { kind: setting.kind, superiorUserId: setting.superiorUserId },
      });
      return setting;
    },
  );

  app.delete(
    '/api/users/:id/notify-robot',
    {
      config: allow(ANY_ROLE, 'user'),
      schema: { tags, summary: '删除用户的通知机器人', params: IdParams, response: { 200: OkBody } },
    },
    async (request) => {
      const by = principal(request);
      mayEdit(by, request.params.id);
      await users.assertManages(by, request.params.id);
      await robots.clear(request.params.id);
      await audit.record({
        actor: by,
        action: 'user.notify-robot.clear',
        target: { kind: 'user', id: request.params.id },
        ip: request.ip,
      });
      return { ok: true as const };
    },
  );
};

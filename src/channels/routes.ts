// Manual-channel tasks: officers list theirs; the signed link shows one task (with its
// picture) and confirms it without a login (the signature is the authority).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuditService } from '../audit/service.js';
import { STAFF, TASK_LINK_HOLDERS } from '../auth/roles.js';
import { PUBLIC, allow, principal } from '../http/access.js';
import { DateTime, IdParams, Nullable } from '../lib/schemas.js';
import type { ManualTaskService } from './manual/tasks.js';

const SigQuery = Type.Object(
  {
    exp: Type.Integer({ minimum: 0, maximum: 2 ** 40, description: '链接有效期（Unix 秒），已含在签名中' }),
    sig: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);

/** Public (the signature is the authority), limited per address like the other public pages. */
const SIGNED_LINK = { ...PUBLIC, rateLimit: { max: 60, timeWindow: 60_000 } };

const TaskBody = Type.Object({
  id: Type.String(),
  groupId: Type.String(),
  groupName: Type.String(),
  officer: Nullable(Type.Object({ name: Type.String(), phone: Nullable(Type.String()) })),
  title: Type.String(),
  text: Nullable(Type.String()),
  url: Nullable(Type.String()),
  hasImage: Type.Boolean(),
  createdAt: DateTime,
  confirmedAt: Nullable(DateTime),
  link: Nullable(Type.String({ description: '签名链接：仅发给民警和管理员' })),
});

export const channelRoutes: FastifyPluginAsyncTypebox<{ manualTasks: ManualTaskService; audit: AuditService }> = async (
  app,
  { manualTasks, audit },
) => {
  app.get(
    '/api/manual-tasks',
    {
      config: allow(STAFF),
      schema: {
        tags: ['channels'],
        summary: '人工转发任务（本人管辖范围；签名链接仅民警和管理员可见）',
        querystring: Type.Object(
          {
            open: Type.Optional(Type.Boolean()),
            mine: Type.Optional(Type.Boolean({ description: '只列本人的任务：群的负责民警电话等于本人账号的电话' })),
            limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(TaskBody) },
      },
    },
    async (request) => {
      const { mine, ...options } = request.query;
      const caller = principal(request);
      const withLinks = TASK_LINK_HOLDERS.includes(caller.role);
      if (!mine) return manualTasks.list(caller.scope, { ...options, withLinks });
      // No phone on the account: no group can name the caller as its officer.
      if (!caller.phone) return [];
      return manualTasks.list(caller.scope, { ...options, withLinks, officerPhone: caller.phone });
    },
  );

  app.get(
    '/api/manual-tasks/:id',
    {
      config: SIGNED_LINK,
      schema: {
        tags: ['channels'],
        summary: '凭签名链接查看转发任务',
        params: IdParams,
        querystring: SigQuery,
        response: { 200: TaskBody },
      },
    },
    async (request) => manualTasks.view(request.params.id, request.query),
  );

  app.get(
    '/api/manual-tasks/:id/image',
    {
      config: SIGNED_LINK,
      schema: { tags: ['channels'], summary: '转发任务的图片', params: IdParams, querystring: SigQuery },
    },
    async (request, reply) => {
      const image = await manualTasks.image(request.params.id, request.query);
      return reply.type(image.mime).header('cache-control', 'private, max-age=86400').send(image.data);
    },
  );

  app.post(
    '/api/manual-tasks/:id/confirm',
    {
      config: SIGNED_LINK,
      schema: {
        tags: ['channels'],
        summary: '民警确认已转发（签名链接）',
        params: IdParams,
        querystring: SigQuery,
        response: { 200: Type.Object({ confirmedAt: DateTime, firstTime: Type.Boolean() }) },
      },
    },
    async (request) => {
      const { task, firstTime } = await manualTasks.confirm(request.params.id, request.query);
      if (firstTime) {
        await audit.record({
          actor: null,
          action: 'manual-task.confirm',
          target: { kind: 'manual-task', id: task.id },
          ip: request.ip,
          details: { groupId: task.groupId, officer: task.officer?.name ?? null },
        });
      }
      return { confirmedAt: task.confirmedAt!, firstTime };
    },
  );
};

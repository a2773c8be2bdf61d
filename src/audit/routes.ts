import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ADMINS } from '../auth/roles.js';
import { allow, principal } from '../http/access.js';
import { AuditEntryBody, AuditQuery } from './schemas.js';
import type { AuditService } from './service.js';

export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: AuditService }> = async (app, { audit }) => {
  app.get(
    '/api/audit',
    {
      config: allow(ADMINS),
      schema: {
        tags: ['audit'],
        summary: '审计日志（新的在前；用 before 翻页）',
        querystring: AuditQuery,
        response: { 200: Type.Array(AuditEntryBody) },
      },
    },
    async (request) => {
      const { from, to, ...rest } = request.query;
      return audit.list(principal(request).scope, {
        ...rest,
        from: from ? new Date(from) : undefined,
        to: to ? new Date(to) : undefined,
      });
    },
  );
};

// Wanted cases: the editors' list with its badge, one case, and the 已抓获/已破案 action.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AUTHORS } from '../auth/roles.js';
import { allow, principal } from '../http/access.js';
import { IdParams } from '../lib/schemas.js';
import { CaseBody, CaseListBody, SolveBody } from './schemas.js';
import type { CaseService } from './service.js';

export const caseRoutes: FastifyPluginAsyncTypebox<{ cases: CaseService }> = async (app, { cases }) => {
  const tags = ['cases'];

  app.get(
    '/api/cases',
    {
      config: allow(AUTHORS),
      schema: {
        tags,
        summary: '协查案件（管辖范围内）及提醒数：过期、结案通告待审核、新线索',
        response: { 200: CaseListBody },
      },
    },
    async (request) => cases.list(principal(request).scope),
  );

  app.get(
    '/api/cases/:id',
    {
      config: allow(AUTHORS, 'notice'),
      schema: { tags, summary: '一个协查案件（id 为通告 ID）', params: IdParams, response: { 200: CaseBody } },
    },
    async (request) => cases.summary(principal(request).scope, request.params.id),
  );

  app.post(
    '/api/cases/:id/solve',
    {
      config: allow(AUTHORS, 'notice'),
      schema: {
        tags,
        summary: '已抓获/已破案：撤下原通告，起草结案通告和发给所有收到原通告的群的紧急推送（均需审核）',
        params: IdParams,
        body: SolveBody,
        response: { 200: CaseBody },
      },
    },
    async (request) =>
      cases.solve(principal(request), request.params.id, request.body.kind, request.body.note ?? null, request.ip),
  );
};

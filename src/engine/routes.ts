import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ANY_ROLE } from '../auth/roles.js';
import type { CampaignService } from '../campaigns/service.js';
import { allow, principal } from '../http/access.js';
import { DateTime, IdParams, Nullable } from '../lib/schemas.js';
import { campaignRuns } from './runs.js';

const RunBody = Type.Object({
  id: Type.String(),
  runAt: DateTime,
  dueAt: DateTime,
  status: Type.Union([Type.Literal('planning'), Type.Literal('planned'), Type.Literal('skipped')]),
  skipReason: Nullable(Type.String()),
  deliveryCount: Type.Integer(),
  memberTotal: Type.Integer(),
});

export const engineRoutes: FastifyPluginAsyncTypebox<{ campaigns: CampaignService }> = async (app, { campaigns }) => {
  app.get(
    '/api/campaigns/:id/runs',
    {
      config: allow(ANY_ROLE, 'campaign'),
      schema: {
        tags: ['campaigns'],
        summary: '推送的各次发送（含跳过原因，如通告已归档）',
        params: IdParams,
        response: { 200: Type.Array(RunBody) },
      },
    },
    async (request) => {
      await campaigns.get(principal(request).scope, request.params.id); // scope check
      return campaignRuns(request.params.id);
    },
  );
};

// The workbench's counts (the home screen's 待办 and every navigation badge, in one call) and
// the facts a reviewer decides on.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ANY_ROLE } from '../auth/roles.js';
import { allow, principal } from '../http/access.js';
import { IdParams } from '../lib/schemas.js';
import type { ReviewFactsService } from './review.js';
import { CampaignReviewFactsBody, NoticeReviewFactsBody, WorkbenchCountsBody } from './schemas.js';
import type { WorkbenchService } from './service.js';

export const workbenchRoutes: FastifyPluginAsyncTypebox<{ workbench: WorkbenchService; reviewFacts: ReviewFactsService }> = async (
  app,
  { workbench, reviewFacts },
) => {
  app.get(
    '/api/workbench/counts',
    {
      config: allow(ANY_ROLE),
      schema: {
        tags: ['workbench'],
        summary: '工作台待办计数（管辖范围内，按角色）：待审核、失败与不确定、待确认转发、协查临期、新线索；管理员另有开通步骤',
        response: { 200: WorkbenchCountsBody },
      },
    },
    async (request) => workbench.counts(principal(request)),
  );

  app.get(
    '/api/notices/:id/review-facts',
    {
      config: allow(ANY_ROLE, 'notice'),
      schema: {
        tags: ['notices'],
        summary: '审核用：通告的编写人、编辑人、提交人（姓名与单位）和时间，及新版本对照的已通过版本号',
        params: IdParams,
        response: { 200: NoticeReviewFactsBody },
      },
    },
    async (request) => reviewFacts.notice(principal(request), request.params.id),
  );

  app.get(
    '/api/campaigns/:id/review-facts',
    {
      config: allow(ANY_ROLE, 'campaign'),
      schema: {
        tags: ['campaigns'],
        summary: '审核用：推送的创建人、提交人，受众（乡镇、群、成员、渠道、人工转发任务、没有账号的民警）',
        params: IdParams,
        response: { 200: CampaignReviewFactsBody },
      },
    },
    async (request) => reviewFacts.campaign(principal(request), request.params.id),
  );
};

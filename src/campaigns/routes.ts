import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ANY_ROLE, AUTHORS, REVIEWERS } from '../auth/roles.js';
import { allow, principal } from '../http/access.js';
import { allPages, sendSheet, sheetTime } from '../http/sheet-reply.js';
import { BatchResults, runBatch } from '../lib/batch.js';
import { InvalidInput } from '../lib/errors.js';
import { IdParams } from '../lib/schemas.js';
import type { Schedule } from './schedule.js';
import {
  FollowUpBody,
  CampaignBody,
  CampaignListQuery,
  CampaignReply,
  RejectBody,
  RetractBody,
  RetractReply,
  ReviewBatchBody,
  type ScheduleBody,
} from './schemas.js';
import type { Campaign, CampaignInput, CampaignService, CampaignView } from './service.js';

export function toSchedule(body: ScheduleBody): Schedule {
  if (body.kind === 'once') return { kind: 'once', at: new Date(body.at) };
  if (body.kind === 'cron') {
    return {
      kind: 'cron',
      cron: body.cron,
      startAt: body.startAt ? new Date(body.startAt) : null,
      endAt: new Date(body.endAt),
    };
  }
  return { kind: 'now' };
}

function toInput(body: CampaignBody): CampaignInput {
  return { ...body, audience: { ...body.audience, recipientsOf: null }, schedule: toSchedule(body.schedule) };
}

const tags = ['campaigns'];

const STATUS_WORDS: Record<string, string> = {
  draft: '草稿',
  in_review: '待审核',
  approved: '已通过',
  paused: '已暂停',
  completed: '已完成',
  cancelled: '已取消',
};
const CampaignExportQuery = Type.Omit(CampaignListQuery, ['before', 'after', 'limit']);

function scheduleWords(schedule: Campaign['schedule'], zone: string): string {
  if (schedule.kind === 'once') return `定时 ${sheetTime(schedule.at, zone)}`;
  if (schedule.kind === 'cron') return `周期发送，至 ${sheetTime(schedule.endAt, zone).slice(0, 10)}`;
  return '立即发送';
}

export const campaignRoutes: FastifyPluginAsyncTypebox<{ campaigns: CampaignService; timeZone?: string }> = async (
  app,
  { campaigns, timeZone },
) => {
  const zone = timeZone ?? 'Asia/Shanghai';
  /** A campaign with the actions this caller may take on it (the console draws its buttons from them). */
  const one = async (by: ReturnType<typeof principal>, campaign: Campaign): Promise<CampaignView> =>
    (await campaigns.viewFor(by, [campaign]))[0]!;

  app.get(
    '/api/campaigns/export',
    {
      config: allow(ANY_ROLE),
      schema: { tags, summary: '导出推送列表（.xlsx，按列表的筛选条件，全部行）', querystring: CampaignExportQuery },
    },
    async (request, reply) => {
      const scope = principal(request).scope;
      const cursorKey = request.query.sort === 'oldest' ? 'after' : 'before';
      const rows = allPages(async (cursor) => {
        const page = await campaigns.page(scope, { ...request.query, [cursorKey]: cursor, limit: 200 });
        return { rows: page, next: page.length === 200 ? (page.at(-1)?.id ?? null) : null };
      });
      const today = sheetTime(new Date(), zone).slice(0, 10);
      return sendSheet(
        reply,
        {
          name: `推送列表-${today}.xlsx`,
          asciiName: `campaigns-${today}.xlsx`,
          sheet: '推送',
          headers: ['名称', '状态', '优先级', '发送时间', '下次发送', '创建时间'],
        },
        (async function* () {
          for await (const c of rows) {
            yield [
              c.title,
              STATUS_WORDS[c.status] ?? c.status,
              c.priority === 'urgent' ? '紧急' : '普通',
              scheduleWords(c.schedule, zone),
              sheetTime(c.nextRunAt, zone),
              sheetTime(c.createdAt, zone),
            ];
          }
        })(),
      );
    },
  );
  app.get(
    '/api/campaigns',
    {
      config: allow(ANY_ROLE),
      schema: {
        tags,
        summary: '推送列表',
        querystring: CampaignListQuery,
        response: { 200: Type.Array(CampaignReply) },
      },
    },
    async (request) => {
      const by = principal(request);
      const { status, limit } = request.query;
      // The review queue (status=in_review, no cursor) keeps its order: follow-ups first, then urgent ones.
      const windowed = ['before', 'after', 'sort', 'from', 'to', 'q'].some((k) => k in request.query);
      if (status === 'in_review' && !windowed) return campaigns.viewFor(by, await campaigns.list(by.scope, status, limit));
      return campaigns.viewFor(by, await campaigns.page(by.scope, request.query));
    },
  );

  app.post(
    '/api/campaigns',
    {
      config: allow(AUTHORS),
      schema: { tags, summary: '新建推送（草稿）', body: CampaignBody, response: { 201: CampaignReply } },
    },
    async (request, reply) =>
      reply.status(201).send(await campaigns.create(principal(request), toInput(request.body), request.ip)),
  );

  app.get(
    '/api/campaigns/:id',
    {
      config: allow(ANY_ROLE, 'campaign'),
      schema: { tags, summary: '推送详情', params: IdParams, response: { 200: CampaignReply } },
    },
    async (request) => one(principal(request), await campaigns.get(principal(request).scope, request.params.id)),
  );

  app.put(
    '/api/campaigns/:id',
    {
      config: allow(AUTHORS, 'campaign'),
      schema: {
        tags,
        summary: '修改推送（已通过的推送重新送审；已生成的发送不受影响）',
        params: IdParams,
        body: CampaignBody,
        response: { 200: CampaignReply },
      },
    },
    async (request) =>
      one(principal(request), await campaigns.update(principal(request), request.params.id, toInput(request.body), request.ip)),
  );

  const action = (
    path: string,
    summary: string,
    roles: typeof AUTHORS,
    run: (by: ReturnType<typeof principal>, id: string, ip: string) => Promise<Campaign>,
  ) =>
    app.post(
      `/api/campaigns/:id/${path}`,
      {
        config: allow(roles, 'campaign'),
        schema: { tags, summary, params: IdParams, response: { 200: CampaignReply } },
      },
      async (request) => one(principal(request), await run(principal(request), request.params.id, request.ip)),
    );

  action('submit', '提交审核', AUTHORS, (by, id, ip) => campaigns.submit(by, id, ip));
  action('approve', '审核通过（不能审核自己的推送）', REVIEWERS, (by, id, ip) => campaigns.approve(by, id, ip));
  action('pause', '暂停', AUTHORS, (by, id, ip) => campaigns.pause(by, id, ip));
  action('resume', '恢复', AUTHORS, (by, id, ip) => campaigns.resume(by, id, ip));
  action('cancel', '取消（未发出的部分不再发送）', AUTHORS, (by, id, ip) => campaigns.cancel(by, id, ip));
  action('finish', '完成未完成的操作（如进程中断后的撤回）', AUTHORS, (by, id) => campaigns.finish(by, id));

  app.post(
    '/api/campaigns/:id/reject',
    {
      config: allow(REVIEWERS, 'campaign'),
      schema: { tags, summary: '驳回', params: IdParams, body: RejectBody, response: { 200: CampaignReply } },
    },
    async (request) =>
      one(principal(request), await campaigns.reject(principal(request), request.params.id, request.body.note, request.ip)),
  );

  // Each campaign through the single approval's service call: the same four-eyes and lifecycle
  // check and the same claim on its revision, so a campaign decided by someone else meanwhile
  // is refused in its own result and the batch can do nothing one-by-one approval could not.
  app.post(
    '/api/campaigns/review-batch',
    {
      config: allow(REVIEWERS),
      schema: {
        tags,
        summary: '批量审核：通过或驳回多个待审核推送（逐个执行四眼原则、状态检查与审计；立即发送的推送通过后即发送；返回每个的结果）',
        body: ReviewBatchBody,
        response: { 200: BatchResults },
      },
    },
    async (request) => {
      const by = principal(request);
      const { ids, decision, reason } = request.body;
      const note = reason?.trim() ?? '';
      if (decision === 'reject' && !note) throw new InvalidInput('驳回需要填写理由', 'reason');
      return runBatch(ids, async (id) => {
        const campaign =
          decision === 'approve' ? await campaigns.approve(by, id, request.ip) : await campaigns.reject(by, id, note, request.ip);
        return campaign.title;
      });
    },
  );

  app.post(
    '/api/campaigns/:id/retract',
    {
      config: allow(AUTHORS, 'campaign'),
      schema: {
        tags,
        summary: '撤回并通知已收到的群',
        params: IdParams,
        body: RetractBody,
        response: { 200: RetractReply },
      },
    },
    async (request) => {
      const by = principal(request);
      const result = await campaigns.retract(by, request.params.id, request.body.followUpNoticeId ?? null, request.ip);
      return { retracted: await one(by, result.retracted), followUp: result.followUp };
    },
  );

  app.post(
    '/api/campaigns/:id/follow-up',
    {
      config: allow(AUTHORS, 'campaign'),
      schema: {
        tags,
        summary: '为已撤回的推送选择或更换更正通知（更正推送待审核）',
        params: IdParams,
        body: FollowUpBody,
        response: { 200: CampaignReply },
      },
    },
    async (request) =>
      campaigns.attachFollowUp(principal(request), request.params.id, request.body.followUpNoticeId, request.ip),
  );
};

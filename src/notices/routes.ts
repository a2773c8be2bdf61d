import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AUTHORS, REVIEWERS, STAFF } from '../auth/roles.js';
import { allow, principal } from '../http/access.js';
import { allPages, sendSheet, sheetTime } from '../http/sheet-reply.js';
import { BatchResults, runBatch } from '../lib/batch.js';
import { InvalidInput } from '../lib/errors.js';
import { IdParams } from '../lib/schemas.js';
import { CATEGORY_LABELS } from './categories.js';
import {
  ConfirmPersonalDataBody,
  CreateNoticeBody,
  NoticeBody,
  NoticeListItem,
  NoticeListQuery,
  NoticeVersionBody,
  PersonalDataBody,
  RejectBody,
  ReviewBatchBody,
  ReviewBody,
  UpdateNoticeBody,
  VersionParams,
} from './schemas.js';
import type { Notice, NoticeService } from './service.js';

export interface NoticeRoutesOptions {
  notices: NoticeService;
  /** The zone exported times are written in (the service's). */
  timeZone?: string;
}

const STATUS_WORDS: Record<string, string> = { draft: '草稿', in_review: '待审核', approved: '已通过', archived: '已归档' };
const NoticeExportQuery = Type.Omit(NoticeListQuery, ['before', 'after', 'limit']);

const withoutPath = ({ regionPath: _path, ...notice }: Notice) => notice;

export const noticeRoutes: FastifyPluginAsyncTypebox<NoticeRoutesOptions> = async (app, { notices, timeZone }) => {
  const tags = ['notices'];
  const zone = timeZone ?? 'Asia/Shanghai';

  app.get(
    '/api/notices/export',
    {
      config: allow(STAFF),
      schema: { tags, summary: '导出通告列表（.xlsx，按列表的筛选条件，全部行）', querystring: NoticeExportQuery },
    },
    async (request, reply) => {
      const scope = principal(request).scope;
      const rows = allPages(async (cursor) => {
        const cursorKey = request.query.sort === 'oldest' ? 'after' : 'before';
        const page = await notices.list(scope, { ...request.query, [cursorKey]: cursor, limit: 200 });
        return { rows: page, next: page.length === 200 ? (page.at(-1)?.id ?? null) : null };
      });
      const today = sheetTime(new Date(), zone).slice(0, 10);
      return sendSheet(
        reply,
        {
          name: `通告列表-${today}.xlsx`,
          asciiName: `notices-${today}.xlsx`,
          sheet: '通告',
          headers: ['标题', '分类', '状态', '版本', '已通过版本', '创建时间', '更新时间'],
        },
        (async function* () {
          for await (const n of rows) {
            yield [
              n.content.title,
              CATEGORY_LABELS[n.content.category],
              n.retractedAt ? '已撤回' : (STATUS_WORDS[n.status] ?? n.status),
              n.version,
              n.approvedVersion,
              sheetTime(n.createdAt, zone),
              sheetTime(n.updatedAt, zone),
            ];
          }
        })(),
      );
    },
  );

  app.get(
    '/api/notices',
    {
      config: allow(STAFF),
      schema: {
        tags,
        summary: '通知列表（管辖范围内，新的在前）',
        querystring: NoticeListQuery,
        response: { 200: Type.Array(NoticeListItem) },
      },
    },
    async (request) =>
      (await notices.list(principal(request).scope, request.query)).map((notice) => ({
        ...withoutPath(notice),
        title: notice.content.title,
        category: notice.content.category,
      })),
  );

  app.post(
    '/api/notices',
    {
      config: allow(AUTHORS),
      schema: { tags, summary: '新建通知（草稿）', body: CreateNoticeBody, response: { 201: NoticeBody } },
    },
    async (request, reply) =>
      reply.status(201).send(withoutPath(await notices.create(principal(request), request.body, request.ip))),
  );

  app.get(
    '/api/notices/:id',
    {
      config: allow(STAFF, 'notice'),
      schema: { tags, summary: '通知详情（当前工作版本）', params: IdParams, response: { 200: NoticeBody } },
    },
    async (request) => withoutPath(await notices.get(principal(request).scope, request.params.id)),
  );

  app.patch(
    '/api/notices/:id',
    {
      config: allow(AUTHORS, 'notice'),
      schema: {
        tags,
        summary: '修改通知（已审核的通知修改后成为新版本，需重新审核）',
        params: IdParams,
        body: UpdateNoticeBody,
        response: { 200: NoticeBody },
      },
    },
    async (request) =>
      withoutPath(await notices.update(principal(request), request.params.id, request.body, request.ip)),
  );

  app.post(
    '/api/notices/:id/submit',
    {
      config: allow(AUTHORS, 'notice'),
      schema: { tags, summary: '提交审核', params: IdParams, response: { 200: NoticeBody } },
    },
    async (request) => withoutPath(await notices.submit(principal(request), request.params.id, request.ip)),
  );

  app.post(
    '/api/notices/:id/approve',
    {
      config: allow(REVIEWERS, 'notice'),
      schema: {
        tags,
        summary: '审核通过（不能审核本人编写的通知）',
        params: IdParams,
        body: ReviewBody,
        response: { 200: NoticeBody },
      },
      // The note is optional, so a POST with no body at all is a plain approval.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) =>
      withoutPath(await notices.approve(principal(request), request.params.id, request.body?.note ?? null, request.ip)),
  );

  app.post(
    '/api/notices/:id/reject',
    {
      config: allow(REVIEWERS, 'notice'),
      schema: { tags, summary: '驳回（退回草稿）', params: IdParams, body: RejectBody, response: { 200: NoticeBody } },
    },
    async (request) =>
      withoutPath(await notices.reject(principal(request), request.params.id, request.body.reason, request.ip)),
  );

  app.post(
    '/api/notices/review-batch',
    {
      config: allow(REVIEWERS),
      schema: {
        tags,
        summary: '批量审核：通过或驳回多条待审核通告（逐条执行四眼原则与审计，返回每条的结果）',
        body: ReviewBatchBody,
        response: { 200: BatchResults },
      },
    },
    async (request) => {
      const by = principal(request);
      const { ids, decision, note, reason } = request.body;
      if (decision === 'reject' && !reason?.trim()) throw new InvalidInput('驳回需要填写理由', 'reason');
      return runBatch(ids, async (id) => {
        const notice =
          decision === 'approve'
            ? await notices.approve(by, id, note ?? null, request.ip)
            : await notices.reject(by, id, reason ?? '', request.ip);
        return notice.content.title;
      });
    },
  );

  app.post(
    '/api/notices/:id/archive',
    {
      config: allow(AUTHORS, 'notice'),
      schema: { tags, summary: '归档（不再发送；旧版本仍可查阅）', params: IdParams, response: { 200: NoticeBody } },
    },
    async (request) => withoutPath(await notices.archive(principal(request), request.params.id, request.ip)),
  );

  app.get(
    '/api/notices/:id/versions/:version',
    {
      config: allow(STAFF, 'notice'),
      schema: { tags, summary: '已审核的历史版本', params: VersionParams, response: { 200: NoticeVersionBody } },
    },
    async (request) => {
      const { regionPath: _path, ...version } = await notices.getVersion(
        principal(request).scope,
        request.params.id,
        request.params.version,
      );
      return version;
    },
  );

  app.get(
    '/api/notices/:id/personal-data',
    {
      config: allow(AUTHORS, 'notice'),
      schema: {
        tags,
        summary: '协查通告中的身份证号和电话（联系人电话除外），提交前须逐条确认',
        params: IdParams,
        response: { 200: PersonalDataBody },
      },
    },
    async (request) => ({ findings: await notices.personalData(principal(request).scope, request.params.id) }),
  );

  app.post(
    '/api/notices/:id/personal-data/confirm',
    {
      config: allow(AUTHORS, 'notice'),
      schema: {
        tags,
        summary: '确认这些个人信息确需公开（逐条，记入审计）',
        params: IdParams,
        body: ConfirmPersonalDataBody,
        response: { 200: PersonalDataBody },
      },
    },
    async (request) => ({
      findings: await notices.confirmPersonalData(principal(request), request.params.id, request.body.keys, request.ip),
    }),
  );
};

// The tips inbox: the case officer and the editors whose scope holds the notice read and
// handle a case's tips; every view and change is audited. (The robot that tells the case
// officer of new tips is the user's notification robot: src/notifications.)
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ANY_ROLE, STAFF } from '../auth/roles.js';
import { allow, principal } from '../http/access.js';
import { allPages, sendSheet, sheetTime } from '../http/sheet-reply.js';
import { IdParams, OkBody } from '../lib/schemas.js';
import { NoticeModel } from '../notices/model.js';
import { TipBody, TipListQuery, UpdateTipBody } from './schemas.js';
import type { TipService } from './service.js';

export interface TipRoutesOptions {
  tips: TipService;
  timeZone?: string;
}

const STATUS_WORDS: Record<string, string> = { new: '新线索', read: '已读', useful: '有价值', closed: '已关闭' };
const TipExportQuery = Type.Omit(TipListQuery, ['before', 'after', 'limit']);

// Everyone signed in may ask: the service shows a caller only the tips of cases they hold
// (the case officer's own, or the notice's scope for authors), so others see an empty inbox.
const INBOX = ANY_ROLE;

export const tipRoutes: FastifyPluginAsyncTypebox<TipRoutesOptions> = async (app, { tips, timeZone }) => {
  const tags = ['tips'];
  const zone = timeZone ?? 'Asia/Shanghai';

  app.get(
    '/api/tips/export',
    {
      config: allow(INBOX),
      schema: {
        tags,
        summary: '导出线索（.xlsx，按收件箱的筛选条件，全部行；导出记入审计）',
        querystring: TipExportQuery,
      },
    },
    async (request, reply) => {
      const by = principal(request);
      const cursorKey = request.query.sort === 'oldest' ? 'after' : 'before';
      const titles = new Map<string, string>();
      const rows = allPages(async (cursor) => {
        const page = await tips.list(by, { ...request.query, [cursorKey]: cursor, limit: 200 }, request.ip);
        const unknown = [...new Set(page.map((t) => t.noticeId))].filter((id) => !titles.has(id));
        if (unknown.length > 0) {
          const docs = await NoticeModel.find({ _id: { $in: unknown } }, { 'content.title': 1 }).lean<
            Array<{ _id: unknown; content: { title: string } }>
          >();
          for (const doc of docs) titles.set(String(doc._id), doc.content.title);
        }
        return { rows: page, next: page.length === 200 ? (page.at(-1)?.id ?? null) : null };
      });
      const today = sheetTime(new Date(), zone).slice(0, 10);
      return sendSheet(
        reply,
        {
          name: `线索-${today}.xlsx`,
          asciiName: `tips-${today}.xlsx`,
          sheet: '线索',
          headers: ['接收时间', '协查通告', '线索内容', '电话', '有照片', '状态', '办案备注'],
        },
        (async function* () {
          for await (const t of rows) {
            yield [
              sheetTime(t.receivedAt, zone),
              titles.get(t.noticeId) ?? '',
              t.text,
              t.phone,
              t.hasPhoto ? '有' : '无',
              STATUS_WORDS[t.status] ?? t.status,
              t.note,
            ];
          }
        })(),
      );
    },
  );

  app.get(
    '/api/tips',
    {
      config: allow(INBOX),
      schema: {
        tags,
        summary: '线索收件箱（办案民警本人的案件，及管辖范围内的通告；查看记入审计）',
        querystring: TipListQuery,
        response: { 200: Type.Array(TipBody) },
      },
    },
    async (request) => tips.list(principal(request), request.query, request.ip),
  );

  app.get(
    '/api/tips/:id',
    {
      config: allow(INBOX, 'tip'),
      schema: { tags, summary: '一条线索（未读的标为已读；记入审计）', params: IdParams, response: { 200: TipBody } },
    },
    async (request) => tips.get(principal(request), request.params.id, request.ip),
  );

  app.patch(
    '/api/tips/:id',
    {
      config: allow(INBOX, 'tip'),
      schema: {
        tags,
        summary: '处理线索：状态（new/read/useful/closed）和备注（记入审计）',
        params: IdParams,
        body: UpdateTipBody,
        response: { 200: TipBody },
      },
    },
    async (request) => tips.update(principal(request), request.params.id, request.body, request.ip),
  );

  app.delete(
    '/api/tips/:id',
    {
      config: allow(STAFF, 'tip'),
      schema: {
        tags,
        summary: '删除线索及其照片（办案民警或管辖范围内的管理员；记入审计，不记内容）',
        params: IdParams,
        response: { 200: OkBody },
      },
    },
    async (request) => tips.delete(principal(request), request.params.id, request.ip),
  );

  app.get(
    '/api/tips/:id/photo',
    {
      config: allow(INBOX, 'tip'),
      schema: { tags, summary: '线索照片（不公开；查看记入审计）', params: IdParams },
    },
    async (request, reply) => {
      const file = await tips.photo(principal(request), request.params.id, request.ip);
      return reply
        .header('content-type', file.info.mime)
        .header('cache-control', 'private, no-store')
        .header('x-content-type-options', 'nosniff')
        .send(file.data);
    },
  );
};

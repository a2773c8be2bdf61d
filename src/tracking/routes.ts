// Reach statistics, monthly table, campaign progress (JSON and Server-Sent Events) and exports.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { ANY_ROLE } from '../auth/roles.js';
import { allow, principal, stillAllowed } from '../http/access.js';
import { InvalidInput, TooManyRequests } from '../lib/errors.js';
import { IdParams } from '../lib/schemas.js';
import type { ExportFile, ExportService } from './exports.js';
import type { ProgressService } from './progress.js';
import type { RankingService } from './rankings.js';
import {
  FormatQuery,
  MonthlyExportQuery,
  MonthlyQuery,
  MonthlyTableSchema,
  ProgressFields,
  ProgressSchema,
  RankingQuerySchema,
  RankingsSchema,
  ReachQuerySchema,
  ReachReportSchema,
} from './schemas.js';
import { CONTENT_TYPES } from './sheet.js';
import type { Dimension, ReachStats } from './stats.js';

export interface TrackingRoutesOptions {
  stats: ReachStats;
  rankings: RankingService;
  progress: ProgressService;
  exports: ExportService;
  /** How often the progress stream sends an update, and for how long at most. */
  streamIntervalMs?: number;
  streamMaxMs?: number;
  /** Progress streams one user may hold open at once (per API process). */
  streamsPerUser?: number;
  /** How the stream waits between updates (tests pass a gate they open, instead of sleeping). */
  streamWait?: (ms: number) => Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The monthly table's period: `period`, or the older `month`. */
function periodOf(query: { period?: string; month?: string }): string {
  const period = query.period ?? query.month;
  if (!period) throw new InvalidInput('请选择统计期：月份、季度或年份', 'period');
  return period;
}

/** attachment; an ASCII fallback name and the real (Chinese) one per RFC 6266 / 5987. */
function disposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

function sendFile(reply: FastifyReply, file: ExportFile) {
  file.done.catch((error: unknown) => {
    reply.log.error({ err: error }, 'export failed while streaming');
    file.writer.stream.destroy(error as Error);
  });
  return reply
    .header('content-type', CONTENT_TYPES[file.format])
    .header('content-disposition', disposition(file.filename))
    .header('cache-control', 'no-store')
    .send(file.writer.stream);
}

export const trackingRoutes: FastifyPluginAsyncTypebox<TrackingRoutesOptions> = async (app, options) => {
  const { stats, rankings, progress, exports } = options;
  const tags = ['tracking'];
  const intervalMs = options.streamIntervalMs ?? 1000;
  const maxMs = options.streamMaxMs ?? 30 * 60_000;
  const perUser = options.streamsPerUser ?? 3;
  const wait = options.streamWait ?? sleep;
  const openStreams = new Map<string, number>();

  app.get(
    '/api/reach',
    {
      config: allow(ANY_ROLE),
      schema: {
        tags,
        summary: '触达统计：发送消息数、触达群数、触达村数、受教育人次、失败等，可按日/月/地区/类别/推送分组',
        querystring: ReachQuerySchema,
        response: { 200: ReachReportSchema },
      },
    },
    async (request) => {
      const { groupBy, ...rest } = request.query;
      const dims = (groupBy ?? '').split(',').filter(Boolean) as Dimension[];
      return stats.report(principal(request).scope, { ...rest, groupBy: dims });
    },
  );

  app.get(
    '/api/reach/rankings',
    {
      config: allow(ANY_ROLE),
      schema: {
        tags,
        summary: '排名：各乡镇（派出所辖区）与各民警的人工转发确认率（期内生成的任务）',
        querystring: RankingQuerySchema,
        response: { 200: RankingsSchema },
      },
    },
    async (request) => rankings.rankings(principal(request).scope, request.query),
  );

  app.get(
    '/api/reach/monthly',
    {
      config: allow(ANY_ROLE),
      schema: {
        tags,
        summary: '月度统计表（按乡镇）',
        querystring: MonthlyQuery,
        response: { 200: MonthlyTableSchema },
      },
    },
    async (request) => {
      const period = periodOf(request.query);
      return { month: period, ...(await exports.monthlyTable(principal(request), period, request.query.regionCode)) };
    },
  );

  app.get(
    '/api/reach/monthly/export',
    {
      config: allow(ANY_ROLE),
      schema: { tags, summary: '导出月度统计表（xlsx / csv）', querystring: MonthlyExportQuery },
    },
    async (request, reply) => {
      const { format, regionCode } = request.query;
      return sendFile(
        reply,
        await exports.exportMonthly(principal(request), periodOf(request.query), format ?? 'xlsx', regionCode, request.ip),
      );
    },
  );

  app.get(
    '/api/campaigns/:id/deliveries/export',
    {
      config: allow(ANY_ROLE, 'campaign'),
      schema: { tags, summary: '导出推送发送明细（xlsx / csv）', params: IdParams, querystring: FormatQuery },
    },
    async (request, reply) =>
      sendFile(
        reply,
        await exports.exportDeliveries(
          principal(request),
          request.params.id,
          request.query.format ?? 'xlsx',
          request.ip,
        ),
      ),
  );

  app.get(
    '/api/campaigns/summaries',
    {
      config: allow(ANY_ROLE),
      schema: {
        tags,
        summary: '一页推送的进度与触达（列表的“进度”“触达”列）',
        querystring: Type.Object(
          { ids: Type.String({ maxLength: 2600, pattern: '^[0-9a-fA-F]{24}(,[0-9a-fA-F]{24}){0,99}$', description: '推送 ID，逗号分隔，最多 100 个' }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Array(
            Type.Object({ campaignId: Type.String(), ...ProgressFields }),
          ),
        },
      },
    },
    async (request) => progress.summaries(principal(request).scope, [...new Set(request.query.ids.split(','))]),
  );

  app.get(
    '/api/campaigns/:id/progress',
    {
      config: allow(ANY_ROLE, 'campaign'),
      schema: { tags, summary: '推送实时进度', params: IdParams, response: { 200: ProgressSchema } },
    },
    async (request) => progress.progress(principal(request).scope, request.params.id),
  );

  app.get(
    '/api/campaigns/:id/progress/stream',
    {
      config: allow(ANY_ROLE, 'campaign'),
      schema: { tags, summary: '推送实时进度（Server-Sent Events，约每秒一次，完成后结束）', params: IdParams },
    },
    async (request, reply) => {
      const me = principal(request);
      const scope = me.scope;
      const id = request.params.id;
      // The first read happens before the stream opens, so an unknown campaign is a plain 404.
      let current = await progress.progress(scope, id);
      const holding = openStreams.get(me.id) ?? 0;
      if (holding >= perUser) {
        throw new TooManyRequests(`同时打开的实时进度过多（最多 ${perUser} 个），请关闭其他页面后再试`, 10);
      }
      openStreams.set(me.id, holding + 1);
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let closed = false;
      request.raw.on('close', () => {
        closed = true;
      });
      const started = Date.now();
      for (;;) {
        reply.raw.write(`event: progress\ndata: ${JSON.stringify(current)}\n\n`);
        if (current.finished || closed || Date.now() - started > maxMs) break;
        await wait(intervalMs);
        if (closed) break;
        // A logout, deactivation or change of role or scope ends the stream at the next update.
        if (!(await stillAllowed(request))) {
          reply.raw.write(
            `event: error\ndata: ${JSON.stringify({ message: '登录已失效，实时进度已停止，请重新登录' })}\n\n`,
          );
          break;
        }
        try {
          current = await progress.progress(scope, id);
        } catch (error) {
          request.log.error({ err: error }, 'progress stream read failed');
          reply.raw.write(`event: error\ndata: ${JSON.stringify({ message: '读取进度失败，请刷新重试' })}\n\n`);
          break;
        }
      }
      // Nothing in the loop throws (reads are caught), so the count always comes back down.
      const left = (openStreams.get(me.id) ?? 1) - 1;
      if (left > 0) openStreams.set(me.id, left);
      else openStreams.delete(me.id);
      if (!closed) reply.raw.write('event: end\ndata: {}\n\n');
      reply.raw.end();
    },
  );
};

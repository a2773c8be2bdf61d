// Manual-channel tasks: officers list theirs; the signed link shows one task (with its
// picture) and confirms it without a login (the signature is the authority).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuditService } from '../audit/service.js';
import { ADMINS, STAFF, TASK_LINK_HOLDERS } from '../auth/roles.js';
import { PUBLIC, allow, principal } from '../http/access.js';
import { DateTime, IdParams, Nullable, ObjectIdString } from '../lib/schemas.js';
import type { CountyOfficerTextService } from './manual/county-text.js';
import type { ManualTaskService } from './manual/tasks.js';
import { CountyParams, countyInScope } from '../regions/county.js';
import type { RegionService } from '../regions/service.js';
import type { Scope } from '../regions/scope.js';

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
  state: Type.Union(
    [Type.Literal('open'), Type.Literal('paused'), Type.Literal('confirmed'), Type.Literal('withdrawn')],
    {
      description: 'open 待转发；paused 推送已暂停；confirmed 已确认；withdrawn 已撤回（请勿转发）',
    },
  ),
  withdrawnReason: Nullable(
    Type.Union([
      Type.Literal('retracted'),
      Type.Literal('cancelled'),
      Type.Literal('case_closed'),
      Type.Literal('archived'),
    ]),
  ),
  link: Nullable(Type.String({ description: '签名链接：仅在登录后的任务列表中发给民警和管理员，公开查看从不返回' })),
});

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * The phone page's gate: a task link (`/task/:id?exp=&sig=`) of a withdrawn task answers 410
 * with a page that says so, before the console loads; any other link gets the console.
 */
export function taskPageGate(manualTasks: ManualTaskService) {
  return async (url: string): Promise<{ status: number; html: string } | null> => {
    const parsed = new URL(url, 'http://local');
    const match = /^\/task\/([^/]+)$/.exec(parsed.pathname);
    const exp = Number(parsed.searchParams.get('exp'));
    const sig = parsed.searchParams.get('sig');
    if (!match || !sig || !Number.isInteger(exp) || exp < 0 || sig.length > 128) return null;
    const problem = await manualTasks.linkProblem(decodeURIComponent(match[1]!), { exp, sig });
    if (!problem) return null;
    // A link retired by its own confirmation: the officer reopening it sees when, not a warning.
    const heading = problem.confirmed ? '已确认转发' : '已撤回，请勿转发';
    const colour = problem.confirmed ? '#1e7e34' : '#c0392b';
    const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>转发任务${heading}</title>
<style>body{font:17px/1.6 system-ui,sans-serif;margin:0;padding:32px 20px;color:#1f2329}h1{font-size:22px;color:${colour};margin:0 0 12px}</style></head>
<body><main><h1>${heading}</h1><p>${escapeHtml(problem.message)}</p></main></body></html>`;
    return { status: problem.status, html };
  };
}

const OfficerTextReply = Type.Object({
  countyCode: Type.String(),
  withoutLink: Type.Boolean({ description: '民警转发的文字不带链接（图片上的二维码已含链接）' }),
  updatedAt: Nullable(DateTime),
  updatedBy: Nullable(Type.String()),
});
const OfficerTextBody = Type.Object(
  { withoutLink: Type.Boolean({ description: '民警转发的文字不带链接' }) },
  { additionalProperties: false },
);

export const channelRoutes: FastifyPluginAsyncTypebox<{
  manualTasks: ManualTaskService;
  countyTexts: CountyOfficerTextService;
  regions: RegionService;
  audit: AuditService;
}> = async (app, { manualTasks, countyTexts, regions, audit }) => {
  const county = (code: string, scope: Scope) => countyInScope(regions, scope, code, '民警转发文字按区县设置，请选择区县');

  app.get(
    '/api/regions/:code/officer-text',
    {
      config: allow(ADMINS, 'region'),
      schema: {
        tags: ['manual-tasks'],
        summary: '区县民警转发文字的设置（是否带链接）',
        params: CountyParams,
        response: { 200: OfficerTextReply },
      },
    },
    async (request) => {
      const region = await county(request.params.code, principal(request).scope);
      return countyTexts.get(region.code);
    },
  );

  app.put(
    '/api/regions/:code/officer-text',
    {
      config: allow(ADMINS, 'region'),
      schema: {
        tags: ['manual-tasks'],
        summary: '设置区县民警转发文字是否带链接',
        description: '不带链接时，民警转发的文字末尾不附链接，居民扫图片上的二维码查看全文。',
        params: CountyParams,
        body: OfficerTextBody,
        response: { 200: OfficerTextReply },
      },
    },
    async (request) => {
      const by = principal(request);
      const region = await county(request.params.code, by.scope);
      const view = await countyTexts.set(region.code, request.body.withoutLink, by.username);
      await audit.record({
        actor: by,
        action: 'officer-text.change',
        target: { kind: 'region', id: region.code },
        ip: request.ip,
        regionPath: region.regionPath,
        details: { withoutLink: view.withoutLink },
      });
      return view;
    },
  );

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
            before: Type.Optional({
              ...ObjectIdString,
              description: '翻页：从此任务之后接着列（上一页最后一个任务的 ID；新的在前；open=true 时不用）',
            }),
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
    '/api/manual-tasks/:id/revoke-links',
    {
      config: allow(ADMINS, 'manual-task'),
      schema: {
        tags: ['channels'],
        summary: '收回转发任务已发出的全部链接（管理员）',
        description: '此前发出的签名链接全部失效；民警可在登录后的转发任务列表中重新打开该任务。',
        params: IdParams,
        response: { 200: TaskBody },
      },
    },
    async (request) => {
      const caller = principal(request);
      const task = await manualTasks.revokeLinks(caller.scope, request.params.id);
      await audit.record({
        actor: caller,
        action: 'manual-task.revoke-links',
        target: { kind: 'manual-task', id: task.id },
        ip: request.ip,
        regionPath: task.regionPath,
        details: { groupId: task.groupId },
      });
      return task;
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
          // At the task's region: the county admins whose task it was see it (issue 26.12).
          regionPath: task.regionPath,
          details: { groupId: task.groupId, officer: task.officer?.name ?? null },
        });
      }
      return { confirmedAt: task.confirmedAt!, firstTime };
    },
  );
};

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { PUBLIC, allow, principal } from '../http/access.js';
import { allPages, sendSheet, sheetTime } from '../http/sheet-reply.js';
import { IdParams, OkBody } from '../lib/schemas.js';
import { ADMINS, ANY_ROLE, AUTHORS, ROLE_LABELS } from './roles.js';
import { ChangePasswordBody, CreateUserBody, LoginBody, LoginReply, UpdateUserBody, UserBody, UserListQuery } from './schemas.js';
import type { SessionService } from './sessions.js';
import type { UserService } from './users.js';

export interface AuthRoutesOptions {
  sessions: SessionService;
  users: UserService;
  /** Per-address login (and password-change) attempts per minute, in front of LoginThrottle's delays. */
  loginRatePerMinute: number;
  /** Region names by code (the regions service). */
  regionNames(codes: string[]): Promise<Map<string, string>>;
}

const NamesQuery = Type.Object(
  {
    // ASCII only, so the longest allowed query stays far inside Node's 16 KB header limit (a
    // value in Chinese characters percent-encodes nine bytes each: 431, not 400; fuzz ST103).
    regions: Type.Optional(Type.String({ maxLength: 4000, pattern: '^[0-9A-Za-z, _-]*$', description: '地区代码，逗号分隔' })),
    users: Type.Optional(Type.String({ maxLength: 6000, pattern: '^[0-9A-Za-z, _-]*$', description: '用户 ID，逗号分隔' })),
  },
  { additionalProperties: false },
);
const NamesReply = Type.Object({
  regions: Type.Record(Type.String(), Type.String()),
  users: Type.Record(
    Type.String(),
    Type.Object({ displayName: Type.String(), unit: Type.String(), role: Type.String() }),
  ),
});
const listOf = (text: string | undefined, max: number) =>
  [...new Set((text ?? '').split(',').map((s) => s.trim()).filter(Boolean))].slice(0, max);

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  const { sessions, users } = options;

  app.get(
    '/api/names',
    {
      config: allow(ANY_ROLE),
      schema: {
        tags: ['auth'],
        summary: '地区名称与用户姓名（按代码 / ID 查，供界面显示名称而非代码）',
        querystring: NamesQuery,
        response: { 200: NamesReply },
      },
    },
    async (request) => {
      const people = await users.people(listOf(request.query.users, 200));
      const codes = [...listOf(request.query.regions, 300), ...people.map((p) => p.regionCode)];
      const names = await options.regionNames([...new Set(codes)]);
      return {
        regions: Object.fromEntries(names),
        users: Object.fromEntries(
          people.map((p) => [p.id, { displayName: p.displayName, unit: names.get(p.regionCode) ?? '', role: p.role }]),
        ),
      };
    },
  );

  app.post(
    '/api/auth/login',
    {
      config: { ...PUBLIC, rateLimit: { max: options.loginRatePerMinute, timeWindow: 60_000 } },
      schema: { tags: ['auth'], summary: '登录', body: LoginBody, response: { 200: LoginReply } },
    },
    async (request) => sessions.login(request.body.username, request.body.password, request.ip),
  );

  app.post(
    '/api/auth/logout',
    {
      config: allow(ANY_ROLE),
      schema: { tags: ['auth'], summary: '退出登录（令牌立即失效）', response: { 200: OkBody } },
    },
    async (request) => {
      await sessions.logout(request.bearerToken!, principal(request), request.ip);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/auth/me',
    { config: allow(ANY_ROLE), schema: { tags: ['auth'], summary: '当前用户', response: { 200: UserBody } } },
    async (request) => {
      const me = principal(request);
      return users.get(me.scope, me.id);
    },
  );

  app.post(
    '/api/auth/password',
    {
      config: { ...allow(ANY_ROLE), rateLimit: { max: options.loginRatePerMinute, timeWindow: 60_000 } },
      schema: { tags: ['auth'], summary: '修改本人密码', body: ChangePasswordBody, response: { 200: OkBody } },
    },
    async (request) => {
      await users.changeOwnPassword(
        principal(request),
        request.body.currentPassword,
        request.body.newPassword,
        request.ip,
      );
      return { ok: true as const };
    },
  );

  app.get(
    '/api/users',
    {
      config: allow(ADMINS),
      schema: {
        tags: ['users'],
        summary: '用户列表（按游标分页，可按角色、状态、区划、文字筛选）',
        querystring: UserListQuery,
        response: { 200: Type.Array(UserBody) },
      },
    },
    async (request) => users.list(principal(request).scope, request.query),
  );

  // The 办案民警 picker of a 协查通告: authors may not list users, but may name an officer of
  // their scope as the case's contact (a resident's tip is then told to that officer).
  app.get(
    '/api/officers',
    {
      config: allow(AUTHORS),
      schema: {
        tags: ['users'],
        summary: '本人管辖范围内启用的民警（供协查通告选择办案民警）',
        querystring: Type.Object(
          {
            q: Type.Optional(Type.String({ maxLength: 64, description: '姓名、登录名或电话包含的文字' })),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Array(Type.Object({ id: Type.String(), displayName: Type.String(), unit: Type.String({ description: '所属区划名称' }) })),
        },
      },
    },
    async (request) => {
      const { q, limit } = request.query;
      const found = await users.list(principal(request).scope, { role: 'officer', active: true, limit, ...(q ? { q } : {}) });
      const names = await options.regionNames([...new Set(found.map((u) => u.regionCode))]);
      return found.map((u) => ({ id: u.id, displayName: u.displayName, unit: names.get(u.regionCode) ?? '' }));
    },
  );

  app.get(
    '/api/users/export',
    {
      config: allow(ADMINS),
      schema: {
        tags: ['users'],
        summary: '导出用户列表（.xlsx，按列表的筛选条件，全部行）',
        querystring: Type.Omit(UserListQuery, ['before', 'after', 'limit']),
      },
    },
    async (request, reply) => {
      const scope = principal(request).scope;
      const zone = 'Asia/Shanghai';
      const rows = allPages(async (cursor) => {
        const cursorKey = request.query.sort === 'newest' ? 'before' : 'after';
        const page = await users.list(scope, { ...request.query, [cursorKey]: cursor, limit: 200 });
        const names = await options.regionNames([...new Set(page.map((u) => u.regionCode))]);
        return {
          rows: page.map((u) => ({ ...u, place: names.get(u.regionCode) ?? u.regionCode })),
          next: page.length === 200 ? (page.at(-1)?.id ?? null) : null,
        };
      });
      const today = sheetTime(new Date(), zone).slice(0, 10);
      return sendSheet(
        reply,
        {
          name: `用户列表-${today}.xlsx`,
          asciiName: `users-${today}.xlsx`,
          sheet: '用户',
          headers: ['登录名', '姓名', '角色', '管辖范围', '电话', '状态', '创建时间'],
        },
        (async function* () {
          for await (const u of rows) {
            yield [u.username, u.displayName, ROLE_LABELS[u.role], u.place, u.phone ?? '', u.active ? '正常' : '已停用', sheetTime(u.createdAt, zone)];
          }
        })(),
      );
    },
  );

  app.post(
    '/api/users',
    {
      config: allow(ADMINS),
      schema: { tags: ['users'], summary: '新建用户', body: CreateUserBody, response: { 201: UserBody } },
    },
    async (request, reply) => reply.status(201).send(await users.create(principal(request), request.body, request.ip)),
  );

  app.get(
    '/api/users/:id',
    {
      config: allow(ADMINS, 'user'),
      schema: { tags: ['users'], summary: '用户详情', params: IdParams, response: { 200: UserBody } },
    },
    async (request) => users.get(principal(request).scope, request.params.id),
  );

  app.patch(
    '/api/users/:id',
    {
      config: allow(ADMINS, 'user'),
      schema: {
        tags: ['users'],
        summary: '修改用户（角色、地区、停用、重置密码）',
        params: IdParams,
        body: UpdateUserBody,
        response: { 200: UserBody },
      },
    },
    async (request) => users.update(principal(request), request.params.id, request.body, request.ip),
  );

  app.post(
    '/api/users/:id/unlock',
    {
      config: allow(ADMINS, 'user'),
      schema: {
        tags: ['users'],
        summary: '解除登录限制（清除该账号在所有地址的失败登录计数）',
        params: IdParams,
        response: { 200: Type.Object({ cleared: Type.Integer({ description: '清除的计数条数' }) }) },
      },
    },
    async (request) => users.unlock(principal(request), request.params.id, request.ip),
  );
};

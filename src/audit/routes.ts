import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import mongoose from 'mongoose';
import { GroupModel } from '../audience/model.js';
import { UserModel } from '../auth/model.js';
import { ADMINS } from '../auth/roles.js';
import { CampaignModel } from '../campaigns/model.js';
import { allow, principal } from '../http/access.js';
import { mapLimit } from '../lib/concurrency.js';
import { Nullable } from '../lib/schemas.js';
import { NoticeModel } from '../notices/model.js';
import { regionNamesOf } from '../regions/directory.js';
import { AuditEntryBody, AuditQuery } from './schemas.js';
import type { AuditEntry, AuditService } from './service.js';

const AuditEntryReply = Type.Composite([
  AuditEntryBody,
  Type.Object({ targetName: Nullable(Type.String({ description: '对象的名称（通告标题、群名、用户姓名、地区名）' })) }),
]);

/** A kind's names by `_id`, one read per target (on FerretDB an `$in` on `_id` reads the whole collection). */
async function namesById(
  model: { findById: (id: string, fields: unknown) => { lean: <R>() => Promise<R> } },
  ids: string[],
  field: string,
  name: (doc: Record<string, unknown>) => string | undefined,
): Promise<[string, string | undefined][]> {
  const valid = ids.filter((id) => mongoose.isValidObjectId(id));
  return mapLimit(valid, 8, async (id) => {
    const doc = await model.findById(id, { [field]: 1 }).lean<Record<string, unknown> | null>();
    return [id, doc ? name(doc) : undefined] as [string, string | undefined];
  });
}

/** The names of a page's targets: the console shows 「石牌村平安群1」, not an id. */
async function targetNames(entries: AuditEntry[]): Promise<Map<string, string>> {
  const ids = (kind: string) => [
    ...new Set(entries.filter((e) => e.targetKind === kind && e.targetId).map((e) => e.targetId as string)),
  ];
  const names = new Map<string, string>();
  const put = (kind: string, id: unknown, name: string | undefined) => {
    if (name) names.set(`${kind}:${String(id)}`, name);
  };
  const [notices, campaigns, groups, users, regions] = await Promise.all([
    namesById(NoticeModel as never, ids('notice'), 'content.title', (d) => (d.content as { title?: string })?.title),
    namesById(CampaignModel as never, ids('campaign'), 'title', (d) => d.title as string | undefined),
    namesById(GroupModel as never, ids('group'), 'name', (d) => d.name as string | undefined),
    namesById(UserModel as never, ids('user'), 'displayName', (d) => d.displayName as string | undefined),
    ids('region').length > 0 ? regionNamesOf(ids('region')) : new Map<string, string>(),
  ]);
  for (const [id, name] of notices) put('notice', id, name);
  for (const [id, name] of campaigns) put('campaign', id, name);
  for (const [id, name] of groups) put('group', id, name);
  for (const [id, name] of users) put('user', id, name);
  for (const [code, name] of regions) put('region', code, name);
  return names;
}

export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: AuditService }> = async (app, { audit }) => {
  app.get(
    '/api/audit',
    {
      config: allow(ADMINS),
      schema: {
        tags: ['audit'],
        summary: '审计日志（新的在前；用 before 翻页）',
        querystring: AuditQuery,
        response: { 200: Type.Array(AuditEntryReply) },
      },
    },
    async (request) => {
      const { from, to, ...rest } = request.query;
      const entries = await audit.list(principal(request).scope, {
        ...rest,
        from: from ? new Date(from) : undefined,
        to: to ? new Date(to) : undefined,
      });
      const names = await targetNames(entries);
      return entries.map((e) => ({ ...e, targetName: names.get(`${e.targetKind}:${e.targetId}`) ?? null }));
    },
  );
};

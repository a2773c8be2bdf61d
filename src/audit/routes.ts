import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import mongoose from 'mongoose';
import { GroupModel } from '../audience/model.js';
import { UserModel } from '../auth/model.js';
import { ADMINS } from '../auth/roles.js';
import { CampaignModel } from '../campaigns/model.js';
import { allow, principal } from '../http/access.js';
import { Nullable } from '../lib/schemas.js';
import { NoticeModel } from '../notices/model.js';
import { regionNamesOf } from '../regions/directory.js';
import { AuditEntryBody, AuditQuery } from './schemas.js';
import type { AuditEntry, AuditService } from './service.js';

const AuditEntryReply = Type.Composite([
  AuditEntryBody,
  Type.Object({ targetName: Nullable(Type.String({ description: '对象的名称（通告标题、群名、用户姓名、地区名）' })) }),
]);

const objectIds = (ids: string[]) =>
  ids.filter((id) => mongoose.isValidObjectId(id)).map((id) => new mongoose.Types.ObjectId(id));

/** The names of a page's targets, read once per kind: the console shows 「石牌村平安群1」, not an id. */
async function targetNames(entries: AuditEntry[]): Promise<Map<string, string>> {
  const ids = (kind: string) => [
    ...new Set(entries.filter((e) => e.targetKind === kind && e.targetId).map((e) => e.targetId as string)),
  ];
  const names = new Map<string, string>();
  const put = (kind: string, id: unknown, name: string | undefined) => {
    if (name) names.set(`${kind}:${String(id)}`, name);
  };
  const [notices, campaigns, groups, users, regions] = await Promise.all([
    NoticeModel.find({ _id: { $in: objectIds(ids('notice')) } }, { 'content.title': 1 }).lean<
      Array<{ _id: unknown; content: { title: string } }>
    >(),
    CampaignModel.find({ _id: { $in: objectIds(ids('campaign')) } }, { title: 1 }).lean<
      Array<{ _id: unknown; title: string }>
    >(),
    GroupModel.find({ _id: { $in: objectIds(ids('group')) } }, { name: 1 }).lean<
      Array<{ _id: unknown; name: string }>
    >(),
    UserModel.find({ _id: { $in: objectIds(ids('user')) } }, { displayName: 1 }).lean<
      Array<{ _id: unknown; displayName: string }>
    >(),
    regionNamesOf(ids('region')),
  ]);
  for (const n of notices) put('notice', n._id, n.content?.title);
  for (const c of campaigns) put('campaign', c._id, c.title);
  for (const g of groups) put('group', g._id, g.name);
  for (const u of users) put('user', u._id, u.displayName);
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

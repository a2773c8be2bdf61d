// Import and export of the directory as .xlsx/.csv sheets.
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { AuditService } from '../../audit/service.js';
import type { Principal } from '../../auth/principal.js';
import { ADMINS } from '../../auth/roles.js';
import { allow, principal } from '../../http/access.js';
import type { Clock } from '../../lib/clock.js';
import { Conflict, InvalidInput, isDuplicateKey, PayloadTooLarge } from '../../lib/errors.js';
import { RegionCode } from '../../regions/schemas.js';
import type { GroupService } from '../groups.js';
import { CHANNEL_KINDS } from '../../channels/credentials.js';
import { Nullable } from '../../lib/schemas.js';
import { exportGroups, exportRegions } from './export.js';
import { groupImportTemplate } from './template.js';
import { importGroups } from './import-groups.js';
import { importRegions } from './import-regions.js';
import { readSheet, type SheetRow } from './read-sheet.js';
import type { ImportReport } from './report.js';

/** Staff sheets are a few MB at most; a province's 50,000 groups is about 5 MB of xlsx. */
export const MAX_SHEET_BYTES = 20 * 1024 * 1024;

const ImportQuery = Type.Object(
  {
    dryRun: Type.Boolean({ default: false, description: '只检查不写入' }),
    partial: Type.Boolean({ default: false, description: '有错误行时仍导入正确的行' }),
  },
  { additionalProperties: false },
);

const GroupImportQuery = Type.Object(
  {
    ...ImportQuery.properties,
    defaultChannel: Type.Union(
      CHANNEL_KINDS.map((kind) => Type.Literal(kind)),
      { default: 'manual', description: '表中没有渠道列时新群的渠道（默认人工转发：个人微信群）' },
    ),
    regionCode: Type.Optional({
      ...RegionCode,
      description: '按乡镇和村名查找村（社区）的范围（县）；默认为表中代码所在的县',
    }),
  },
  { additionalProperties: false },
);

const ImportReportBody = Type.Object({
  dryRun: Type.Boolean(),
  applied: Type.Boolean(),
  rows: Type.Integer(),
  created: Type.Integer(),
  updated: Type.Integer(),
  unchanged: Type.Integer(),
  rejected: Type.Integer(),
  errors: Type.Array(
    Type.Object({ row: Type.Integer(), column: Type.Optional(Type.String()), message: Type.String() }),
  ),
  ignoredColumns: Type.Array(Type.String()),
  villagesCreated: Type.Optional(Type.Integer({ description: '按表中代码在所属乡镇下新建的村（社区）数' })),
  totals: Type.Optional(
    Type.Array(
      Type.Object({
        row: Type.Integer(),
        memberCount: Nullable(Type.Integer()),
        countedMembers: Type.Optional(Type.Integer({ description: '表中各群人数之和，供核对' })),
      }),
      { description: '表中的合计行（不导入）' },
    ),
  ),
});

const ExportQuery = Type.Object(
  {
    format: Type.Union([Type.Literal('xlsx'), Type.Literal('csv')], { default: 'xlsx' }),
    regionCode: Type.Optional(RegionCode),
  },
  { additionalProperties: false },
);

async function uploadedRows(request: FastifyRequest): Promise<{ rows: SheetRow[]; filename: string }> {
  if (!request.isMultipart()) throw new InvalidInput('请以 multipart/form-data 上传文件（字段名 file）', 'file');
  const file = await request.file();
  if (!file) throw new InvalidInput('没有收到文件（字段名 file）', 'file');
  let data: Buffer;
  try {
    data = await file.toBuffer();
  } catch (error) {
    if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
      throw new PayloadTooLarge(`文件超过 ${MAX_SHEET_BYTES / 1024 / 1024}MB 上限，请按乡镇拆分后分批导入`, 'file');
    }
    throw error;
  }
  return { rows: await readSheet(data, file.filename), filename: file.filename };
}

/** 422 when rows had errors and nothing was written: the report says which and why. */
function statusOf(report: ImportReport): 200 | 422 {
  return !report.dryRun && !report.applied ? 422 : 200;
}

const MIME = {
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  csv: 'text/csv; charset=utf-8',
};

export interface SheetRoutesOptions {
  groups: GroupService;
  audit: AuditService;
  clock: Clock;
}

export const sheetRoutes: FastifyPluginAsyncTypebox<SheetRoutesOptions> = async (app, { groups, audit, clock }) => {
  const recordImport = (
    action: string,
    by: Principal,
    ip: string,
    filename: string,
    report: { created: number; updated: number; rejected: number },
  ) =>
    audit.record({
      actor: by,
      action,
      ip,
      details: { filename, created: report.created, updated: report.updated, rejected: report.rejected },
    });

  await app.register(multipart, { limits: { fileSize: MAX_SHEET_BYTES, files: 1, fields: 4, parts: 5 } });

  app.post(
    '/api/groups/import',
    {
      config: allow(ADMINS),
      schema: {
        tags: ['groups'],
        summary: '导入群台账（.xlsx/.csv；可先试导入 dryRun=true）',
        consumes: ['multipart/form-data'],
        querystring: GroupImportQuery,
        response: { 200: ImportReportBody, 422: ImportReportBody },
      },
    },
    async (request, reply) => {
      const by = principal(request);
      const { rows, filename } = await uploadedRows(request);
      const report = await importGroups(groups, clock, by.scope, rows, request.query).catch((error) => {
        if (isDuplicateKey(error)) throw new Conflict('导入时有人同时新建了同名的群，请重新导入（重复导入是安全的）');
        throw error;
      });
      if (report.applied) await recordImport('group.import', by, request.ip, filename, report);
      return reply.status(statusOf(report)).send(report);
    },
  );

  app.post(
    '/api/regions/import',
    {
      config: allow(ADMINS),
      schema: {
        tags: ['regions'],
        summary: '导入地区（区划代码、名称、上级代码、经纬度）',
        consumes: ['multipart/form-data'],
        querystring: ImportQuery,
        response: { 200: ImportReportBody, 422: ImportReportBody },
      },
    },
    async (request, reply) => {
      const by = principal(request);
      const { rows, filename } = await uploadedRows(request);
      const report = await importRegions(by.scope, rows, request.query).catch((error) => {
        if (isDuplicateKey(error))
          throw new Conflict('导入时有人同时新建了相同代码的地区，请重新导入（重复导入是安全的）');
        throw error;
      });
      if (report.applied) await recordImport('region.import', by, request.ip, filename, report);
      return reply.status(statusOf(report)).send(report);
    },
  );

  app.get(
    '/api/groups/import-template',
    {
      config: allow(ADMINS),
      schema: { tags: ['groups'], summary: '下载群台账导入模板（.xlsx：可用列名与示例行）' },
    },
    async (_request, reply) =>
      reply
        .type(MIME.xlsx)
        .header('content-disposition', `attachment; filename="group-import-template.xlsx"`)
        .send(await groupImportTemplate()),
  );

  app.get(
    '/api/groups/export',
    {
      config: allow(ADMINS),
      schema: { tags: ['groups'], summary: '导出群台账（不含凭据）', querystring: ExportQuery },
    },
    async (request, reply) => {
      const by = principal(request);
      const { format, regionCode } = request.query;
      const file = await exportGroups(by.scope, format, regionCode);
      await audit.record({
        actor: by,
        action: 'group.export',
        ip: request.ip,
        details: { format, regionCode: regionCode ?? null },
      });
      return reply
        .type(MIME[format])
        .header('content-disposition', `attachment; filename="groups.${format}"`)
        .send(file);
    },
  );

  app.get(
    '/api/regions/export',
    {
      config: allow(ADMINS),
      schema: { tags: ['regions'], summary: '导出地区', querystring: ExportQuery },
    },
    async (request, reply) => {
      const by = principal(request);
      const { format } = request.query;
      const file = await exportRegions(by.scope, format);
      await audit.record({ actor: by, action: 'region.export', ip: request.ip, details: { format } });
      return reply
        .type(MIME[format])
        .header('content-disposition', `attachment; filename="regions.${format}"`)
        .send(file);
    },
  );
};

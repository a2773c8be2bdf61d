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
import { importReportSheet } from './report-sheet.js';
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

const RowErrorBody = Type.Object({
  row: Type.Integer(),
  column: Type.Optional(Type.String()),
  message: Type.String(),
  cause: Type.Optional(Type.String()),
});
const CandidateBody = Type.Object({ code: Type.String(), name: Type.String() });

export const ImportReportBody = Type.Object({
  dryRun: Type.Boolean(),
  applied: Type.Boolean(),
  rows: Type.Integer(),
  created: Type.Integer(),
  updated: Type.Integer(),
  unchanged: Type.Integer(),
  rejected: Type.Integer(),
  errors: Type.Array(RowErrorBody),
  ignoredColumns: Type.Array(Type.String()),
  villagesCreated: Type.Optional(Type.Integer({ description: '在所属乡镇下新建（试导入：将新建）的村（社区）数' })),
  townshipsCreated: Type.Optional(Type.Integer({ description: '新建的本地乡镇数（townships 中为 "new" 的名称）' })),
  county: Type.Optional(Nullable(CandidateBody)),
  townships: Type.Optional(
    Type.Array(
      Type.Object({
        name: Type.String({ description: '表中的乡镇名称' }),
        rows: Type.Integer({ description: '用到该名称的行数' }),
        candidates: Type.Array(CandidateBody, { description: '候选乡镇，最可能的在前' }),
      }),
      {
        description:
          '表中与地区树不完全一致的乡镇名称（每个名称一项）；导入时以 multipart 字段 townships（JSON：表中名称 → 乡镇代码或 "new"）确认，确认后记住',
      },
    ),
  ),
  villages: Type.Optional(
    Type.Array(
      Type.Object({
        township: CandidateBody,
        name: Type.String(),
        rows: Type.Integer(),
        action: Type.Union([Type.Literal('create'), Type.Literal('confirm')], {
          description: 'create：导入时新建；confirm：与官方村名相近，需以 villages 字段（"乡镇/村" → 村代码或 "new"）确认',
        }),
        code: Type.Optional(Type.String({ description: '新建时的代码' })),
        candidates: Type.Array(CandidateBody),
      }),
      { description: '乡镇下没有的村（社区）' },
    ),
  ),
  problems: Type.Optional(
    Type.Array(
      Type.Object({
        cause: Type.String(),
        title: Type.String(),
        count: Type.Integer({ description: '涉及的行数' }),
        rows: Type.Array(Type.Integer(), { description: '涉及的行号（最多 200 个）' }),
        example: Type.String(),
        warning: Type.Optional(Type.Boolean({ description: '只是提示，不妨碍导入' })),
      }),
      { description: '按原因归类的问题' },
    ),
  ),
  warnings: Type.Optional(Type.Array(RowErrorBody)),
  summary: Type.Optional(Type.String({ description: '一句话小结：可导入 N 行，需确认 M 个乡镇名称，K 行有错误' })),
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

interface Upload {
  rows: SheetRow[];
  filename: string;
  /** Text fields sent beside the file (the township and village answers). */
  fields: Record<string, string>;
}

async function uploadedRows(request: FastifyRequest): Promise<Upload> {
  if (!request.isMultipart()) throw new InvalidInput('请以 multipart/form-data 上传文件（字段名 file）', 'file');
  const fields: Record<string, string> = {};
  let upload: { data: Buffer; filename: string } | null = null;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || upload) {
          await part.toBuffer();
          continue;
        }
        upload = { data: await part.toBuffer(), filename: part.filename };
      } else if (typeof part.value === 'string') fields[part.fieldname] = part.value;
    }
  } catch (error) {
    if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
      throw new PayloadTooLarge(`文件超过 ${MAX_SHEET_BYTES / 1024 / 1024}MB 上限，请按乡镇拆分后分批导入`, 'file');
    }
    throw error;
  }
  if (!upload) throw new InvalidInput('没有收到文件（字段名 file）', 'file');
  return { rows: await readSheet(upload.data, upload.filename), filename: upload.filename, fields };
}

/** A JSON object of names to codes sent as a multipart field. */
function mappingField(fields: Record<string, string>, name: 'townships' | 'villages'): Record<string, string> | undefined {
  const raw = fields[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new InvalidInput(`${name} 应为 JSON 对象，如 {"城关镇":"410527001","张龙乡":"new"}`, name);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string'))
    throw new InvalidInput(`${name} 应为 JSON 对象：表中名称 → 区划代码或 "new"`, name);
  if (Object.keys(value).length > 5_000) throw new InvalidInput(`${name} 最多 5000 项`, name);
  return value as Record<string, string>;
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

  await app.register(multipart, {
    limits: { fileSize: MAX_SHEET_BYTES, files: 1, fields: 4, parts: 5, fieldSize: 256 * 1024 },
  });

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
      const { rows, filename, fields } = await uploadedRows(request);
      const mappings = { townships: mappingField(fields, 'townships'), villages: mappingField(fields, 'villages') };
      const report = await importGroups(groups, clock, by.scope, rows, { ...request.query, mappings }).catch((error) => {
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

  app.post(
    '/api/groups/import-report',
    {
      config: allow(ADMINS),
      schema: {
        tags: ['groups'],
        summary: '把导入报告（试导入或导入的返回结果）生成 .xlsx 下载：汇总、乡镇名称核对、村（社区）、逐行问题',
        body: ImportReportBody,
      },
      bodyLimit: 4 * 1024 * 1024,
    },
    async (request, reply) =>
      reply
        .type(MIME.xlsx)
        .header('content-disposition', `attachment; filename="import-report.xlsx"`)
        .send(await importReportSheet(request.body as ImportReport)),
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

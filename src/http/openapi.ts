// What the OpenAPI document says beyond each route's own schema, decided in one place so
// that 60 routes cannot each forget it (docs/api-hardening.md, "OpenAPI conventions"):
//  - every operation lists the error answers it can give, each with the one ErrorBody;
//  - PUBLIC routes say `security: []` (the rest inherit the bearer scheme);
//  - a field with a default is not required (Ajv fills it in);
//  - an upload has a multipart/form-data requestBody with its file part;
//  - pages and files that are not JSON say what they are.
// Only the document changes: the route's own schema (validation, serialisation) is untouched.
import type { RouteOptions } from 'fastify';
import { ErrorBody } from '../lib/schemas.js';

const { $id: _id, ...errorBodySchema } = ErrorBody;
/** components.schemas of the document: the one error body every error answer refers to. */
export const SHARED_COMPONENTS = { ErrorBody: errorBodySchema };

type JsonSchema = Record<string, unknown>;
type Responses = Record<string, JsonSchema>;

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: '请求无效（缺少或不正确的字段，field 指明哪一个）',
  401: '未登录或登录已失效',
  403: '无权执行此操作（角色或管辖范围不符，或签名无效）',
  404: '对象不存在或不在管辖范围内',
  409: '与当前状态冲突（例如已被他人修改或已审核）',
  413: '请求体或上传文件过大',
  414: '请求地址中的参数过长',
  415: '不支持的 Content-Type',
  422: '内容有误，未写入任何数据',
  429: '请求过于频繁，稍后再试（见 Retry-After）',
};

const errorResponse = (status: number): JsonSchema => ({
  description: ERROR_DESCRIPTIONS[status],
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
});

const html = (description: string): JsonSchema => ({
  description,
  content: { 'text/html': { schema: { type: 'string' } } },
});

const htmlOrError = (description: string): JsonSchema => ({
  description,
  content: {
    'text/html': { schema: { type: 'string' } },
    'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } },
  },
});

const file = (description: string, types: string[]): JsonSchema => ({
  description,
  content: Object.fromEntries(types.map((type) => [type, { schema: { type: 'string', format: 'binary' } }])),
});

const IMAGES = ['image/png', 'image/jpeg', 'image/webp'];
const SHEETS = ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'text/csv'];

/** Answers that are not JSON (pages for residents, pictures, sheets), by route. */
const NON_JSON: Record<string, Responses> = {
  '/t/:code': {
    302: {
      description: '记录点击后跳转到通知页面',
      type: 'null',
      headers: { location: { type: 'string', description: '通知页面 /n/{noticeId}' } },
    },
    404: html('链接无效或已失效（页面）'),
  },
  '/n/:noticeId': { 200: html('通知页面'), 404: html('通知不存在或未发布（页面）') },
  // The tip form answers pages (a phone's browser posted it); a malformed request before the
  // handler (bad id, rate limit) is the one JSON error body.
  '/n/:noticeId/tips': {
    303: {
      description: '已收到：跳转到感谢页 /n/{noticeId}?tip=received',
      type: 'null',
      headers: { location: { type: 'string', description: '/n/{noticeId}?tip=received#tip' } },
    },
    400: htmlOrError('表单有误：带着提示和已填内容的表单页面（线索较多时附算术题）'),
    404: html('通知不存在或不征集线索（页面）'),
    409: html('通告已撤回、结案或过了截止日期（页面）'),
    429: htmlOrError('提交过于频繁（页面，或请求限流的错误体）'),
  },
  '/media/:sha256': { 200: file('图片', IMAGES), 304: { description: '未修改（If-None-Match）', type: 'null' } },
  '/api/manual-tasks/:id/image': { 200: file('任务图片', IMAGES) },
  '/api/notices/:id/preview/image': { 200: file('图片卡片预览', ['image/png', 'image/jpeg']) },
  '/api/groups/export': { 200: file('群组表', SHEETS) },
  '/api/notices/export': { 200: file('通告表', SHEETS) },
  '/api/campaigns/export': { 200: file('推送表', SHEETS) },
  '/api/tips/export': { 200: file('线索表', SHEETS) },
  '/api/users/export': { 200: file('用户表', SHEETS) },
  '/api/tips/:id/photo': { 200: file('线索照片', IMAGES) },
  '/api/regions/export': { 200: file('区划表', SHEETS) },
  '/api/campaigns/:id/deliveries/export': { 200: file('投递明细表', SHEETS) },
  '/api/reach/monthly/export': { 200: file('月度报表', SHEETS) },
  '/api/campaigns/:id/progress/stream': {
    200: {
      description: '进度事件流（Server-Sent Events）',
      content: { 'text/event-stream': { schema: { type: 'string' } } },
    },
  },
};

const UPLOAD_BODY: JsonSchema = {
  type: 'object',
  required: ['file'],
  properties: { file: { type: 'string', format: 'binary', description: '上传的文件' } },
};

/** Forms whose multipart (or urlencoded) fields are not the one `file` of an upload. */
const FORM_BODIES: Record<string, JsonSchema> = {
  '/n/:noticeId/tips': {
    type: 'object',
    required: ['text'],
    properties: {
      text: {
        type: 'string',
        minLength: 1,
        maxLength: 2000,
        pattern: '\\S',
        description: '线索内容（必填，最多 2000 字）',
      },
      phone: {
        type: 'string',
        pattern: '^\\s*(\\+?[0-9][0-9 -]{3,18}[0-9])?\\s*$',
        description: '联系电话（选填）',
      },
      photo: { type: 'string', format: 'binary', description: '照片（选填，JPEG/PNG/WebP，最大 10 MB）' },
      challenge: { type: 'string', description: '算术题的令牌（通告线索较多时页面给出）' },
      answer: { type: 'string', description: '算术题的答案（数字）' },
    },
  },
};

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A copy of an object schema whose properties with a default are no longer required. */
export function defaultsNotRequired<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(defaultsNotRequired) as T;
  if (schema === null || typeof schema !== 'object') return schema;
  const copy: JsonSchema = {};
  for (const [key, value] of Object.entries(schema as JsonSchema)) copy[key] = defaultsNotRequired(value);
  const properties = copy.properties as Record<string, JsonSchema> | undefined;
  if (properties && Array.isArray(copy.required)) {
    copy.required = (copy.required as string[]).filter((name) => properties[name]?.default === undefined);
    if ((copy.required as string[]).length === 0) delete copy.required;
  }
  return copy as T;
}

function hasProperty(schema: unknown, name: string): boolean {
  const properties = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return Boolean(properties && name in properties);
}

/** The error statuses a route can answer, from what it declares. */
export function errorStatuses(route: RouteOptions, schema: JsonSchema): number[] {
  const access = route.config?.access;
  const isPublic = Boolean(access && 'public' in access && access.public);
  const methods = [route.method].flat();
  const uploads = Array.isArray(schema.consumes) && schema.consumes.includes('multipart/form-data');
  const takesBody = Boolean(schema.body) || uploads;
  const statuses = new Set<number>();
  const takesInput = Boolean(schema.params || schema.querystring || takesBody);
  if (takesInput) statuses.add(400);
  if (!isPublic) statuses.add(401).add(403);
  // Login and password changes are public routes that refuse wrong credentials.
  if (isPublic && route.url.startsWith('/api/auth/')) statuses.add(401);
  if (isPublic && hasProperty(schema.querystring, 'sig')) statuses.add(403);
  // A path id, or a region / campaign / group named in the query or body, may be unknown or out of scope.
  if (schema.params || (!isPublic && takesInput)) statuses.add(404);
  // The router refuses a path parameter over maxParamLength before any schema sees it.
  if (schema.params) statuses.add(414);
  if (!isPublic && methods.some((method) => MUTATING.has(method))) statuses.add(409);
  if (takesBody) statuses.add(413).add(415);
  if (route.config?.rateLimit) statuses.add(429);
  return [...statuses];
}

/** @fastify/swagger's `transform`: the route's schema as the document should show it. */
export function documentRoute({ schema, route }: { schema: JsonSchema | undefined; route: RouteOptions }): {
  schema: JsonSchema;
} {
  if (!schema || schema.hide) return { schema: schema ?? { hide: true } };
  const doc: JsonSchema = { ...schema };
  for (const part of ['querystring', 'body', 'params', 'headers'] as const) {
    if (doc[part]) doc[part] = defaultsNotRequired(doc[part]);
  }
  const access = route.config?.access;
  if (access && 'public' in access && access.public) doc.security = [];
  const uploads = Array.isArray(doc.consumes) && doc.consumes.includes('multipart/form-data');
  if (uploads && !doc.body) doc.body = FORM_BODIES[route.url] ?? UPLOAD_BODY;

  const special = NON_JSON[route.url] ?? {};
  const succeeds = Object.keys(special).some((status) => /^[23]/.test(status));
  const own =
    (schema.response as Responses | undefined) ?? (succeeds ? {} : { 200: { description: '成功', type: 'null' } });
  const responses: Responses = { ...own, ...special };
  for (const status of errorStatuses(route, doc)) responses[status] ??= errorResponse(status);
  doc.response = responses;
  return { schema: doc };
}

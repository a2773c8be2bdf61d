// One place that turns errors into HTTP answers: { statusCode, code, message, field? }.
// Messages are for people (zh-CN); a 500 never shows internals.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError, InvalidInput, TooManyRequests } from '../lib/errors.js';
import { CATEGORY_LABELS } from '../notices/categories.js';
import { PHONE_HINT, PHONE_PATTERN } from '../notices/schemas.js';

const STATUS: Record<string, number> = {
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  payload_too_large: 413,
  too_many_requests: 429,
};

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  /** With Ajv's `verbose`: the schema that failed, whose description says what is expected. */
  parentSchema?: { description?: string };
}

function fieldName(context: string | undefined, issue: ValidationIssue): string {
  const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const extra =
    (issue.params.missingProperty as string | undefined) ?? (issue.params.additionalProperty as string | undefined);
  return [context, path, extra].filter(Boolean).join('.');
}

/** Values staff know by their Chinese names: listed as "anti_fraud（防诈骗）". */
const VALUE_LABELS: Record<string, string> = { ...CATEGORY_LABELS };
/** What a value of a pattern should look like, where the pattern alone would not tell a person. */
const PATTERN_HINTS: Record<string, string> = { [PHONE_PATTERN]: PHONE_HINT };
const withLabel = (value: unknown) =>
  typeof value === 'string' && VALUE_LABELS[value] ? `${value}（${VALUE_LABELS[value]}）` : String(value);

/** Ajv's English messages, said the way a person fixing the input needs them. */
export function describeValidation(context: string | undefined, issue: ValidationIssue): InvalidInput {
  const field = fieldName(context, issue);
  const p = issue.params;
  const expected = issue.parentSchema?.description;
  const messages: Record<string, () => string> = {
    required: () => `缺少必填字段 "${field}"`,
    additionalProperties: () => `不支持的字段 "${field}"`,
    type: () => `字段 "${field}" 的类型应为 ${p.type}`,
    minLength: () => `字段 "${field}" 至少 ${p.limit} 个字符（不能为空）`,
    maxLength: () => `字段 "${field}" 最多 ${p.limit} 个字符`,
    pattern: () =>
      p.pattern === '\\S'
        ? `字段 "${field}" 不能为空`
        : `字段 "${field}" 的格式不正确${(PATTERN_HINTS[p.pattern as string] ?? expected) ? `（${PATTERN_HINTS[p.pattern as string] ?? expected}）` : ''}`,
    format: () => `字段 "${field}" 不是有效的 ${p.format}`,
    enum: () => `字段 "${field}" 只能是：${(p.allowedValues as unknown[]).map(withLabel).join('、')}`,
    minimum: () => `字段 "${field}" 不能小于 ${p.limit}`,
    maximum: () => `字段 "${field}" 不能大于 ${p.limit}`,
    minItems: () => `字段 "${field}" 至少 ${p.limit} 项`,
    maxItems: () => `字段 "${field}" 最多 ${p.limit} 项`,
    const: () => `字段 "${field}" 的值不正确`,
  };
  const message = messages[issue.keyword]?.() ?? `字段 "${field}" 无效：${issue.message ?? issue.keyword}`;
  return new InvalidInput(message, field || undefined);
}

/** Fastify's and @fastify/multipart's own 4xx errors, said in Chinese. */
const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: '请求体不是有效的 JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: '请求体为空，但 Content-Type 为 application/json',
  FST_ERR_CTP_BODY_TOO_LARGE: '请求体过大',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: '不支持的 Content-Type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length 与请求体不符',
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: '此请求必须带 Content-Type 请求头',
  FST_ERR_ROUTE_MISSING_CONTENT: '此请求必须带请求体',
  FST_ERR_BAD_URL: '请求地址中含有无效的编码',
  FST_ERR_INVALID_URL: '请求地址无效',
  FST_ERR_MAX_PARAM_LENGTH: '请求地址中的参数过长',
  FST_ERR_REQ_FILE_TOO_LARGE: '上传的文件过大',
  FST_REQ_FILE_TOO_LARGE: '上传的文件过大',
  FST_PARTS_LIMIT: 'multipart 请求中的部分过多（只接受一个字段 file）',
  FST_FILES_LIMIT: '一次只能上传一个文件（字段 file）',
  FST_FIELDS_LIMIT: 'multipart 请求中只接受字段 file',
  FST_PROTO_VIOLATION: 'multipart 字段名不允许',
  FST_INVALID_MULTIPART_CONTENT_TYPE: '请以 multipart/form-data 上传（字段 file）',
  FST_INVALID_JSON_FIELD_ERROR: 'multipart 字段不是有效的 JSON',
};

const MULTIPART_SHAPE = new Set(['FST_PARTS_LIMIT', 'FST_FIELDS_LIMIT', 'FST_FILES_LIMIT']);

const CODE_BY_STATUS: Record<number, string> = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'bad_request',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
};

const MESSAGE_BY_STATUS: Record<number, string> = {
  413: '请求体过大',
  414: '请求地址过长',
  415: '不支持的 Content-Type',
};

// busboy (under @fastify/multipart) reports a broken body with plain Errors and no code:
// a missing boundary, a garbled part header; a body that ends before its closing boundary
// surfaces as the file stream's premature close.
const MULTIPART_BROKEN =
  /^(Multipart: Boundary not found|Boundary required|Unexpected end of multipart data|.* terminated early due to unexpected end of multipart data|Malformed part header|Missing Content-Type-header\.|Unsupported Content-Type\.|Overflow\.)$/;

function fastifyClientError(
  error: FastifyError,
  request: FastifyRequest,
): { status: number; code: string; message: string } | null {
  const broken = MULTIPART_BROKEN.test(error.message ?? '') || error.code === 'ERR_STREAM_PREMATURE_CLOSE';
  if (!error.statusCode && broken && request.isMultipart?.()) {
    return {
      status: 400,
      code: 'bad_request',
      message: 'multipart/form-data 请求体格式不正确（缺少 boundary 或内容不完整），请重新上传',
    };
  }
  const status = error.statusCode ?? 0;
  if (status < 400 || status >= 500) return null;
  const code = CODE_BY_STATUS[status] ?? 'bad_request';
  // Our own plugin errors (the rate limit's builder) are already said in Chinese.
  const ours = /[\u4e00-\u9fff]/.test(error.message ?? '') ? error.message : undefined;
  const message = FASTIFY_MESSAGES[error.code] ?? ours ?? MESSAGE_BY_STATUS[status] ?? '请求无效，请检查请求格式';
  // multipart's part/field/file limits and "not multipart" (406) are bad input, not a size or a negotiation.
  if (status === 406 || MULTIPART_SHAPE.has(error.code)) return { status: 400, code: 'bad_request', message };
  return { status, code, message };
}

function sendClientError(reply: FastifyReply, client: { status: number; code: string; message: string }) {
  return reply.status(client.status).send({ statusCode: client.status, code: client.code, message: client.message });
}

/** Fastify's `frameworkErrors`: router errors (a bad %-escape, a parameter over maxParamLength). */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const client = fastifyClientError(error, request);
  if (client) return sendClientError(reply, client);
  request.log.error({ err: error }, 'router error');
  return reply.status(500).send({ statusCode: 500, code: 'internal', message: '服务器内部错误，请稍后再试' });
}

export const errorHandling = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((error: FastifyError | DomainError, request, reply) => {
    let domain: DomainError | null = error instanceof DomainError ? error : null;
    const validation = (error as FastifyError).validation as ValidationIssue[] | undefined;
    if (validation?.[0]) domain = describeValidation((error as FastifyError).validationContext, validation[0]);
    if (domain) {
      if (domain instanceof TooManyRequests) reply.header('retry-after', String(domain.retryAfterSeconds));
      return reply.status(STATUS[domain.code] ?? 400).send({
        statusCode: STATUS[domain.code] ?? 400,
        code: domain.code,
        message: domain.message,
        ...(domain.field ? { field: domain.field } : {}),
      });
    }
    const client = fastifyClientError(error as FastifyError, request);
    if (client) return sendClientError(reply, client);
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send({ statusCode: 500, code: 'internal', message: '服务器内部错误，请稍后再试' });
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .send({ statusCode: 404, code: 'not_found', message: `没有此接口：${request.method} ${request.url}` });
  });
});

// One place that turns errors into HTTP answers: { statusCode, code, message, field? }.
// Messages are for people (zh-CN); a 500 never shows internals.
import type { FastifyError, FastifyInstance } from 'fastify';
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
  payload_too_large: 413,
  too_many_requests: 429,
};

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
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
  const messages: Record<string, () => string> = {
    required: () => `缺少必填字段 "${field}"`,
    additionalProperties: () => `不支持的字段 "${field}"`,
    type: () => `字段 "${field}" 的类型应为 ${p.type}`,
    minLength: () => `字段 "${field}" 至少 ${p.limit} 个字符（不能为空）`,
    maxLength: () => `字段 "${field}" 最多 ${p.limit} 个字符`,
    pattern: () =>
      p.pattern === '\\S'
        ? `字段 "${field}" 不能为空`
        : `字段 "${field}" 的格式不正确${PATTERN_HINTS[p.pattern as string] ? `（${PATTERN_HINTS[p.pattern as string]}）` : ''}`,
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

function fastifyClientError(error: FastifyError): { status: number; code: string; message: string } | null {
  const status = error.statusCode ?? 0;
  if (status < 400 || status >= 500) return null;
  const byCode: Record<string, string> = {
    FST_ERR_CTP_INVALID_JSON_BODY: '请求体不是有效的 JSON',
    FST_ERR_CTP_EMPTY_JSON_BODY: '请求体为空，但 Content-Type 为 application/json',
    FST_ERR_CTP_BODY_TOO_LARGE: '请求体过大',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: '不支持的 Content-Type',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length 与请求体不符',
    FST_ERR_REQ_FILE_TOO_LARGE: '上传的文件过大',
  };
  const codeByStatus: Record<number, string> = {
    401: 'unauthorized',
    404: 'not_found',
    413: 'payload_too_large',
    415: 'unsupported_media_type',
    429: 'too_many_requests',
  };
  const code = codeByStatus[status] ?? 'bad_request';
  return { status, code, message: byCode[error.code] ?? error.message };
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
    const client = fastifyClientError(error as FastifyError);
    if (client) {
      return reply
        .status(client.status)
        .send({ statusCode: client.status, code: client.code, message: client.message });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send({ statusCode: 500, code: 'internal', message: '服务器内部错误，请稍后再试' });
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .send({ statusCode: 404, code: 'not_found', message: `没有此接口：${request.method} ${request.url}` });
  });
});

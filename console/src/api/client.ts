// The console's only way to the service: fetch against /api with the bearer token.
// Every refusal becomes an ApiError carrying the API's Chinese message and, when the API
// names one, the field it concerns, so forms show it next to what caused it.
//
// `http` is the typed client (openapi-fetch over the generated schema.d.ts): paths, query,
// bodies and answers are checked by vue-tsc against the server's own schemas, so a changed
// server schema breaks the build instead of a screen. `unwrap` turns its answer into the data
// or an ApiError. Files the API streams (exports) are fetched by `download`.
import createClient from 'openapi-fetch';
import { session } from '../session';
import type { paths } from './schema';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Handler = (error: ApiError) => void;
let onUnauthorized: Handler = () => undefined;

/** Set by the router: a 401 on any call but the login itself returns to the login page. */
export function handleUnauthorized(handler: Handler): void {
  onUnauthorized = handler;
}

type Query = Record<string, string | number | boolean | undefined | null>;

/** Query parameters as the API reads them: empty filters left out, lists repeated (a=1&a=2). */
export function queryString(query: Record<string, unknown> | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined && one !== null && one !== '') params.append(key, String(one));
    }
  }
  return params.toString();
}

export function apiUrl(path: string, query?: Query): string {
  const qs = queryString(query);
  return qs ? `${path}?${qs}` : path;
}

export function authHeaders(): Record<string, string> {
  return session.token ? { authorization: `Bearer ${session.token}` } : {};
}

type ErrorJson = { code?: string; message?: string; field?: string };

function errorFromBody(status: number, body: ErrorJson | null | undefined): ApiError {
  const message = body?.message ?? `请求失败（HTTP ${status}），请稍后再试`;
  return new ApiError(status, body?.code ?? 'http_error', message, body?.field ?? null);
}

async function errorOf(response: Response): Promise<ApiError> {
  let body: ErrorJson = {};
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's page): fall through to a generic message
  }
  return errorFromBody(response.status, body);
}

/** The typed client: `unwrap(http.GET('/api/groups', { params: { query } }))`. */
export const http = createClient<paths>({
  querySerializer: (query) => queryString(query as Record<string, unknown>),
});
http.use({
  onRequest({ request }) {
    if (session.token) request.headers.set('authorization', `Bearer ${session.token}`);
    return request;
  },
});

/** The data of a typed call, or the ApiError of its refusal (a 401 also returns to the login page). */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let answer: { data?: T; error?: unknown; response: Response };
  try {
    answer = await call;
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'network', '无法连接服务器，请检查网络后重试');
  }
  const { response } = answer;
  if (response.ok) return answer.data as T;
  const error = errorFromBody(response.status, typeof answer.error === 'object' ? (answer.error as ErrorJson) : null);
  if (response.status === 401 && !response.url.endsWith('/api/auth/login')) onUnauthorized(error);
  throw error;
}

/** GETs a file the API streams; returns the fetch Response when it succeeded (2xx). */
async function fetchFile(path: string, query?: Query): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(apiUrl(path, query), { headers: authHeaders() });
  } catch {
    throw new ApiError(0, 'network', '无法连接服务器，请检查网络后重试');
  }
  if (response.ok) return response;
  const error = await errorOf(response);
  if (response.status === 401) onUnauthorized(error);
  throw error;
}

/** Downloads a file the API streams (exports), keeping the server's file name. */
export async function download(path: string, query?: Query): Promise<void> {
  const response = await fetchFile(path, query);
  const disposition = response.headers.get('content-disposition') ?? '';
  // The Chinese name (RFC 5987 filename*) when the server gives one, else the plain one.
  const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(disposition)?.[1];
  const name = utf8 ? decodeURIComponent(utf8) : (/filename="([^"]+)"/.exec(disposition)?.[1] ?? 'export');
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

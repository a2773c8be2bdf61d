// Authorisation in one place. Every /api route declares who may call it in its config
// (`allow(roles, resource)` or `PUBLIC`); a route without a declaration fails at start-up,
// so no route can forget it. The table of declarations is kept for the authorisation test.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Principal } from '../auth/principal.js';
import { ROLE_LABELS, type Role } from '../auth/roles.js';
import type { SessionService } from '../auth/sessions.js';
import { Forbidden, Unauthorized } from '../lib/errors.js';

export type RouteAccess =
  | { public: true }
  | {
      public?: false;
      roles: readonly Role[];
      /** What the route's path parameter names, so the authorisation test can try one out of scope. */
      resource?: string;
    };

export interface AccessEntry {
  method: string;
  url: string;
  access: RouteAccess;
  hasBody: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    principal: Principal | null;
    bearerToken: string | null;
    /** Checks the caller's session, role and scope again now (for long-lived answers such as streams). */
    recheckAccess: (() => Promise<boolean>) | null;
  }
  interface FastifyInstance {
    accessTable: AccessEntry[];
  }
}

export const PUBLIC = { access: { public: true } } as const satisfies { access: RouteAccess };

export function allow(roles: readonly Role[], resource?: string): { access: RouteAccess } {
  return { access: { roles, resource } };
}

/**
 * Whether the caller of a long-lived answer may still have it: the session not logged out or
 * expired, the account active, the role and scope unchanged. False for public routes.
 */
export async function stillAllowed(request: FastifyRequest): Promise<boolean> {
  return (await request.recheckAccess?.()) ?? false;
}

/** The signed-in caller of a route that declared roles. */
export function principal(request: FastifyRequest): Principal {
  if (!request.principal) throw new Unauthorized();
  return request.principal;
}

/** A schema node that is an ObjectId string (lib/schemas.ts ObjectIdString, either spelling of its pattern). */
const isObjectIdSchema = (node: SchemaNode) =>
  node.pattern === '^[0-9a-fA-F]{24}$' || node.pattern === '^[0-9a-f]{24}$';

interface SchemaNode {
  pattern?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  allOf?: SchemaNode[];
}

/**
 * The value with every ObjectId the schema names in lower case. Ids are compared and used as
 * keys as strings (session revocation, review claims, confirmations), so one spelling must
 * reach the services: `ABC…` and `abc…` name the same document to MongoDB but not to a key.
 */
export function canonicalIds(schemaObject: object | undefined, value: unknown): unknown {
  const schema = schemaObject as SchemaNode | undefined;
  if (!schema || value === null || value === undefined) return value;
  let result: unknown = typeof value === 'string' && isObjectIdSchema(schema) ? value.toLowerCase() : value;
  for (const option of [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])]) {
    result = canonicalIds(option, result);
  }
  if (Array.isArray(result) && schema.items) return result.map((item) => canonicalIds(schema.items, item));
  if (typeof result === 'object' && schema.properties) {
    const object = result as Record<string, unknown>;
    for (const [name, property] of Object.entries(schema.properties)) {
      if (name in object) object[name] = canonicalIds(property, object[name]);
    }
  }
  return result;
}

function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] ?? null;
}

export const accessControl = fp<{ sessions: SessionService }>(async (app: FastifyInstance, { sessions }) => {
  app.decorate('accessTable', [] as AccessEntry[]);
  app.decorateRequest('principal', null);
  app.decorateRequest('bearerToken', null);
  app.decorateRequest('recheckAccess', null);

  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (route.url.startsWith('/api/') && !access) {
      throw new Error(`Route ${route.method} ${route.url} declares no access: use allow(...) or PUBLIC`);
    }
    if (!access) return;
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD')
        app.accessTable.push({ method, url: route.url, access, hasBody: Boolean(route.schema?.body) });
    }
  });

  // Once, at the edge, before validation: every handler and service sees ids in lower-case hex.
  app.addHook('preValidation', async (request) => {
    const schema = request.routeOptions.schema as
      | { params?: SchemaNode; querystring?: SchemaNode; body?: SchemaNode }
      | undefined;
    if (!schema) return;
    if (schema.params) request.params = canonicalIds(schema.params, request.params);
    if (schema.querystring) request.query = canonicalIds(schema.querystring, request.query) as object;
    if (schema.body) request.body = canonicalIds(schema.body, request.body);
  });

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config?.access;
    if (!access || access.public) return;
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new Unauthorized('请先登录（缺少 Authorization: Bearer 令牌）');
    const caller = await sessions.authenticate(token);
    if (!access.roles.includes(caller.role)) {
      throw new Forbidden(`此操作需要以下角色之一：${access.roles.map((r) => ROLE_LABELS[r]).join('、')}`);
    }
    if (caller.mustChangePassword && !request.url.startsWith('/api/auth/')) {
      throw new Forbidden('请先修改初始密码（系统生成或管理员设置的密码；POST /api/auth/password）');
    }
    request.principal = caller;
    request.bearerToken = token;
    request.recheckAccess = async () => {
      const again = await sessions.authenticate(token).catch(() => null);
      return again !== null && access.roles.includes(again.role) && again.scope.regionCode === caller.scope.regionCode;
    };
  });
});

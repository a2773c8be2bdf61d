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
  }
  interface FastifyInstance {
    accessTable: AccessEntry[];
  }
}

export const PUBLIC = { access: { public: true } } as const satisfies { access: RouteAccess };

export function allow(roles: readonly Role[], resource?: string): { access: RouteAccess } {
  return { access: { roles, resource } };
}

/** The signed-in caller of a route that declared roles. */
export function principal(request: FastifyRequest): Principal {
  if (!request.principal) throw new Unauthorized();
  return request.principal;
}

function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] ?? null;
}

export const accessControl = fp<{ sessions: SessionService }>(async (app: FastifyInstance, { sessions }) => {
  app.decorate('accessTable', [] as AccessEntry[]);
  app.decorateRequest('principal', null);
  app.decorateRequest('bearerToken', null);

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
      throw new Forbidden('请先修改系统生成的初始密码（POST /api/auth/password）');
    }
    request.principal = caller;
    request.bearerToken = token;
  });
});

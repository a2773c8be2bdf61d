// 405 for a known path called with a method it does not serve (RFC 9110 §15.5.6: with an
// Allow header), instead of Fastify's 404. Fastify's router only answers "no route", so the
// paths are kept here as patterns and a request that reached the not-found handler is
// matched against them before anything else runs (also before a QUERY's body checks).
import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';

interface KnownPath {
  pattern: RegExp;
  methods: Set<string>;
}

function patternOf(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*';
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${escaped}$`);
}

const paramCount = (url: string) => url.split('/').filter((part) => part.startsWith(':') || part === '*').length;

function refuse(reply: FastifyReply, method: string, allowed: string[]) {
  return reply
    .status(405)
    .header('allow', allowed.join(', '))
    .send({
      statusCode: 405,
      code: 'method_not_allowed',
      message: `此地址不支持 ${method} 方法（支持：${allowed.join('、')}）`,
    });
}

export const methodNotAllowed = fp(async (app: FastifyInstance) => {
  const paths = new Map<string, KnownPath & { params: number }>();

  app.addHook('onRoute', (route) => {
    // A catch-all (the console's history fallback) would make every path "known".
    if (route.url === '*' || route.url === '/*') return;
    const known = paths.get(route.url) ?? {
      pattern: patternOf(route.url),
      methods: new Set<string>(),
      params: paramCount(route.url),
    };
    for (const method of [route.method].flat()) known.methods.add(method);
    paths.set(route.url, known);
  });

  /**
   * The methods served at a concrete path by its most specific routes (a static
   * /api/regions/import, not /api/regions/:code), or none when no route has that path.
   */
  function allowedAt(path: string): string[] {
    const matching = [...paths.values()].filter((known) => known.pattern.test(path));
    const fewest = Math.min(...matching.map((known) => known.params));
    const methods = new Set<string>();
    for (const known of matching) {
      if (known.params === fewest) for (const method of known.methods) methods.add(method);
    }
    return [...methods].sort();
  }

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    // The router keeps a tree per method: PATCH /api/regions/import reaches /api/regions/:code.
    // The static route's methods are what this path serves.
    const exact = paths.get(path);
    const viaParam = request.routeOptions.url?.includes('/:') ?? false;
    if (exact && viaParam && !request.is404 && !exact.methods.has(request.method)) {
      return refuse(reply, request.method, [...exact.methods].sort());
    }
    // GET and HEAD of an unknown path reach the console's history fallback ('/*'), not the
    // not-found handler: a path another method serves (GET /api/auth/login) is a 405 too.
    const fallback = request.routeOptions.url === '/*';
    if (!request.is404 && !fallback) return;
    const allowed = allowedAt(path);
    // The fallback also gets a path its own method serves that the router gave up on (a
    // parameter over maxParamLength): that one is not a 405, console.ts answers it.
    if (allowed.length > 0 && !allowed.includes(request.method)) return refuse(reply, request.method, allowed);
  });
});

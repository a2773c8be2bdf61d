// 405 for a known path called with a method it does not serve (RFC 9110 §15.5.6: with an
// Allow header), instead of Fastify's 404. Fastify's router only answers "no route", so the
// paths are kept here as patterns and a request that reached the not-found handler is
// matched against them before anything else runs (also before a QUERY's body checks).
import type { FastifyInstance } from 'fastify';
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

export const methodNotAllowed = fp(async (app: FastifyInstance) => {
  const paths = new Map<string, KnownPath>();

  app.addHook('onRoute', (route) => {
    // A catch-all (the console's history fallback) would make every path "known".
    if (route.url === '*' || route.url === '/*') return;
    const known = paths.get(route.url) ?? { pattern: patternOf(route.url), methods: new Set<string>() };
    for (const method of [route.method].flat()) known.methods.add(method);
    paths.set(route.url, known);
  });

  /** The methods served at a concrete path, or none when no route has that path. */
  function allowedAt(path: string): string[] {
    const methods = new Set<string>();
    for (const known of paths.values()) {
      if (known.pattern.test(path)) for (const method of known.methods) methods.add(method);
    }
    return [...methods].sort();
  }

  app.addHook('onRequest', async (request, reply) => {
    if (!request.is404) return;
    const path = request.url.split('?')[0] ?? '';
    const allowed = allowedAt(path);
    if (allowed.length === 0) return;
    return reply
      .status(405)
      .header('allow', allowed.join(', '))
      .send({
        statusCode: 405,
        code: 'method_not_allowed',
        message: `此地址不支持 ${request.method} 方法（支持：${allowed.join('、')}）`,
      });
  });
});

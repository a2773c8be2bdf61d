// Operations endpoints: liveness, readiness (database reachable) and Prometheus metrics.
// /metrics tells request counts per route and process internals: with a METRICS_TOKEN it
// asks for that bearer token; without one it is served only on a local install.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { isLoopbackAddress, isPrivateAddress } from '../lib/addresses.js';
import { NotFound, Unauthorized } from '../lib/errors.js';

export interface OpsOptions {
  /** True when the database answers a ping. */
  databaseReady: () => Promise<boolean>;
  /** Bearer token /metrics asks for. */
  metricsToken?: string;
  /** Without a token: serve /metrics on a local install (to loopback peers only) or not at all. */
  metricsOpen?: boolean;
  /** Whether TRUST_PROXY lists proxies; unset, a private peer sending X-Forwarded-For is warned about. */
  trustProxy?: boolean;
  /** PUBLIC_BASE_URL: the address residents and officers reach, reported by /readyz. */
  publicBaseUrl?: string;
}

export interface PublicAddress {
  url: string;
  /** loopback: nobody but this machine can open links and QR codes; private: only this network. */
  reach: 'loopback' | 'private' | 'public';
  /** What an admin should do, in Chinese; null when the address is public. */
  warning: string | null;
}

/** How far the public address reaches: a fresh install's default is loopback (127.0.0.1). */
export function publicAddress(url: string): PublicAddress {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
  const privateNet = /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.)/.test(host) || /^f[cd]/i.test(host);
  const reach = loopback ? 'loopback' : privateNet ? 'private' : 'public';
  const warning =
    reach === 'loopback'
      ? `对外地址仍是本机地址 ${url}：群众扫码和点开的链接都打不开，请设置 PUBLIC_BASE_URL 为群众能访问的网址后重启`
      : reach === 'private'
        ? `对外地址 ${url} 是内网地址：群众在手机上打不开，请确认 PUBLIC_BASE_URL 是公网可访问的网址`
        : null;
  return { url, reach, warning };
}

const PROXY_WARNING =
  'X-Forwarded-For arrives from a private address but TRUST_PROXY is unset: every client looks like the proxy, ' +
  'so the per-address limits (login, tip form, pages) are shared by everyone. Set TRUST_PROXY to the proxy ' +
  'addresses (docs/security.md, "Behind a reverse proxy").';

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Compares digests, so neither the token's length nor its bytes leak through timing. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(given), digest(token));
}

export const ops = fp<OpsOptions>(async (app: FastifyInstance, options) => {
  const { databaseReady, metricsToken, metricsOpen, trustProxy } = options;
  const address = options.publicBaseUrl ? publicAddress(options.publicBaseUrl) : null;
  // Behind a proxy without TRUST_PROXY (issue 26.6): said loudly once in the log, and on /readyz.
  let proxyWarning: string | null = null;
  if (!trustProxy) {
    app.addHook('onRequest', async (request) => {
      if (proxyWarning || !request.headers['x-forwarded-for']) return;
      if (!isPrivateAddress(request.socket.remoteAddress)) return;
      proxyWarning = PROXY_WARNING;
      request.log.warn({ peer: 'private', proxyWarning }, 'reverse proxy without TRUST_PROXY');
    });
  }

  // A registry per app instance, so several apps in one process (tests) do not collide.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'jingxun_' });
  const requestDuration = new Histogram({
    name: 'jingxun_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  app.decorate('metrics', registry);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requestDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  const hidden = { schema: { hide: true } };
  app.get('/healthz', hidden, async () => ({ status: 'ok' }));
  app.get('/readyz', hidden, async (_request, reply) => {
    const ready = await databaseReady();
    return reply.status(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'database unreachable',
      ...(proxyWarning ? { warnings: [proxyWarning] } : {}),
      ...(address ? { publicAddress: address } : {}),
    });
  });
  if (!metricsToken && !metricsOpen) return;
  app.get('/metrics', hidden, async (request, reply) => {
    if (metricsToken && !bearerMatches(request.headers.authorization, metricsToken)) {
      throw new Unauthorized('请用 Authorization: Bearer <METRICS_TOKEN> 访问 /metrics');
    }
    // Open without a token only to this host itself, also behind a same-host proxy (issue 26.12).
    if (!metricsToken && !isLoopbackAddress(request.socket.remoteAddress)) throw new NotFound('/metrics');
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
});

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}

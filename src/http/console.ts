// The web console (console/, built to console/dist by scripts/setup.mjs) served at `/`.
// Hashed assets under /assets/ never change, so they are cached for a year; index.html is
// revalidated on every load so a new build reaches people at once. Every other GET that is
// not the API or one of the service's own pages gets index.html: the console's router
// (history mode) draws the screen for its path (/notices/…, /campaigns/…).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';

export const CONSOLE_DIST = fileURLToPath(new URL('../../console/dist', import.meta.url));

/** Fastify's default maxParamLength (the app does not change it). */
const MAX_PARAM_LENGTH = 100;

/** Paths that belong to the service, never to the console's router. */
const SERVICE_PREFIXES = ['/api', '/n', '/t', '/media', '/docs', '/openapi.json', '/metrics', '/healthz', '/readyz'];

export function isServicePath(url: string): boolean {
  const path = url.split('?')[0] ?? '/';
  return SERVICE_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

const NOT_BUILT = `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>警讯</title>
<p>控制台尚未构建：请运行 <code>npm start</code>（会自动构建 console/），或 <code>node scripts/setup.mjs</code>。</p></html>`;

/** A page that answers before the console loads (a withdrawn task's link: 410 and why). */
export type PageGate = (url: string) => Promise<{ status: number; html: string } | null>;

export const consoleSite = fp<{ dist?: string; gate?: PageGate }>(async (app: FastifyInstance, options) => {
  const dist = options.dist ?? CONSOLE_DIST;
  const assets = join(dist, 'assets');
  if (existsSync(assets)) {
    await app.register(fastifyStatic, {
      root: assets,
      prefix: '/assets/',
      decorateReply: false,
      immutable: true,
      maxAge: '365d',
      index: false,
    });
  }
  // Files at the top of dist (favicon.svg): small, not hashed, revalidated.
  const topFiles = new Set(
    existsSync(dist)
      ? readdirSync(dist).filter((name) => name !== 'index.html' && statSync(join(dist, name)).isFile())
      : [],
  );

  const sendIndex = (reply: FastifyReply) => {
    const index = join(dist, 'index.html');
    // Read on each request: a rebuild while the service runs is picked up without a restart.
    const html = existsSync(index) ? readFileSync(index) : NOT_BUILT;
    return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html);
  };

  app.get('/', { schema: { hide: true } }, async (_request, reply) => sendIndex(reply));
  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    if (isServicePath(request.url)) {
      // The router hands a service path here when one of its parameters was over
      // maxParamLength: that is the 414 the API would have given, not a missing page.
      const tooLong = (request.url.split('?')[0] ?? '').split('/').some((part) => part.length > MAX_PARAM_LENGTH);
      if (tooLong) {
        return reply.status(414).send({ statusCode: 414, code: 'uri_too_long', message: '请求地址过长' });
      }
      return reply.callNotFound();
    }
    const name = request.url.slice(1).split('?')[0] ?? '';
    if (topFiles.has(name)) {
      const type = name.endsWith('.svg')
        ? 'image/svg+xml'
        : name.endsWith('.ttf')
          ? 'font/ttf'
          : 'application/octet-stream';
      return reply
        .header('cache-control', 'no-cache')
        .type(type)
        .send(readFileSync(join(dist, name)));
    }
    if (request.url.startsWith('/assets/')) return reply.callNotFound();
    const gated = options.gate ? await options.gate(request.url) : null;
    if (gated) {
      return reply.status(gated.status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(gated.html);
    }
    return sendIndex(reply);
  });
});

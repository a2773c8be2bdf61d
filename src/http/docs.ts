// OpenAPI document at /openapi.json and interactive docs at /docs, generated from the
// routes' TypeBox schemas.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { isLoopbackAddress } from '../lib/addresses.js';
import { NotFound } from '../lib/errors.js';
import { SHARED_COMPONENTS, documentRoute } from './openapi.js';

export const apiDocs = fp<{ enabled: boolean; loopbackOnly?: boolean }>(async (app: FastifyInstance, { enabled, loopbackOnly }) => {
  await app.register(swagger, {
    openapi: {
      info: { title: 'Jingxun 警讯 API', version: '0.1.0', description: '社区警务宣传内容排程与推送服务' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: SHARED_COMPONENTS },
      security: [{ bearer: [] }],
    },
    transform: documentRoute as never,
  });
  // Closed (not served at all) unless config.apiDocs: the document lists every route an
  // attacker could try. The document is still built, for the tests and `npm run fuzz`.
  if (!enabled) return;
  // Opened by default on a local install: then only to this host's own peers, so a same-host
  // reverse proxy does not publish it (issue 26.12). API_DOCS=on opens it to everyone.
  if (loopbackOnly) {
    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?')[0] ?? '';
      if ((path === '/docs' || path.startsWith('/docs/') || path === '/openapi.json') && !isLoopbackAddress(request.socket.remoteAddress)) {
        throw new NotFound(path);
      }
    });
  }
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
});

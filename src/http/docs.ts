// OpenAPI document at /openapi.json and interactive docs at /docs, generated from the
// routes' TypeBox schemas.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { SHARED_COMPONENTS, documentRoute } from './openapi.js';

export const apiDocs = fp<{ enabled: boolean }>(async (app: FastifyInstance, { enabled }) => {
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
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
});

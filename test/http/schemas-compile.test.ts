// The service compiles every route's request validators when it builds the app, so a schema Ajv
// cannot compile stops the start instead of failing the route's first request. The suite's
// other files defer compilation to first use (test/helpers/setup.ts, for time); this file
// builds the app the service's way and so checks every route's schemas once per run.
import Fastify from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { validation } from '../../src/http/validation.js';
import { compileValidatorsOnFirstUseForTests } from '../../src/http/validation-timing.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

/** A route whose body schema is not a schema at all: Ajv refuses to compile it. */
async function appWithBrokenSchema() {
  const app = Fastify({ logger: false });
  await app.register(validation);
  app.post('/broken', { schema: { body: { type: 'no-such-type' } } }, async () => ({ ok: true }));
  return app;
}

describe('request validators', () => {
  let t: TestApp | undefined;
  afterEach(() => compileValidatorsOnFirstUseForTests());
  afterAll(() => t?.close());

  it('every route of the app compiles when the app is built the service’s way', async () => {
    compileValidatorsOnFirstUseForTests(false);
    t = await startTestApp();
    expect(t.app.printRoutes().split('\n').length).toBeGreaterThan(100);
    // A refusal still names the field, as before (compiled at start here).
    const refused = await t.request('POST', '/api/regions', t.adminToken, { code: 42 });
    expect(refused.statusCode).toBe(400);
  });

  it('the service’s way: a schema Ajv cannot compile stops the start', async () => {
    compileValidatorsOnFirstUseForTests(false);
    const app = await appWithBrokenSchema();
    await expect(app.ready()).rejects.toThrow(/no-such-type|schema is invalid/);
  });

  it('the tests’ way: the same schema fails its route’s first request instead, and other routes answer', async () => {
    const app = await appWithBrokenSchema();
    app.get('/fine', async () => ({ ok: true }));
    await app.ready();
    expect((await app.inject({ method: 'GET', url: '/fine' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/broken', payload: {} })).statusCode).toBe(500);
    await app.close();
  });

  it('the tests’ way refuses and coerces as the service’s does', async () => {
    for (const deferred of [false, true]) {
      compileValidatorsOnFirstUseForTests(deferred);
      const app = Fastify({ logger: false });
      await app.register(validation);
      app.get(
        '/n',
        {
          schema: {
            querystring: {
              type: 'object',
              properties: { n: { type: 'integer', default: 7 } },
              additionalProperties: false,
            },
          },
        },
        async (request) => request.query,
      );
      app.post(
        '/b',
        { schema: { body: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } } },
        async (request) => request.body,
      );
      await app.ready();
      const label = deferred ? 'deferred' : 'at start';
      expect((await app.inject({ method: 'GET', url: '/n?n=5' })).json(), label).toEqual({ n: 5 });
      expect((await app.inject({ method: 'GET', url: '/n' })).json(), label).toEqual({ n: 7 });
      expect((await app.inject({ method: 'GET', url: '/n?n=x' })).statusCode, label).toBe(400);
      const refused = await app.inject({ method: 'POST', url: '/b', payload: { name: 42 } });
      expect(refused.statusCode, label).toBe(400);
      expect(refused.json().message, label).toContain('name');
      await app.close();
    }
  });
});

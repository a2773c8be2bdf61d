import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsole } from '../../scripts/build-console.mjs';
import { CONSOLE_DIST } from '../../src/http/console.js';
import { type TestApp, startTestApp } from '../helpers/app.js';

describe('the console served at /', () => {
  let t: TestApp;
  beforeAll(async () => {
    ensureConsole({ log: () => undefined });
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers / and every console path with index.html, revalidated on each load', async () => {
    for (const path of ['/', '/login', '/notices/65f000000000000000000001', '/campaigns/new?x=1']) {
      const response = await t.app.inject({ method: 'GET', url: path });
      expect(response.statusCode, path).toBe(200);
      expect(response.headers['content-type'], path).toContain('text/html');
      expect(response.headers['cache-control'], path).toBe('no-cache');
      expect(response.body, path).toContain('<div id="app">');
    }
  });

  it('serves hashed assets as immutable for a year', async () => {
    const asset = readdirSync(join(CONSOLE_DIST, 'assets')).find((name) => name.endsWith('.js'))!;
    const response = await t.app.inject({ method: 'GET', url: `/assets/${asset}` });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toContain('immutable');
    expect(response.headers['cache-control']).toContain('max-age=31536000');
    expect((await t.app.inject({ method: 'GET', url: '/assets/missing.js' })).statusCode).toBe(404);
  });

  it('leaves the service’s own paths alone: unknown API paths stay JSON 404s', async () => {
    for (const path of ['/api/nothing-here', '/api/notices/x/y/z', '/media/not-a-hash', '/metrics/x', '/healthz/x']) {
      const response = await t.app.inject({ method: 'GET', url: path });
      expect(response.headers['content-type'] ?? '', path).not.toContain('text/html');
    }
    const api = await t.app.inject({ method: 'GET', url: '/api/nothing-here' });
    expect(api.statusCode).toBe(404);
    expect(api.json()).toMatchObject({ code: 'not_found' });
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });
});

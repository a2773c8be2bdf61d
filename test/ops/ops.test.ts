import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';

describe('operations endpoints', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers /healthz and /readyz with 200 when the database is reachable', async () => {
    expect((await t.request('GET', '/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await t.request('GET', '/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().status).toBe('ready');
  });

  it('says on /readyz when the public address is still loopback, so the workbench can warn the admin', async () => {
    const ready = (await t.request('GET', '/readyz')).json();
    // The test app runs with the default PUBLIC_BASE_URL, on 127.0.0.1.
    expect(ready.publicAddress).toMatchObject({ reach: 'loopback' });
    expect(ready.publicAddress.warning).toContain('PUBLIC_BASE_URL');
  });

  it('classifies public addresses: loopback, private network, public', async () => {
    const { publicAddress } = await import('../../src/http/ops.js');
    expect(publicAddress('http://127.0.0.1:3000').reach).toBe('loopback');
    expect(publicAddress('http://localhost:3000').reach).toBe('loopback');
    expect(publicAddress('http://192.168.1.20').reach).toBe('private');
    expect(publicAddress('https://jx.example.cn')).toEqual({ url: 'https://jx.example.cn', reach: 'public', warning: null });
  });

  it('exposes Prometheus metrics including request durations by route', async () => {
    await t.request('GET', '/api/auth/me', t.adminToken);
    const metrics = await t.request('GET', '/metrics');
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toContain('jingxun_http_request_duration_seconds_count{method="GET",route="/api/auth/me"');
    expect(metrics.body).toContain('jingxun_process_cpu_seconds_total');
  });

  it('publishes an OpenAPI document with every /api route and bearer security', async () => {
    const doc = (await t.request('GET', '/openapi.json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/auth/login', '/api/users/{id}', '/api/regions']),
    );
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    const apiRoutes = new Set(t.app.accessTable.map((r) => r.url.replace(/:(\w+)/g, '{$1}')));
    for (const url of apiRoutes) expect(Object.keys(doc.paths), url).toContain(url);
  });

  it('serves the interactive docs at /docs', async () => {
    const response = await t.request('GET', '/docs/');
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('swagger');
  });
});

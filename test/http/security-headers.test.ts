// Security headers on every answer (a strict policy on the pages residents reach, one the
// console works with elsewhere), and the operations endpoints closed on a public install.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';

function directives(header: unknown): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of String(header ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name, values.join(' '));
  }
  return map;
}

describe('security headers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('when a resident opens a public page, then it gets a strict CSP that runs no script', async () => {
    for (const url of ['/n/0123456789abcdef01234567', '/t/not-a-code', `/media/${'0'.repeat(64)}`]) {
      const response = await t.request('GET', url);
      const csp = directives(response.headers['content-security-policy']);
      expect(csp.get('default-src'), url).toBe("'none'");
      expect(csp.has('script-src'), url).toBe(false);
      expect(csp.get('frame-ancestors'), url).toBe("'none'");
      expect(csp.get('base-uri'), url).toBe("'none'");
      expect(response.headers['x-content-type-options'], url).toBe('nosniff');
      expect(response.headers['referrer-policy'], url).toBe('no-referrer');
      expect(response.headers['x-frame-options'], url).toBe('DENY');
    }
  });

  it('when a signed task link is opened, then its answer has the strict policy and leaks no referrer', async () => {
    const response = await t.request('GET', '/api/manual-tasks/0123456789abcdef01234567?sig=x');
    expect(directives(response.headers['content-security-policy']).get('default-src')).toBe("'none'");
    expect(response.headers['referrer-policy']).toBe('no-referrer');
  });

  it('when the console or the API answers, then the CSP allows its own scripts, inline styles and images only', async () => {
    const response = await t.request('GET', '/api/auth/me', t.adminToken);
    const csp = directives(response.headers['content-security-policy']);
    expect(csp.get('default-src')).toBe("'self'");
    expect(csp.get('script-src')).toBe("'self'");
    expect(csp.get('style-src')).toBe("'self' 'unsafe-inline'");
    expect(csp.get('img-src')).toBe("'self' data: blob:");
    expect(csp.get('connect-src')).toBe("'self'");
    expect(csp.get('font-src')).toBe("'self' data:");
    expect(csp.get('object-src')).toBe("'none'");
    expect(csp.get('frame-ancestors')).toBe("'none'");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
  });

  it('when a request is refused before any route runs (405, 404), then the headers are there too', async () => {
    for (const [method, url] of [
      ['DELETE', '/api/auth/login'],
      ['GET', '/api/nothing-here'],
    ] as const) {
      const response = await t.app.inject({ method, url });
      expect(response.headers['x-content-type-options'], url).toBe('nosniff');
      expect(response.headers['content-security-policy'], url).toContain("frame-ancestors 'none'");
    }
  });

  it('when served over plain http, then there is no HSTS and no upgrade-insecure-requests', async () => {
    const response = await t.request('GET', '/healthz');
    expect(response.headers['strict-transport-security']).toBeUndefined();
    expect(directives(response.headers['content-security-policy']).has('upgrade-insecure-requests')).toBe(false);
  });

  it('on a local install, /docs, /openapi.json and /metrics stay open for the developer', async () => {
    expect((await t.request('GET', '/openapi.json')).statusCode).toBe(200);
    expect((await t.request('GET', '/docs/')).statusCode).toBe(200);
    expect((await t.request('GET', '/metrics')).statusCode).toBe(200);
  });
});

describe('a public install (PUBLIC_BASE_URL on https)', () => {
  let t: TestApp;
  const token = 'metrics-token-for-tests-0123456789';
  beforeAll(async () => {
    t = await startTestApp({ env: { PUBLIC_BASE_URL: 'https://jingxun.example.gov.cn', METRICS_TOKEN: token } });
  });
  afterAll(() => t.close());

  it('sends HSTS and asks browsers to upgrade insecure requests', async () => {
    const response = await t.request('GET', '/healthz');
    expect(response.headers['strict-transport-security']).toMatch(/max-age=\d{7,}/);
    expect(directives(response.headers['content-security-policy']).has('upgrade-insecure-requests')).toBe(true);
  });

  it('keeps /docs and /openapi.json closed unless API_DOCS=on', async () => {
    expect((await t.request('GET', '/openapi.json')).statusCode).toBe(404);
    expect((await t.request('GET', '/docs/')).statusCode).toBe(404);
    expect((await t.request('GET', '/docs')).statusCode).toBe(404);
  });

  it('refuses /metrics without the METRICS_TOKEN bearer and serves it with it', async () => {
    const none = await t.request('GET', '/metrics');
    expect(none.statusCode).toBe(401);
    expect(none.json().code).toBe('unauthorized');
    expect(none.body).not.toContain('jingxun_');
    expect((await t.request('GET', '/metrics', 'wrong-token')).statusCode).toBe(401);
    const good = await t.request('GET', '/metrics', token);
    expect(good.statusCode).toBe(200);
    expect(good.body).toContain('jingxun_http_request_duration_seconds');
  });
});

describe('a public install without METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { PUBLIC_BASE_URL: 'https://jingxun.example.gov.cn', API_DOCS: 'on', HSTS: 'off' } });
  });
  afterAll(() => t.close());

  it('does not serve /metrics at all, serves the docs when asked to, and sends no HSTS when told not to', async () => {
    expect((await t.request('GET', '/metrics')).statusCode).toBe(404);
    expect((await t.request('GET', '/openapi.json')).statusCode).toBe(200);
    expect((await t.request('GET', '/healthz')).headers['strict-transport-security']).toBeUndefined();
  });
});

describe('configuration of headers and operations endpoints', () => {
  it('stops on a short METRICS_TOKEN or an unknown HSTS / API_DOCS value, naming the variable', async () => {
    const { loadConfig } = await import('../../src/config.js');
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow('METRICS_TOKEN');
    expect(() => loadConfig({ HSTS: 'yes' })).toThrow('HSTS');
    expect(() => loadConfig({ API_DOCS: 'public' })).toThrow('API_DOCS');
  });

  it('treats only a loopback PUBLIC_BASE_URL as a local install', async () => {
    const { loadConfig } = await import('../../src/config.js');
    expect(loadConfig({}).apiDocs).toBe(true);
    expect(loadConfig({ PUBLIC_BASE_URL: 'http://localhost:3000' }).metricsOpen).toBe(true);
    expect(loadConfig({ HOST: '0.0.0.0' }).apiDocs).toBe(false);
    expect(loadConfig({ PUBLIC_BASE_URL: 'http://10.1.2.3' }).metricsOpen).toBe(false);
  });
});

// Every error the service can give has the one body {statusCode, code, message} in Chinese,
// Fastify's own (router, content-type parser, body limit) and multipart's included; an
// unsupported method on a known path is a 405 with an Allow header, never a 404 or a 500.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';

const HAN = /[\u4e00-\u9fff]/;

function expectErrorBody(body: string, statusCode: number) {
  const json = JSON.parse(body);
  expect(Object.keys(json).filter((k) => k !== 'field').sort()).toEqual(['code', 'message', 'statusCode']);
  expect(json.statusCode).toBe(statusCode);
  expect(json.code).toMatch(/^[a-z_]+$/);
  expect(json.message).toMatch(HAN);
  return json as { statusCode: number; code: string; message: string };
}

describe('error bodies and methods', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startTestApp({ env: { BODY_LIMIT_BYTES: '4096' } });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(() => t.close());

  /** A raw request over the socket, for methods and bodies app.inject would tidy up. */
  function raw(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string) {
    return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  describe('malformed multipart', () => {
    const uploads = ['/api/media', '/api/groups/import', '/api/regions/import'];
    const auth = () => ({ authorization: `Bearer ${t.adminToken}` });

    it('when the multipart content type has no boundary, then each upload answers a clear 400', async () => {
      for (const url of uploads) {
        const response = await raw('POST', url, { ...auth(), 'content-type': 'multipart/form-data' }, 'x');
        expect(response.status, url).toBe(400);
        expect(expectErrorBody(response.body, 400).message, url).toContain('multipart');
      }
    });

    it('when the body stops before its closing boundary, then each upload answers a clear 400', async () => {
      const boundary = 'cutcutcut';
      const cut = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\nname,code\r\n`;
      for (const url of uploads) {
        const response = await raw(
          'POST',
          url,
          { ...auth(), 'content-type': `multipart/form-data; boundary=${boundary}` },
          cut,
        );
        expect(response.status, url).toBe(400);
        expectErrorBody(response.body, 400);
      }
    });

    it('when a part header is garbage, then the upload answers 400', async () => {
      const response = await raw(
        'POST',
        '/api/media',
        { ...auth(), 'content-type': 'multipart/form-data; boundary=b' },
        '--b\r\nno header here\r\n\r\n\r\n--b--\r\n',
      );
      expect(response.status).toBe(400);
      expectErrorBody(response.body, 400);
    });
  });

  it('when an upload carries a second part or a form field, then it is a 400, not a 413', async () => {
    const boundary = 'twoparts';
    const body =
      `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\nx\r\n` +
      `--${boundary}--\r\n`;
    const response = await raw(
      'POST',
      '/api/media',
      { authorization: `Bearer ${t.adminToken}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
    );
    expect(response.status).toBe(400);
    expect(expectErrorBody(response.body, 400).message).toContain('file');
  });

  it('when a path parameter is longer than the router allows, then it answers 414 in the one error body', async () => {
    const response = await t.request('GET', `/api/users/${'a'.repeat(150)}`, t.adminToken);
    expect(response.statusCode).toBe(414);
    expect(expectErrorBody(response.body, 414).code).toBe('uri_too_long');
  });

  it('when the JSON body is broken, empty, too large or of an unknown type, then the 4xx is in Chinese', async () => {
    const cases: { headers: Record<string, string>; body: string; status: number }[] = [
      { headers: { 'content-type': 'application/json' }, body: '{"username":', status: 400 },
      { headers: { 'content-type': 'application/json' }, body: '', status: 400 },
      { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: 'y'.repeat(5000) }), status: 413 },
      { headers: { 'content-type': 'application/x-unknown' }, body: 'x', status: 415 },
      { headers: { 'content-type': 'application/json' }, body: '{"__proto__":{"a":1}}', status: 400 },
    ];
    for (const c of cases) {
      const response = await raw('POST', '/api/auth/login', c.headers, c.body);
      expect(response.status, c.body.slice(0, 20)).toBe(c.status);
      expectErrorBody(response.body, c.status);
    }
  });

  it('when the route does not exist, then it answers 404 in the one error body', async () => {
    const response = await raw('GET', '/api/nothing-here');
    expect(response.status).toBe(404);
    expect(expectErrorBody(response.body, 404).code).toBe('not_found');
  });

  it('when a known path is called with a method it does not serve, then it answers 405 with Allow', async () => {
    for (const [method, path, allowed] of [
      ['DELETE', '/api/auth/login', ['POST']],
      ['PUT', '/api/users/0123456789abcdef01234567', ['GET', 'HEAD', 'PATCH']],
      ['TRACE', '/api/regions', ['GET', 'HEAD', 'POST']],
      ['QUERY', '/api/regions', ['GET', 'HEAD', 'POST']],
      ['TRACE', '/n/0123456789abcdef01234567', ['GET', 'HEAD']],
      // GET reaches the console's history fallback, not the not-found handler (fuzz ST204).
      ['GET', '/api/auth/login', ['POST']],
      ['GET', '/api/campaigns/0123456789abcdef01234567/approve', ['POST']],
      ['GET', '/n/0123456789abcdef01234567/tips', ['POST']],
    ] as const) {
      const response = await raw(method, path, { authorization: `Bearer ${t.adminToken}` });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(String(response.headers.allow).split(', ').sort(), `${method} ${path}`).toEqual([...allowed].sort());
      expect(expectErrorBody(response.body, 405).code).toBe('method_not_allowed');
    }
  });

  it('when a method is unknown on an unknown path, then it is still a 404, not a 405', async () => {
    const response = await raw('TRACE', '/api/nothing-here');
    expect(response.status).toBe(404);
    expectErrorBody(response.body, 404);
  });
});

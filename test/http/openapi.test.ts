// The OpenAPI document describes the API as it answers: error answers with the one error
// body, public routes without bearer security, defaults not required, uploads with a
// multipart body, the server's own rules in the schemas, the tracked link as a redirect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';

type Operation = {
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean; schema: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
};

describe('the OpenAPI document', () => {
  let t: TestApp;
  let paths: Record<string, Record<string, Operation>>;
  const op = (path: string, method: string): Operation => {
    const found = paths[path]?.[method];
    if (!found) throw new Error(`${method} ${path} is not documented`);
    return found;
  };
  const errorRef = { $ref: '#/components/schemas/ErrorBody' };

  beforeAll(async () => {
    t = await startTestApp();
    paths = (await t.request('GET', '/openapi.json')).json().paths;
  });
  afterAll(() => t.close());

  it('documents 401 and 403 with the shared ErrorBody on every operation that needs a login', async () => {
    const protectedOps = t.app.accessTable.filter((entry) => !entry.access.public);
    expect(protectedOps.length).toBeGreaterThan(30);
    for (const entry of protectedOps) {
      const operation = op(entry.url.replace(/:(\w+)/g, '{$1}'), entry.method.toLowerCase());
      for (const status of ['401', '403'])
        expect(operation.responses[status]?.content?.['application/json']?.schema, `${status} ${entry.url}`).toEqual(
          errorRef,
        );
    }
  });

  it('documents 400 where there is input, 404 where there is an id, 409 on writes and 429 where limited', async () => {
    expect(Object.keys(op('/api/users/{id}', 'patch').responses)).toEqual(
      expect.arrayContaining(['400', '401', '403', '404', '409', '413']),
    );
    expect(Object.keys(op('/api/auth/login', 'post').responses)).toEqual(expect.arrayContaining(['400', '429']));
    expect(Object.keys(op('/api/groups/import', 'post').responses)).toEqual(
      expect.arrayContaining(['400', '413', '422']),
    );
    expect(op('/api/auth/me', 'get').responses['404']).toBeUndefined();
    // A region named in the query may be out of scope; wrong credentials on the public login.
    expect(Object.keys(op('/api/reach', 'get').responses)).toContain('404');
    expect(Object.keys(op('/api/auth/login', 'post').responses)).toContain('401');
    // The router's own limit on path parameters.
    expect(Object.keys(op('/t/{code}', 'get').responses)).toContain('414');
  });

  it('gives every public route an empty security requirement and keeps bearer on the rest', async () => {
    for (const [path, method] of [
      ['/t/{code}', 'get'],
      ['/n/{noticeId}', 'get'],
      ['/media/{sha256}', 'get'],
      ['/api/auth/login', 'post'],
      ['/api/manual-tasks/{id}', 'get'],
      ['/api/manual-tasks/{id}/confirm', 'post'],
    ]) {
      expect(op(path!, method!).security, `${method} ${path}`).toEqual([]);
    }
    expect(op('/api/users', 'get').security).toBeUndefined();
  });

  it('does not mark parameters with a default as required', async () => {
    const param = (path: string, method: string, name: string) =>
      op(path, method).parameters?.find((p) => p.name === name);
    expect(param('/api/manual-tasks', 'get', 'limit')?.required).not.toBe(true);
    expect(param('/api/groups/import', 'post', 'dryRun')?.required).not.toBe(true);
    expect(param('/api/groups/import', 'post', 'partial')?.required).not.toBe(true);
    expect(param('/api/groups/export', 'get', 'format')?.required).not.toBe(true);
    const campaign = op('/api/campaigns', 'post').requestBody?.content['application/json']?.schema as {
      required: string[];
      properties: { audience: { required?: string[]; properties: Record<string, unknown> } };
    };
    expect(campaign.required).toContain('audience');
    expect(Object.keys(campaign.properties.audience.properties)).toContain('regions');
    expect(campaign.properties.audience.required ?? []).toEqual([]);
  });

  it('describes uploads as a multipart body with a binary file part', async () => {
    for (const path of ['/api/media', '/api/groups/import', '/api/regions/import']) {
      const schema = op(path, 'post').requestBody?.content['multipart/form-data']?.schema;
      expect(schema, path).toMatchObject({ required: ['file'], properties: { file: { format: 'binary' } } });
    }
  });

  it('documents the tracked link as a 302 redirect and the pages residents see as HTML', async () => {
    const tracked = op('/t/{code}', 'get').responses;
    expect(Object.keys(tracked)).toContain('302');
    expect(tracked['200']).toBeUndefined();
    expect(tracked['404']?.content?.['text/html']).toBeDefined();
    expect(op('/n/{noticeId}', 'get').responses['200']?.content?.['text/html']).toBeDefined();
  });

  it('states the server’s own rules: passwords of at least 10 characters, dates as dates', async () => {
    const userBody = op('/api/users', 'post').requestBody?.content['application/json']?.schema as {
      properties: Record<string, { minLength?: number }>;
    };
    expect(userBody.properties.password?.minLength).toBe(10);
    const change = op('/api/auth/password', 'post').requestBody?.content['application/json']?.schema as {
      properties: Record<string, { minLength?: number }>;
    };
    expect(change.properties.newPassword?.minLength).toBe(10);
    for (const name of ['from', 'to']) {
      const audit = op('/api/audit', 'get').parameters?.find((p) => p.name === name);
      expect(audit?.schema.format, `audit ${name}`).toBe('date-time');
      const reach = op('/api/reach', 'get').parameters?.find((p) => p.name === name);
      expect(reach?.schema.pattern ?? reach?.schema.format, `reach ${name}`).toBeTruthy();
    }
  });
});

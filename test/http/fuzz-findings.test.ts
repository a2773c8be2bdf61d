// Defects the schema-driven fuzz run (npm run fuzz) found, each pinned by a test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { noticeBody } from '../helpers/notices.js';

describe('found by the fuzz run', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('when text for an image card holds control characters or lone surrogates, then it still renders', async () => {
    const created = await t.request(
      'POST',
      '/api/notices',
      t.adminToken,
      noticeBody({ title: 'a\u0000b\u001bc\u007f', body: 'x\u0001y\ud800z\n\n正文' }),
    );
    expect(created.statusCode, created.body).toBe(201);
    const response = await t.request('POST', `/api/notices/${created.json().id}/preview/image`, t.adminToken, {
      format: 'png',
      personal: { townshipName: '', villageName: "|\u001b\u00d0\u009e:\u00e8\u00dd\u0000'\u001a\udb1a\udcbcY0?>" },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('image/png');
  });

  it('when a static path is called with a method only a parameter route serves, then it is a 405 naming its own methods', async () => {
    for (const method of ['PATCH', 'GET', 'OPTIONS'] as const) {
      const response = await t.app.inject({
        method,
        url: '/api/regions/import',
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      expect(response.statusCode, method).toBe(405);
      expect(response.headers.allow, method).toBe('POST');
    }
  });
});

// /media/<sha256> (issue 26, finding 5): an unknown hash is a 404 by the store's key before any
// other work; whether a picture is withheld is asked by key, and the notices are read only for
// a picture some withdrawn notice used; a generous per-address limit.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NoticeModel } from '../../src/notices/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { photo } from '../helpers/images.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { upload } from '../helpers/upload.js';

describe('the public picture address', () => {
  let t: TestApp;
  let sha256: string;

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    const editor = await t.userToken('editor', TREE.countyA.code);
    const uploaded = await upload(t, '/api/media', editor.token, 'a.jpg', await photo(120, 90), 'image/jpeg');
    expect(uploaded.statusCode, uploaded.body).toBe(201);
    sha256 = uploaded.json().sha256;
  });
  afterAll(() => {
    vi.restoreAllMocks();
    return t.close();
  });

  it('answers an unknown hash 404 without asking whether it is withheld', async () => {
    const withheld = vi.spyOn(t.ctx.notices, 'pictureWithdrawn');
    const answer = await t.app.inject({ method: 'GET', url: `/media/${randomBytes(32).toString('hex')}` });
    expect(answer.statusCode).toBe(404);
    expect(withheld).not.toHaveBeenCalled();
    withheld.mockRestore();
  });

  it('serves a picture no withdrawn notice used without reading the notices', async () => {
    const scans = vi.spyOn(NoticeModel, 'find');
    const answer = await t.app.inject({ method: 'GET', url: `/media/${sha256}` });
    expect(answer.statusCode).toBe(200);
    expect(scans).not.toHaveBeenCalled();
    scans.mockRestore();
  });

  it('limits one address to 600 requests a minute, another address is unaffected', async () => {
    const missing = randomBytes(32).toString('hex');
    const ask = (from: string) =>
      t.app.inject({ method: 'GET', url: `/media/${missing}`, remoteAddress: from }).then((r) => r.statusCode);
    const codes: number[] = [];
    for (let i = 0; i < 601; i += 1) codes.push(await ask('198.51.100.9'));
    expect(codes.slice(0, 600).every((code) => code === 404)).toBe(true);
    expect(codes[600]).toBe(429);
    expect(await ask('198.51.100.10')).toBe(404);
  });
});

import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { blankPng, multipartFile, photo } from '../helpers/images.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('media upload and the public picture address', () => {
  let t: TestApp;
  let editor: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { PUBLIC_BASE_URL: 'https://jx.example.cn' } });
    await createRegionTree(t);
    editor = (await t.userToken('editor', TREE.countyA.code)).token;
  });
  afterAll(() => t.close());

  function upload(filename: string, contentType: string, data: Buffer, token = editor) {
    const { payload, headers } = multipartFile('file', filename, contentType, data);
    return t.app.inject({
      method: 'POST',
      url: '/api/media',
      payload,
      headers: { ...headers, authorization: `Bearer ${token}` },
    });
  }

  it('stores a JPEG under the SHA-256 of its normalised bytes and serves it publicly', async () => {
    const response = await upload('photo.jpg', 'image/jpeg', await photo(640, 480));
    expect(response.statusCode, response.body).toBe(201);
    const stored = response.json();
    expect(stored).toMatchObject({ mime: 'image/jpeg', width: 640, height: 480 });
    expect(stored.url).toBe(`https://jx.example.cn/media/${stored.sha256}`);

    const fetched = await t.request('GET', `/media/${stored.sha256}`);
    expect(fetched.statusCode).toBe(200);
    expect(fetched.headers['content-type']).toBe('image/jpeg');
    expect(fetched.headers['cache-control']).toBe('public, max-age=60');
    expect(createHash('sha256').update(fetched.rawPayload).digest('hex')).toBe(stored.sha256);
    expect(fetched.rawPayload.length).toBe(stored.bytes);
  });

  it('when the same picture is uploaded twice, then it is stored once', async () => {
    const data = await photo(300, 200, 'png');
    const first = (await upload('a.png', 'image/png', data)).json();
    const second = (await upload('b.png', 'image/png', data)).json();
    expect(second.sha256).toBe(first.sha256);
    const files = await t.ctx.db.connection
      .db!.collection('media.files')
      .countDocuments({ _id: first.sha256 } as never);
    expect(files).toBe(1);
  });

  it('applies EXIF orientation and strips metadata', async () => {
    const rotated = await sharp(await photo(200, 100))
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    expect((await sharp(rotated).metadata()).orientation).toBe(6);
    const stored = (await upload('camera.jpg', 'image/jpeg', rotated)).json();
    expect(stored).toMatchObject({ width: 100, height: 200 });
    const served = (await t.request('GET', `/media/${stored.sha256}`)).rawPayload;
    const meta = await sharp(served).metadata();
    expect(meta.orientation).toBeUndefined();
    expect(meta.exif).toBeUndefined();
  });

  it('caps the longest side at 2048 pixels', async () => {
    const stored = (await upload('big.jpg', 'image/jpeg', await photo(4000, 1000))).json();
    expect(stored).toMatchObject({ width: 2048, height: 512 });
  });

  it('when a PNG is named .jpg, then it is accepted as the PNG it is', async () => {
    const response = await upload('really-a-png.jpg', 'image/jpeg', await photo(120, 80, 'png'));
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().mime).toBe('image/png');
  });

  it('accepts WebP and stores it as JPEG (what WeCom takes)', async () => {
    const webp = await sharp(await photo(160, 90))
      .webp()
      .toBuffer();
    const response = await upload('x.webp', 'image/webp', webp);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().mime).toBe('image/jpeg');
  });

  it.each([
    ['a text file named .png', 'notes.png', 'image/png', Buffer.from('这不是图片，只是一段文字。\n'.repeat(20))],
    [
      'an SVG',
      'logo.svg',
      'image/svg+xml',
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>',
      ),
    ],
    ['an empty file', 'empty.jpg', 'image/jpeg', Buffer.alloc(0)],
  ])('refuses %s with a 400, storing nothing', async (_name, filename, type, data) => {
    const files = t.ctx.db.connection.db!.collection('media.files');
    const before = await files.countDocuments();
    const response = await upload(filename, type, data);
    expect(await files.countDocuments()).toBe(before);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({ code: 'invalid_input', field: 'file' });
    expect(response.json().message).toMatch(/[\u4e00-\u9fff]/);
  });

  it('refuses an SVG saying why', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
    );
    expect((await upload('x.png', 'image/png', svg)).json().message).toContain('SVG');
  });

  it('refuses a 30,000 × 30,000 PNG (decompression bomb) with a 400 and keeps serving', async () => {
    const bomb = blankPng(30_000, 30_000);
    expect(bomb.length).toBeLessThan(1_000_000);
    const response = await upload('bomb.png', 'image/png', bomb);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().message).toContain('30000×30000');
    expect((await upload('ok.png', 'image/png', await photo(50, 50, 'png'))).statusCode).toBe(201);
  });

  it('refuses a truncated JPEG with a 400', async () => {
    const whole = await photo(800, 600);
    const response = await upload('cut.jpg', 'image/jpeg', whole.subarray(0, Math.floor(whole.length / 2)));
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().message).toContain('损坏');
  });

  it('refuses an upload that is not multipart, and an unknown picture address answers 404', async () => {
    const response = await t.request('POST', '/api/media', editor, { file: 'x' });
    expect([400, 415]).toContain(response.statusCode);
    expect((await t.request('GET', `/media/${'0'.repeat(64)}`)).statusCode).toBe(404);
    expect((await t.request('GET', '/media/not-a-hash')).statusCode).toBe(400);
  });

  it('refuses uploads by viewers', async () => {
    const viewer = (await t.userToken('viewer', TREE.countyA.code)).token;
    expect((await upload('a.jpg', 'image/jpeg', await photo(10, 10), viewer)).statusCode).toBe(403);
  });

  it('logged no unhandled error for any of the bad files above', () => {
    expect(t.logs()).not.toContain('unhandled error');
  });
});

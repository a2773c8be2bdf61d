import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_LIMITS } from '../../src/channels/limits.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { multipartFile, photo } from '../helpers/images.js';
import { WANTED, noticeBody } from '../helpers/notices.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('card previews over HTTP', () => {
  let t: TestApp;
  let editor: string;
  let reviewer: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { PUBLIC_BASE_URL: 'https://jx.example.cn' } });
    await createRegionTree(t);
    editor = (await t.userToken('editor', TREE.countyA.code)).token;
    reviewer = (await t.userToken('reviewer', TREE.countyA.code)).token;
  });
  afterAll(() => t.close());

  async function uploadPhoto(): Promise<string> {
    const { payload, headers } = multipartFile('file', 'suspect.jpg', 'image/jpeg', await photo(600, 800));
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/media',
      payload,
      headers: { ...headers, authorization: `Bearer ${editor}` },
    });
    return response.json().sha256;
  }

  async function createNotice(overrides: Record<string, unknown> = {}): Promise<string> {
    const response = await t.request('POST', '/api/notices', editor, noticeBody(overrides));
    expect(response.statusCode, response.body).toBe(201);
    return response.json().id;
  }

  it('previews a text card for every channel and format within its byte limit', async () => {
    const id = await createNotice({ body: '冒充客服退款诈骗高发，请勿点击陌生链接。'.repeat(1000) });
    for (const channel of ['wecom', 'dingtalk', 'feishu', 'webhook', 'manual'] as const) {
      for (const format of ['text', 'markdown', 'link'] as const) {
        const response = await t.request('POST', `/api/notices/${id}/preview/text`, editor, { format, channel });
        expect(response.statusCode, response.body).toBe(200);
        const card = response.json();
        // DingTalk and Feishu limit the whole request body: the card is cut on its body's size.
        if (channel === 'dingtalk' || channel === 'feishu') {
          expect(card.measuredOn).toBe('body');
          expect(card.bodyBytes).toBeLessThanOrEqual(card.maxBytes);
        } else {
          expect(card.maxBytes).toBe(CHANNEL_LIMITS[channel][format]);
          expect(Buffer.byteLength(card.content, 'utf8')).toBeLessThanOrEqual(card.maxBytes);
        }
        expect(card.truncated).toBe(true);
        expect(card.url).toBe(`https://jx.example.cn/n/${id}`);
      }
    }
  });

  it('honours a WeCom text limit configured up to 4096 bytes', async () => {
    const id = await createNotice({ body: '防范电信网络诈骗。'.repeat(1000) });
    const response = await t.request('POST', `/api/notices/${id}/preview/text`, editor, {
      format: 'text',
      channel: 'wecom',
      wecomTextMaxBytes: 4096,
    });
    expect(response.json().maxBytes).toBe(4096);
    expect(response.json().bytes).toBeGreaterThan(2048);
    expect(response.json().bytes).toBeLessThanOrEqual(4096);
  });

  it('previews a personalised image card of a wanted-clue notice with its photo', async () => {
    const sha256 = await uploadPhoto();
    const id = await createNotice({ category: 'wanted_clue', wanted: WANTED, media: [{ sha256 }] });
    const response = await t.request('POST', `/api/notices/${id}/preview/image`, reviewer, {
      format: 'png',
      personal: {
        villageName: '华工社区',
        townshipName: '五山街道',
        officerName: '张警官',
        officerPhone: '13800138000',
      },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('image/png');
    const meta = await sharp(response.rawPayload).metadata();
    expect(meta.width).toBe(750);
    expect(String(meta.height)).toBe(response.headers['x-card-height']);
    expect(response.rawPayload.length).toBeLessThanOrEqual(CHANNEL_LIMITS.wecom.image);
  });

  it('previews an approved version as JPEG, and the link card points at the picture’s public address', async () => {
    const sha256 = await uploadPhoto();
    const id = await createNotice({ media: [{ sha256 }] });
    await t.request('POST', `/api/notices/${id}/submit`, editor);
    await t.request('POST', `/api/notices/${id}/approve`, reviewer, {});
    const image = await t.request('POST', `/api/notices/${id}/preview/image`, editor, { format: 'jpeg', version: 1 });
    expect(image.headers['content-type']).toBe('image/jpeg');
    expect((await sharp(image.rawPayload).metadata()).format).toBe('jpeg');
    const link = await t.request('POST', `/api/notices/${id}/preview/text`, editor, { format: 'link', version: 1 });
    expect(link.json().pictureUrl).toBe(`https://jx.example.cn/media/${sha256}`);
  });

  it('refuses a version that was never approved, an unknown format and a blank village name', async () => {
    const id = await createNotice();
    expect(
      (await t.request('POST', `/api/notices/${id}/preview/text`, editor, { format: 'text', version: 3 })).statusCode,
    ).toBe(404);
    expect((await t.request('POST', `/api/notices/${id}/preview/text`, editor, { format: 'html' })).statusCode).toBe(
      400,
    );
    const blank = await t.request('POST', `/api/notices/${id}/preview/image`, editor, {
      personal: { villageName: '  ' },
    });
    expect(blank.statusCode).toBe(400);
    expect(blank.json().field).toContain('villageName');
  });

  it('draws a notice with emoji and rare characters, naming the characters the font lacks', async () => {
    const id = await createNotice({ title: '注意😀', body: '“𠮷”字和🇨🇳' });
    const response = await t.request('POST', `/api/notices/${id}/preview/image`, editor, {});
    expect(response.statusCode).toBe(200);
    expect(decodeURIComponent(String(response.headers['x-card-missing-glyphs']))).toContain('𠮷');
  });
});

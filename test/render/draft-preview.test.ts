import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

const content = {
  category: 'anti_fraud',
  title: '警惕冒充公检法诈骗',
  body: '公检法机关不会通过电话办案。\n\n- 不转账\n- 不透露验证码',
  issuingUnit: '天河区公安分局',
};

describe('previews of unsaved notice content (the console’s live preview)', () => {
  let t: TestApp;
  let editor: string;
  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    editor = (await t.userToken('editor', TREE.countyA.code)).token;
  });
  afterAll(() => t.close());

  it('renders every channel’s text card with its byte count against the channel’s limit', async () => {
    const response = await t.request('POST', '/api/previews/text', editor, { content });
    expect(response.statusCode, response.body).toBe(200);
    const { cards, missingGlyphs } = response.json();
    expect(cards.map((c: { channel: string }) => c.channel)).toEqual([
      'wecom',
      'dingtalk',
      'feishu',
      'webhook',
      'manual',
      'wecom_group',
    ]);
    // WeCom customer-group mass send: a link card within its 4,000-byte text limit.
    expect(cards[5]).toMatchObject({ format: 'link', sentAs: 'text', error: null });
    const wecom = cards[0];
    expect(wecom).toMatchObject({ format: 'markdown', maxBytes: 4096, truncated: false, sentAs: 'text' });
    expect(wecom.bytes).toBe(Buffer.byteLength(wecom.content));
    expect(wecom.content).toContain('公检法机关不会通过电话办案');
    expect(cards[1].format).toBe('link');
    expect(missingGlyphs).toEqual([]);
  });

  it('cuts a 20,000-character body to each limit on a character boundary and says so', async () => {
    const response = await t.request('POST', '/api/previews/text', editor, {
      content: { ...content, body: '防'.repeat(20_000) },
      cardStyle: 'text',
    });
    const wecom = response.json().cards[0];
    expect(wecom).toMatchObject({ format: 'text', truncated: true, maxBytes: 2048 });
    expect(wecom.bytes).toBeLessThanOrEqual(2048);
  });

  it('names the characters the card font cannot draw', async () => {
    const response = await t.request('POST', '/api/previews/text', editor, {
      content: { ...content, title: '𠀋警示' },
    });
    expect(response.json().missingGlyphs).toEqual(['𠀋']);
  });

  it('draws the image card, personalised for a village, as PNG', async () => {
    const response = await t.request('POST', '/api/previews/image', editor, {
      content,
      personal: { villageName: '华工社区', officerName: '张警官', officerPhone: '13800000000' },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('image/png');
    expect(response.rawPayload.subarray(1, 4).toString()).toBe('PNG');
  });

  it('refuses an image card without a title, naming the field', async () => {
    const response = await t.request('POST', '/api/previews/image', editor, { content: { ...content, title: ' ' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().field).toBe('content.title');
  });

  it('is not open to viewers', async () => {
    const viewer = (await t.userToken('viewer', TREE.countyA.code)).token;
    expect((await t.request('POST', '/api/previews/text', viewer, { content })).statusCode).toBe(403);
  });
});

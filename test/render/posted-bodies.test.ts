// Previews are what is posted: for every channel and format, the preview's body size is the
// size of the request the channel's adapter sends for that card, measured on the wire, and
// channels that limit the whole body get cards whose body fits.
import { doublesOutbound } from '../helpers/channels.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDingtalkAdapter } from '../../src/channels/dingtalk/adapter.js';
import { createFeishuAdapter } from '../../src/channels/feishu/adapter.js';
import { PREVIEW_WEBHOOK_TARGET } from '../../src/channels/request-body.js';
import type { ChannelAdapter, ChannelTarget } from '../../src/channels/types.js';
import { createWebhookAdapter } from '../../src/channels/webhook/adapter.js';
import { createWecomAdapter } from '../../src/channels/wecom/adapter.js';
import { systemClock } from '../../src/lib/clock.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { noticeBody } from '../helpers/notices.js';

/** Records each request body's bytes exactly as they arrive, and accepts in every platform's words. */
class WireRecorder {
  bodies: Buffer[] = [];
  #server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.bodies.push(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"errcode":0,"errmsg":"ok","code":0,"msg":"success"}');
    });
  });
  url = '';
  async start() {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }
  close() {
    return new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

const LINE = '近期冒充客服退款诈骗多发，“客服”称商品有质量问题要退款，诱导下载软件、开启屏幕共享。\n';
const LONG_BODY = LINE.repeat(Math.ceil(20_000 / LINE.length)).slice(0, 20_000);

describe('previews are what is posted', () => {
  let t: TestApp;
  const wire = new WireRecorder();
  let longNotice: string;
  let escapedNotice: string;
  const adapters: Record<string, { adapter: ChannelAdapter; target: ChannelTarget }> = {};

  beforeAll(async () => {
    await wire.start();
    t = await startTestApp();
    const created = async (body: Record<string, unknown>) =>
      (await t.request('POST', '/api/notices', t.adminToken, noticeBody(body))).json().id as string;
    longNotice = await created({ body: LONG_BODY });
    escapedNotice = await created({
      title: '别点<陌生>链接',
      body: '有人发来 <script>alert(1)</script> 和 {{#each 群}} 这样的文字，还有 [假链接](http://x.cn) 和 **重要** 二字。',
    });
    const base = { timeoutMs: 5_000, clock: systemClock, outbound: doublesOutbound() };
    const robot = (credentials: ChannelTarget['credentials']): ChannelTarget => ({
      ...PREVIEW_WEBHOOK_TARGET,
      credentials,
    });
    adapters.wecom = {
      adapter: createWecomAdapter({ ...base, baseUrl: wire.url }),
      target: robot({ kind: 'wecom', key: 'k-1' }),
    };
    adapters.dingtalk = {
      adapter: createDingtalkAdapter({ ...base, baseUrl: wire.url }),
      target: robot({ kind: 'dingtalk', accessToken: 'tok-1', secret: 'SECsecret', keyword: null }),
    };
    adapters.feishu = {
      adapter: createFeishuAdapter({ ...base, baseUrl: wire.url }),
      target: robot({ kind: 'feishu', hookId: 'hook-1', secret: 'feishu-secret', keyword: null }),
    };
    adapters.webhook = {
      adapter: createWebhookAdapter(base),
      target: robot({ kind: 'webhook', url: `${wire.url}/hook`, secret: 'webhook-secret' }),
    };
  });
  afterAll(async () => {
    await t.close();
    await wire.close();
  });

  const preview = async (id: string, channel: string, format: string) => {
    const response = await t.request('POST', `/api/notices/${id}/preview/text`, t.adminToken, { channel, format });
    expect(response.statusCode, `${channel}/${format}: ${response.body}`).toBe(200);
    return response.json();
  };
  const post = async (channel: string, card: Record<string, unknown>) => {
    const { adapter, target } = adapters[channel]!;
    const before = wire.bodies.length;
    const outcome = await adapter.send(target, {
      type: 'text',
      card: card as never,
    });
    return { outcome, body: wire.bodies[before] };
  };

  for (const channel of ['wecom', 'dingtalk', 'feishu', 'webhook']) {
    for (const format of ['text', 'markdown', 'link']) {
      it(`when a 20,000-character notice is previewed for ${channel} as ${format}, then its body size is the posted body’s, within the limit`, async () => {
        const card = await preview(longNotice, channel, format);
        const { outcome, body } = await post(channel, card);
        expect(outcome.status, JSON.stringify(outcome)).toBe('sent');
        expect(card.bodyBytes).toBe(body!.length);
        if (card.measuredOn === 'body') expect(body!.length).toBeLessThanOrEqual(card.maxBytes);
        else expect(card.bytes).toBeLessThanOrEqual(card.maxBytes);
      });
    }
  }

  it('accepts the webhook and manual channels in the text preview', async () => {
    const manual = await preview(escapedNotice, 'manual', 'text');
    expect(manual.bodyBytes).toBe(Buffer.byteLength(manual.content));
    expect((await preview(escapedNotice, 'webhook', 'markdown')).channel).toBe('webhook');
  });

  it('when a Feishu post is built from a markdown card, then residents read the text as written, and the title once', async () => {
    const card = await preview(escapedNotice, 'feishu', 'markdown');
    const { body } = await post('feishu', card);
    const posted = JSON.parse(body!.toString('utf8'));
    const zh = posted.content.post.zh_cn as {
      title: string;
      content: { tag: string; text: string; href?: string }[][];
    };
    expect(zh.title).toBe('【防诈骗】别点<陌生>链接');
    const lines = zh.content.map((paragraph) => paragraph.map((e) => e.text).join(''));
    expect(lines).not.toContain(zh.title);
    const text = lines.join('\n');
    expect(text).toContain(
      '有人发来 <script>alert(1)</script> 和 {{#each 群}} 这样的文字，还有 [假链接](http://x.cn) 和 重要 二字。',
    );
    expect(text).not.toMatch(/&lt;|\\/);
    // The notice's bracket text is not a link; the card's own 详情 link is.
    const links = zh.content.flat().filter((e) => e.tag === 'a');
    expect(links.map((e) => e.text)).toEqual(['详情']);
  });
});

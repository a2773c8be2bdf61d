import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RobotDoubles } from '../../src/channels/doubles/server.js';
import { classifyWecom } from '../../src/channels/wecom/adapter.js';
import { fixedClock } from '../../src/lib/clock.js';
import { jpegBytes, pngBytes, robotAdapters, target, textCard } from '../helpers/channels.js';

const clock = fixedClock('2026-03-01T02:00:00Z');
const doubles = new RobotDoubles({ clock });
const KEY = '693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa';
const robot = target({ kind: 'wecom', key: KEY });
let wecom: ReturnType<typeof robotAdapters>['wecom'];

beforeAll(async () => {
  await doubles.start();
  doubles.addRobot({ platform: 'wecom', key: KEY });
  wecom = robotAdapters(doubles, clock).wecom;
});
afterAll(() => doubles.close());
beforeEach(() => doubles.reset());

async function post(body: unknown, key = KEY) {
  const response = await fetch(`${doubles.url}/cgi-bin/webhook/send?key=${key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await response.json()) as { errcode: number; errmsg: string };
}

describe('WeCom adapter against its double', () => {
  it('sends a text card as msgtype text to /cgi-bin/webhook/send?key=KEY', async () => {
    expect(await wecom.send(robot, textCard('text', '注意防骗 📱 详情 https://jx.example/n/1'))).toEqual({
      status: 'sent',
    });
    const [message] = doubles.received({ platform: 'wecom' });
    expect(message!.rawQuery).toBe(`key=${KEY}`);
    expect(message!.body).toEqual({ msgtype: 'text', text: { content: '注意防骗 📱 详情 https://jx.example/n/1' } });
  });

  it('sends a markdown card as msgtype markdown', async () => {
    await wecom.send(robot, textCard('markdown', '**防诈骗**\n> 不转账'));
    expect(doubles.received()[0]!.body).toEqual({ msgtype: 'markdown', markdown: { content: '**防诈骗**\n> 不转账' } });
  });

  it('sends a link card as a one-article news message', async () => {
    await wecom.send(robot, textCard('link', '点击查看全文'));
    expect(doubles.received()[0]!.body).toEqual({
      msgtype: 'news',
      news: {
        articles: [
          {
            title: '防诈骗提醒',
            description: '点击查看全文',
            url: 'https://jx.example/n/1',
            picurl: 'https://jx.example/m/1.png',
          },
        ],
      },
    });
  });

  it('sends PNG and JPEG image cards as base64 with the MD5 of the raw bytes', async () => {
    for (const [data, mime] of [
      [await pngBytes(), 'image/png'],
      [await jpegBytes(), 'image/jpeg'],
    ] as const) {
      doubles.reset();
      expect(await wecom.send(robot, { type: 'image', image: { data, mime } })).toEqual({ status: 'sent' });
      expect(doubles.received()[0]!.body).toEqual({
        msgtype: 'image',
        image: { base64: data.toString('base64'), md5: createHash('md5').update(data).digest('hex') },
      });
    }
  });

  it('refuses locally, without a call, an image over 2 MB or one that is not JPG/PNG', async () => {
    const gif = Buffer.from('GIF89a........');
    expect(await wecom.send(robot, { type: 'image', image: { data: gif, mime: 'image/png' } })).toMatchObject({
      status: 'permanent',
      code: 'image_invalid',
    });
    expect(doubles.calls).toBe(0);
  });

  it('the double judges a picture by its own check: a PNG cut short gets past the adapter and is refused by the double', async () => {
    const truncated = (await pngBytes()).subarray(0, 20);
    const md5 = createHash('md5').update(truncated).digest('hex');
    expect(await post({ msgtype: 'image', image: { base64: truncated.toString('base64'), md5 } })).toMatchObject({
      errcode: 40058,
      errmsg: expect.stringMatching(/^image type must be jpg or png/),
    });
    expect(await wecom.send(robot, { type: 'image', image: { data: truncated, mime: 'image/png' } })).toMatchObject({
      status: 'permanent',
      code: 'wecom_40058',
    });
    expect(doubles.received()).toHaveLength(0);
  });

  it('counts the text limit in UTF-8 bytes: 682 Chinese characters (2046 bytes) pass, 683 do not', async () => {
    expect(await wecom.send(robot, textCard('text', '警'.repeat(682)))).toEqual({ status: 'sent' });
    expect(await post({ msgtype: 'text', text: { content: '警'.repeat(683) } })).toMatchObject({ errcode: 40058 });
    expect((await post({ msgtype: 'text', text: { content: '警'.repeat(683) } })).errmsg).toMatch(
      /exceed max length 2048/,
    );
  });

  it('when a robot is configured for the 2025 limit, then 4096-byte texts pass', async () => {
    doubles.addRobot({ platform: 'wecom', key: 'wecom-4096-robot', textMaxBytes: 4096 });
    expect(await post({ msgtype: 'text', text: { content: '警'.repeat(1365) } }, 'wecom-4096-robot')).toMatchObject({
      errcode: 0,
    });
  });

  it('validates like WeCom: unknown type 40008, empty content 44004, markdown over 4096 bytes 40058, news 1–8 articles, image MD5', async () => {
    expect(await post({ msgtype: 'sticker', sticker: {} })).toMatchObject({ errcode: 40008 });
    expect(await post({ msgtype: 'text', text: { content: '  ' } })).toMatchObject({ errcode: 44004 });
    expect(await post({ msgtype: 'markdown', markdown: { content: 'a'.repeat(4097) } })).toMatchObject({
      errcode: 40058,
    });
    expect(await post({ msgtype: 'news', news: { articles: [] } })).toMatchObject({ errcode: 40058 });
    const nine = Array.from({ length: 9 }, () => ({ title: 't', url: 'https://x' }));
    expect(await post({ msgtype: 'news', news: { articles: nine } })).toMatchObject({ errcode: 40058 });
    const png = await pngBytes();
    expect(
      await post({ msgtype: 'image', image: { base64: png.toString('base64'), md5: '0'.repeat(32) } }),
    ).toMatchObject({
      errcode: 40058,
    });
    expect(doubles.received()).toHaveLength(0);
  });

  it('cuts a news title over 128 bytes rather than refusing it, as WeCom does', async () => {
    await post({ msgtype: 'news', news: { articles: [{ title: '标'.repeat(50), url: 'https://x' }] } });
    const article = (doubles.received()[0]!.body.news as { articles: { title: string }[] }).articles[0]!;
    expect(article.title).toBe('标'.repeat(42));
  });

  it('answers an unknown key with 93000 and an errmsg that echoes the caller IP; the adapter keeps the IP out', async () => {
    const answer = await post({ msgtype: 'text', text: { content: 'x' } }, 'no-such-key-000');
    expect(answer.errcode).toBe(93000);
    expect(answer.errmsg).toMatch(/from ip: .*127\.0\.0\.1/);
    const outcome = await wecom.send(target({ kind: 'wecom', key: 'no-such-key-000' }), textCard('text'));
    expect(outcome).toMatchObject({ status: 'permanent', code: 'wecom_93000', groupProblem: true });
    expect(JSON.stringify(outcome)).not.toContain('127.0.0.1');
  });

  it('when 20 messages went out in the last 60 s, then the 21st gets 45009 (retryable after a minute) until the window moves on', async () => {
    for (let i = 0; i < 20; i += 1) {
      expect((await wecom.send(robot, textCard('text'))).status).toBe('sent');
      clock.advance(1_000);
    }
    expect(await wecom.send(robot, textCard('text'))).toMatchObject({
      status: 'retryable',
      code: 'wecom_45009',
      retryAfterMs: 65_000,
    });
    clock.advance(41_000); // the first send is now 61 s old
    expect(await wecom.send(robot, textCard('text'))).toEqual({ status: 'sent' });
    expect(doubles.received()).toHaveLength(21);
  });
});

describe('WeCom error classification (every code in the reference)', () => {
  it.each([
    [0, 'sent', undefined],
    [45009, 'retryable', undefined],
    [93000, 'permanent', true],
    [40058, 'permanent', false],
    [40008, 'permanent', false],
    [44004, 'permanent', false],
    [12345, 'permanent', false],
  ])('errcode %i → %s', (code, status, groupProblem) => {
    const outcome = classifyWecom(code, 'msg, hint: [x], from ip: 1.2.3.4');
    expect(outcome.status).toBe(status);
    if (groupProblem !== undefined) expect(outcome).toMatchObject({ groupProblem });
    expect(JSON.stringify(outcome)).not.toContain('1.2.3.4');
  });
});

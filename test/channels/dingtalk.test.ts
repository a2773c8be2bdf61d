import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { classifyDingtalk } from '../../src/channels/dingtalk/adapter.js';
import { dingtalkSign } from '../../src/channels/dingtalk/sign.js';
import { RobotDoubles } from '../../src/channels/doubles/server.js';
import { fixedClock } from '../../src/lib/clock.js';
import { pngBytes, robotAdapters, target, textCard } from '../helpers/channels.js';

const clock = fixedClock('2026-03-01T02:00:00Z');
const doubles = new RobotDoubles({ clock, dingtalkPenaltyMs: 120_000 });
const SECRET = 'SECb0d3e1f2a3b4c5d6e7f8091a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0';
/**
 * Known answer for SECRET at the clock's time, computed outside the code from reference §2
 * (key = secret, data = timestamp in ms + "\n" + secret, Base64):
 *   printf '%s\n%s' 1772330400000 "$SECRET" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64
 * and the same with Python's hmac. SWAPPED is the Feishu scheme (the string as key, empty data).
 */
const VECTOR = {
  timestamp: '1772330400000',
  sign: 'TtxZSz3KlBJ2oVthHZvGmqr4MA8wN7/nwcW5XC+HjQY=',
  encoded: 'TtxZSz3KlBJ2oVthHZvGmqr4MA8wN7%2FnwcW5XC%2BHjQY%3D',
  swapped: 'CieGBSnHvgUx/Dor/1pnTx/Gp5X9/08xSEQ4uCuj/tI=',
};
const signed = target({ kind: 'dingtalk', accessToken: 'signed-robot-token', secret: SECRET, keyword: null });
const keyworded = target({ kind: 'dingtalk', accessToken: 'keyword-robot-token', secret: null, keyword: '警讯' });
let dingtalk: ReturnType<typeof robotAdapters>['dingtalk'];

beforeAll(async () => {
  await doubles.start();
  doubles.addRobot({ platform: 'dingtalk', token: 'signed-robot-token', secret: SECRET });
  doubles.addRobot({ platform: 'dingtalk', token: 'keyword-robot-token', keywords: ['警讯', '平安'] });
  doubles.addRobot({
    platform: 'dingtalk',
    token: 'ip-robot-token',
    keywords: ['警讯'],
    ipAllowList: ['10.1.2.*', '192.168.0.0/16'],
  });
  dingtalk = robotAdapters(doubles, clock).dingtalk;
});
afterAll(() => doubles.close());
beforeEach(() => doubles.reset());

describe('DingTalk adapter against its double', () => {
  it('signs with timestamp in ms and HMAC keyed by the secret, URL-encoded exactly once', async () => {
    expect(await dingtalk.send(signed, textCard('text'))).toEqual({ status: 'sent' });
    const [message] = doubles.received({ platform: 'dingtalk' });
    const query = new URLSearchParams(message!.rawQuery);
    expect(query.get('access_token')).toBe('signed-robot-token');
    expect(query.get('timestamp')).toBe(VECTOR.timestamp);
    expect(query.get('sign')).toBe(VECTOR.sign);
    // The raw query carries the base64 with + / = percent-encoded once, never twice.
    expect(message!.rawQuery).toContain(`timestamp=${VECTOR.timestamp}&sign=${VECTOR.encoded}`);
    expect(message!.rawQuery).not.toMatch(/%25/);
    expect(message!.body).toEqual({
      msgtype: 'text',
      text: { content: '【防诈骗】不要向陌生账户转账。详情 https://jx.example/n/1' },
    });
  });

  it('sends markdown with its title, and link cards as msgtype link with picUrl', async () => {
    await dingtalk.send(signed, textCard('markdown', '### 防诈骗\n**不转账**'));
    await dingtalk.send(signed, textCard('link', '点击查看'));
    const [markdown, link] = doubles.received();
    expect(markdown!.body).toEqual({
      msgtype: 'markdown',
      markdown: { title: '防诈骗提醒', text: '### 防诈骗\n**不转账**' },
    });
    expect(link!.body).toEqual({
      msgtype: 'link',
      link: {
        title: '防诈骗提醒',
        text: '点击查看',
        messageUrl: 'https://jx.example/n/1',
        picUrl: 'https://jx.example/m/1.png',
      },
    });
  });

  it('sends an image card as markdown with the public picture URL (the webhook has no image type)', async () => {
    const data = await pngBytes();
    await dingtalk.send(signed, {
      type: 'image',
      image: {
        data,
        mime: 'image/png',
        publicUrl: 'https://jx.example/m/card.png',
        title: '防诈骗',
        url: 'https://jx.example/n/1',
      },
    });
    expect(doubles.received()[0]!.body).toEqual({
      msgtype: 'markdown',
      markdown: { title: '防诈骗', text: '![防诈骗](https://jx.example/m/card.png)\n\n[详情](https://jx.example/n/1)' },
    });
    const outcome = await dingtalk.send(signed, { type: 'image', image: { data, mime: 'image/png' } });
    expect(outcome).toMatchObject({ status: 'permanent', code: 'unsupported_message', groupProblem: false });
  });

  it('adds the configured keyword where the content lacks it, so keyword robots accept the message', async () => {
    expect(await dingtalk.send(keyworded, textCard('text', '请勿转账'))).toEqual({ status: 'sent' });
    expect(doubles.received()[0]!.body).toEqual({ msgtype: 'text', text: { content: '请勿转账\n\n警讯' } });
  });

  it('when the message lacks every keyword, then 310000 keywords not in content, permanent and the group is flagged', async () => {
    const noKeyword = target({ kind: 'dingtalk', accessToken: 'keyword-robot-token', secret: null, keyword: '别的词' });
    expect(await dingtalk.send(noKeyword, textCard('text', '请勿转账'))).toMatchObject({
      status: 'permanent',
      code: 'dingtalk_310000',
      groupProblem: true,
    });
  });

  it('when the secret is wrong, then 310000 sign not match; when our clock is 2 h off, then invalid timestamp (not the group’s fault)', async () => {
    const wrong = target({ kind: 'dingtalk', accessToken: 'signed-robot-token', secret: 'SECwrong', keyword: null });
    const bad = await dingtalk.send(wrong, textCard('text'));
    expect(bad).toMatchObject({ status: 'permanent', code: 'dingtalk_310000', groupProblem: true });
    expect((bad as { message: string }).message).toMatch(/sign not match/);
    const skewed = robotAdapters(doubles, fixedClock(new Date(clock.now().getTime() - 2 * 3600_000))).dingtalk;
    const late = await skewed.send(signed, textCard('text'));
    expect(late).toMatchObject({ status: 'permanent', code: 'dingtalk_310000', groupProblem: false });
    expect((late as { message: string }).message).toMatch(/invalid timestamp/);
  });

  it('decodes the query once: a sign encoded twice does not match', async () => {
    const sign = encodeURIComponent(VECTOR.encoded);
    const response = await fetch(
      `${doubles.url}/robot/send?access_token=signed-robot-token&timestamp=${VECTOR.timestamp}&sign=${sign}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ msgtype: 'text', text: { content: 'x' } }),
      },
    );
    expect(await response.json()).toEqual({ errcode: 310000, errmsg: 'sign not match' });
  });

  it('checks the IP allow-list (wildcards and CIDR): 127.0.0.1 is not on it', async () => {
    const outcome = await dingtalk.send(
      target({ kind: 'dingtalk', accessToken: 'ip-robot-token', secret: null, keyword: '警讯' }),
      textCard('text'),
    );
    expect(outcome).toMatchObject({ status: 'permanent', code: 'dingtalk_310000', groupProblem: true });
    expect((outcome as { message: string }).message).toMatch(/not in whitelist/);
  });

  it('validates like DingTalk: Content-Type 43004, body over 20 000 bytes 460101, unknown type 400105, missing field 40035', async () => {
    const call = (body: string, contentType = 'application/json') =>
      fetch(`${doubles.url}/robot/send?access_token=keyword-robot-token`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      }).then((r) => r.json() as Promise<{ errcode: number }>);
    expect(await call('{}', 'text/plain')).toMatchObject({ errcode: 43004 });
    expect(
      await call(JSON.stringify({ msgtype: 'text', text: { content: `警讯${'字'.repeat(6700)}` } })),
    ).toMatchObject({ errcode: 460101 });
    expect(await call(JSON.stringify({ msgtype: 'image', image: {} }))).toMatchObject({ errcode: 400105 });
    expect(await call(JSON.stringify({ msgtype: 'link', link: { title: '警讯', text: 'x' } }))).toMatchObject({
      errcode: 40035,
    });
    expect(doubles.received()).toHaveLength(0);
  });

  it('refuses locally a body over 20 000 UTF-8 bytes (6,700 Chinese characters) without calling', async () => {
    expect(await dingtalk.send(signed, textCard('text', '字'.repeat(6700)))).toMatchObject({
      status: 'permanent',
      code: 'body_too_large',
    });
    expect(doubles.calls).toBe(0);
  });

  it('when a robot sends its 21st message in a minute, then 130101 and a penalty window that outlasts the minute', async () => {
    for (let i = 0; i < 20; i += 1) expect((await dingtalk.send(signed, textCard('text'))).status).toBe('sent');
    expect(await dingtalk.send(signed, textCard('text'))).toMatchObject({
      status: 'retryable',
      code: 'dingtalk_130101',
      retryAfterMs: 600_000,
    });
    clock.advance(61_000);
    expect(await dingtalk.send(signed, textCard('text'))).toMatchObject({ code: 'dingtalk_130101' });
    clock.advance(60_000); // past the 2-minute penalty configured for this test
    expect(await dingtalk.send(signed, textCard('text'))).toEqual({ status: 'sent' });
  });

  it('when the platform bans the IP (JSON or HTML body), then the outcome is retryable after 5 minutes', async () => {
    for (const form of ['json', 'html'] as const) {
      doubles.fault({ platform: 'dingtalk', fault: { type: 'ip-ban', form }, times: 1 });
      expect(await dingtalk.send(signed, textCard('text'))).toMatchObject({
        status: 'retryable',
        code: 'dingtalk_ip_ban',
        retryAfterMs: 300_000,
      });
    }
  });
});

describe('DingTalk error classification (every code in the reference)', () => {
  it.each([
    [0, '', 'sent', undefined],
    [300001, 'token is not exist', 'permanent', true],
    [300005, 'token is not exist', 'permanent', true],
    [310000, 'keywords not in content', 'permanent', true],
    [310000, 'sign not match', 'permanent', true],
    [310000, 'invalid timestamp', 'permanent', false],
    [310000, 'description:ip 不在白名单中;', 'permanent', true],
    [130101, 'send too fast', 'retryable', undefined],
    [410100, 'send too fast', 'retryable', undefined],
    [400013, 'group dissolved', 'permanent', true],
    [400101, 'access token not exist', 'permanent', true],
    [400106, 'robot not exist', 'permanent', true],
    [400102, 'robot disabled', 'permanent', true],
    [400105, 'unsupported msgtype', 'permanent', false],
    [430101, 'unsafe link', 'permanent', false],
    [430102, 'unsafe text', 'permanent', false],
    [430103, 'unsafe image', 'permanent', false],
    [430104, 'other content', 'permanent', false],
    [40035, '缺少参数 json', 'permanent', false],
    [43004, 'invalid Content-Type', 'permanent', false],
    [460101, 'body too large', 'permanent', false],
    [90030, 'webhook over limit', 'permanent', true],
    [-1, 'system busy', 'retryable', undefined],
  ])('errcode %i (%s) → %s', (code, message, status, groupProblem) => {
    const outcome = classifyDingtalk(code, message);
    expect(outcome.status).toBe(status);
    if (groupProblem !== undefined) expect(outcome).toMatchObject({ groupProblem });
  });
});

describe('DingTalk signature, by a known answer', () => {
  it('the adapter signs the vector to the known answer', () => {
    expect(dingtalkSign(VECTOR.timestamp, SECRET)).toBe(VECTOR.sign);
    expect(dingtalkSign(Number(VECTOR.timestamp), SECRET)).toBe(VECTOR.sign);
  });

  it('the double accepts the known answer and refuses the Feishu scheme or a timestamp in seconds', async () => {
    const post = (timestamp: string, sign: string) =>
      fetch(`${doubles.url}/robot/send?access_token=signed-robot-token&timestamp=${timestamp}&sign=${sign}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ msgtype: 'text', text: { content: '警讯' } }),
      }).then((r) => r.json());
    expect(await post(VECTOR.timestamp, VECTOR.encoded)).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(await post(VECTOR.timestamp, encodeURIComponent(VECTOR.swapped))).toEqual({
      errcode: 310000,
      errmsg: 'sign not match',
    });
    expect(await post(VECTOR.timestamp.slice(0, 10), VECTOR.encoded)).toEqual({
      errcode: 310000,
      errmsg: 'invalid timestamp',
    });
  });
});

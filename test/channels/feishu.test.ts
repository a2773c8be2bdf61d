import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RobotDoubles } from '../../src/channels/doubles/server.js';
import { classifyFeishu } from '../../src/channels/feishu/adapter.js';
import { feishuSign } from '../../src/channels/feishu/sign.js';
import { fixedClock } from '../../src/lib/clock.js';
import { pngBytes, robotAdapters, target, textCard } from '../helpers/channels.js';

const clock = fixedClock('2026-03-01T02:00:00Z');
const doubles = new RobotDoubles({ clock });
const SECRET = 'feishu-signing-secret-x1';
/**
 * Known answer for SECRET at the clock's time, computed outside the code from reference §3
 * (key = timestamp in seconds + "\n" + secret, data = empty, Base64):
 *   printf '' | openssl dgst -sha256 -hmac "$(printf '%s\n%s' 1772330400 "$SECRET")" -binary | base64
 * and the same with Python's hmac. SWAPPED is the DingTalk scheme (secret as key, the string as data).
 */
const VECTOR = {
  timestamp: '1772330400',
  sign: 'S1ljU+Kl+d1FQnGtQ8TjcyY2BWWAOWbZvyrb3HbJ+mo=',
  swapped: 'EukhDfiZUHZREhkNV6cRxuYaGIzL+ew+qrc59wj1yy0=',
};
const signed = target({ kind: 'feishu', hookId: 'hook-signed-0001', secret: SECRET, keyword: null });
let feishu: ReturnType<typeof robotAdapters>['feishu'];

beforeAll(async () => {
  await doubles.start();
  doubles.addRobot({ platform: 'feishu', hookId: 'hook-signed-0001', secret: SECRET });
  doubles.addRobot({ platform: 'feishu', hookId: 'hook-keyword-0001', keywords: ['警讯'] });
  doubles.addRobot({ platform: 'feishu', hookId: 'hook-ip-000001', ipAllowList: ['10.0.0.0/8'] });
  doubles.addRobot({ platform: 'feishu', hookId: 'hook-ip-000002', ipAllowList: ['127.0.0.1/32'] });
  doubles.addRobot({ platform: 'feishu', hookId: 'hook-old-throttle', throttleAnswer: '9499' });
  feishu = robotAdapters(doubles, clock).feishu;
});
afterAll(() => doubles.close());
beforeEach(() => doubles.reset());

async function post(hookId: string, body: unknown) {
  const response = await fetch(`${doubles.url}/open-apis/bot/v2/hook/${hookId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('Feishu adapter against its double', () => {
  it('signs with seconds and the string as HMAC key over empty data, as top-level fields beside msg_type', async () => {
    expect(await feishu.send(signed, textCard('text', '请勿转账'))).toEqual({ status: 'sent' });
    expect(doubles.received({ platform: 'feishu' })[0]!.body).toEqual({
      timestamp: VECTOR.timestamp,
      sign: VECTOR.sign,
      msg_type: 'text',
      content: { text: '请勿转账' },
    });
  });

  it('answers success with the exact body, legacy fields included', async () => {
    const answer = await post('hook-keyword-0001', { msg_type: 'text', content: { text: '警讯' } });
    expect(answer).toEqual({
      status: 200,
      body: { StatusCode: 0, StatusMessage: 'success', code: 0, data: {}, msg: 'success' },
    });
  });

  it('sends markdown as a rich-text post: one paragraph per line, links as a tags', async () => {
    await feishu.send(signed, textCard('markdown', '**防诈骗**\n不转账，[详情](https://jx.example/n/1)'));
    expect(doubles.received()[0]!.body).toMatchObject({
      msg_type: 'post',
      content: {
        post: {
          zh_cn: {
            title: '防诈骗提醒',
            content: [
              [{ tag: 'text', text: '防诈骗' }],
              [
                { tag: 'text', text: '不转账，' },
                { tag: 'a', text: '详情', href: 'https://jx.example/n/1' },
              ],
            ],
          },
        },
      },
    });
  });

  it('sends a link card as a post ending with a 查看详情 link, and an image card as a link to its public URL', async () => {
    await feishu.send(signed, textCard('link', '点击查看'));
    await feishu.send(signed, {
      type: 'image',
      image: { data: await pngBytes(), mime: 'image/png', publicUrl: 'https://jx.example/m/c.png', title: '防诈骗' },
    });
    const [link, image] = doubles.received();
    expect((link!.body.content as { post: { zh_cn: unknown } }).post.zh_cn).toEqual({
      title: '防诈骗提醒',
      content: [[{ tag: 'text', text: '点击查看' }], [{ tag: 'a', text: '查看详情', href: 'https://jx.example/n/1' }]],
    });
    expect((image!.body.content as { post: { zh_cn: unknown } }).post.zh_cn).toEqual({
      title: '防诈骗',
      content: [[{ tag: 'a', text: '查看图片', href: 'https://jx.example/m/c.png' }]],
    });
    const noUrl = await feishu.send(signed, { type: 'image', image: { data: await pngBytes(), mime: 'image/png' } });
    expect(noUrl).toMatchObject({ status: 'permanent', code: 'unsupported_message' });
  });

  it('checks keywords on text values only, never on href (19024), and the adapter adds its keyword as text', async () => {
    const onlyInHref = await post('hook-keyword-0001', {
      msg_type: 'post',
      content: { post: { zh_cn: { title: '通知', content: [[{ tag: 'a', text: '链接', href: 'https://x/警讯' }]] } } },
    });
    expect(onlyInHref.body).toMatchObject({ code: 19024, msg: 'Key Words Not Found' });
    const keyworded = target({ kind: 'feishu', hookId: 'hook-keyword-0001', secret: null, keyword: '警讯' });
    expect(await feishu.send(keyworded, textCard('link', '点击查看'))).toEqual({ status: 'sent' });
    const wrong = target({ kind: 'feishu', hookId: 'hook-keyword-0001', secret: null, keyword: '其他' });
    expect(await feishu.send(wrong, textCard('text', '无关键词'))).toMatchObject({
      code: 'feishu_19024',
      groupProblem: true,
    });
  });

  it('when the secret is wrong or the timestamp over an hour off, then 19021', async () => {
    const wrong = target({ kind: 'feishu', hookId: 'hook-signed-0001', secret: 'not-the-secret', keyword: null });
    expect(await feishu.send(wrong, textCard('text'))).toMatchObject({ status: 'permanent', code: 'feishu_19021' });
    const skewed = robotAdapters(doubles, fixedClock(new Date(clock.now().getTime() + 2 * 3600_000))).feishu;
    expect(await skewed.send(signed, textCard('text'))).toMatchObject({ status: 'permanent', code: 'feishu_19021' });
  });

  it('checks the IP list (CIDR): 10.0.0.0/8 refuses 127.0.0.1 with 19022, 127.0.0.1/32 accepts', async () => {
    const t = (hookId: string) => target({ kind: 'feishu', hookId, secret: null, keyword: null });
    expect(await feishu.send(t('hook-ip-000001'), textCard('text'))).toMatchObject({ code: 'feishu_19022' });
    expect(await feishu.send(t('hook-ip-000002'), textCard('text'))).toEqual({ status: 'sent' });
  });

  it('refuses bad shapes with HTTP 400 9499 Bad Request: unknown type, card in content, bodies over 20 KB', async () => {
    expect(await post('hook-keyword-0001', { msg_type: 'video', content: {} })).toMatchObject({
      status: 400,
      body: { code: 9499 },
    });
    expect(await post('hook-keyword-0001', { msg_type: 'interactive', content: { card: {} } })).toMatchObject({
      status: 400,
    });
    const big = { msg_type: 'text', content: { text: `警讯${'字'.repeat(7000)}` } };
    expect(await post('hook-keyword-0001', big)).toMatchObject({
      status: 400,
      body: { code: 9499, msg: 'Bad Request' },
    });
    expect(await feishu.send(signed, textCard('text', '字'.repeat(7000)))).toMatchObject({ code: 'body_too_large' });
  });

  it('unknown hook → 19001 permanent', async () => {
    const outcome = await feishu.send(
      target({ kind: 'feishu', hookId: 'hook-gone-0000', secret: null, keyword: null }),
      textCard('text'),
    );
    expect(outcome).toMatchObject({ status: 'permanent', code: 'feishu_19001', groupProblem: true });
  });

  it('throttles at 5 per second (11232, HTTP 200) and at 100 per minute', async () => {
    for (let i = 0; i < 5; i += 1) expect((await feishu.send(signed, textCard('text'))).status).toBe('sent');
    expect(await feishu.send(signed, textCard('text'))).toMatchObject({ status: 'retryable', code: 'feishu_11232' });
    for (let i = 0; i < 19; i += 1) {
      clock.advance(1_000);
      for (let j = 0; j < 5; j += 1) expect((await feishu.send(signed, textCard('text'))).status).toBe('sent');
    }
    clock.advance(1_000);
    expect(await feishu.send(signed, textCard('text'))).toMatchObject({ status: 'retryable', code: 'feishu_11232' });
    expect(doubles.received()).toHaveLength(100);
  });

  it('when a bot answers throttling the older way (HTTP 400 9499 too many request), then the outcome is still retryable', async () => {
    const old = target({ kind: 'feishu', hookId: 'hook-old-throttle', secret: null, keyword: null });
    for (let i = 0; i < 5; i += 1) await feishu.send(old, textCard('text'));
    expect(await feishu.send(old, textCard('text'))).toMatchObject({ status: 'retryable', code: 'feishu_9499' });
  });
});

describe('Feishu error classification (every code in the reference)', () => {
  it.each([
    [0, 'success', 'sent', undefined],
    [9499, 'Bad Request', 'permanent', false],
    [9499, 'Bad Request: fail to parse content', 'permanent', false],
    [9499, 'too many request', 'retryable', undefined],
    [11232, 'frequency limited psm[…]', 'retryable', undefined],
    [19001, 'param invalid: incoming webhook access token invalid', 'permanent', true],
    [19002, 'param invalid', 'permanent', false],
    [19007, 'Bot Not Enabled', 'permanent', true],
    [19021, 'sign match fail or timestamp is not within one hour from current time', 'permanent', true],
    [19022, 'Ip Not Allowed', 'permanent', true],
    [19024, 'Key Words Not Found', 'permanent', true],
    [19036, 'message exceeds the size limit of 30KB', 'permanent', false],
  ])('code %i (%s) → %s', (code, msg, status, groupProblem) => {
    const outcome = classifyFeishu(code, msg);
    expect(outcome.status).toBe(status);
    if (groupProblem !== undefined) expect(outcome).toMatchObject({ groupProblem });
  });
});

describe('Feishu signature, by a known answer', () => {
  it('the adapter signs the vector to the known answer', () => {
    expect(feishuSign(VECTOR.timestamp, SECRET)).toBe(VECTOR.sign);
    expect(feishuSign(Number(VECTOR.timestamp), SECRET)).toBe(VECTOR.sign);
  });

  it('the double accepts the known answer and refuses the DingTalk scheme or a timestamp in milliseconds', async () => {
    const text = { msg_type: 'text', content: { text: '警讯' } };
    expect((await post('hook-signed-0001', { timestamp: VECTOR.timestamp, sign: VECTOR.sign, ...text })).body).toEqual({
      StatusCode: 0,
      StatusMessage: 'success',
      code: 0,
      data: {},
      msg: 'success',
    });
    for (const wrong of [
      { timestamp: VECTOR.timestamp, sign: VECTOR.swapped },
      { timestamp: `${VECTOR.timestamp}000`, sign: VECTOR.sign },
    ]) {
      expect((await post('hook-signed-0001', { ...wrong, ...text })).body).toMatchObject({ code: 19021 });
    }
  });
});

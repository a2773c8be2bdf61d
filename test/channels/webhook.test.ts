import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RobotDoubles } from '../../src/channels/doubles/server.js';
import { webhookSignature } from '../../src/channels/webhook/sign.js';
import { fixedClock } from '../../src/lib/clock.js';
import { jpegBytes, robotAdapters, target, textCard } from '../helpers/channels.js';

const clock = fixedClock('2026-03-01T02:00:00Z');
const doubles = new RobotDoubles({ clock });
const SECRET = 'county-platform-secret-1';
let webhook: ReturnType<typeof robotAdapters>['webhook'];
const receiver = () => target({ kind: 'webhook', url: doubles.webhookUrl('county-a'), secret: SECRET });

beforeAll(async () => {
  await doubles.start();
  doubles.addRobot({ platform: 'webhook', id: 'county-a', secret: SECRET });
  doubles.addRobot({ platform: 'webhook', id: 'county-limited', secret: SECRET, perMinute: 1 });
  webhook = robotAdapters(doubles, clock).webhook;
});
afterAll(() => doubles.close());
beforeEach(() => doubles.reset());

describe('generic webhook adapter against its receiver double', () => {
  it('posts the card as JSON signed with HMAC-SHA256 over "id.timestamp.body", with the delivery id', async () => {
    expect(await webhook.send(receiver(), textCard('markdown', '**防诈骗**'), { reference: 'delivery-1' })).toEqual({
      status: 'sent',
    });
    const [message] = doubles.received({ platform: 'webhook' });
    const timestamp = String(Math.floor(clock.now().getTime() / 1000));
    const raw = JSON.stringify(message!.body);
    expect(message!.headers['x-jingxun-timestamp']).toBe(timestamp);
    expect(message!.headers['x-jingxun-delivery']).toBe('delivery-1');
    expect(message!.headers['x-jingxun-signature']).toBe(
      `sha256=${createHmac('sha256', SECRET).update(`delivery-1.${timestamp}.${raw}`).digest('hex')}`,
    );
    expect(message!.body).toEqual({
      type: 'text',
      group: { id: '65f000000000000000000001', name: '华工社区平安群', regionCode: '440106001001' },
      format: 'markdown',
      title: '防诈骗提醒',
      content: '**防诈骗**',
      url: 'https://jx.example/n/1',
      pictureUrl: null,
    });
  });

  it('sends an image card with its bytes, type and sha256', async () => {
    const data = await jpegBytes();
    await webhook.send(receiver(), { type: 'image', image: { data, mime: 'image/jpeg', title: '防盗' } });
    expect(doubles.received()[0]!.body).toMatchObject({
      type: 'image',
      title: '防盗',
      image: { mime: 'image/jpeg', base64: data.toString('base64') },
    });
  });

  it('when the secret is wrong, then the receiver answers 401 and the outcome blames the group', async () => {
    const wrong = target({ kind: 'webhook', url: doubles.webhookUrl('county-a'), secret: 'another-secret-12345' });
    expect(await webhook.send(wrong, textCard('text'))).toMatchObject({
      status: 'permanent',
      code: 'http_401',
      groupProblem: true,
    });
  });

  it('when the receiver answers 429 with Retry-After, then the outcome is retryable after that long', async () => {
    const limited = target({ kind: 'webhook', url: doubles.webhookUrl('county-limited'), secret: SECRET });
    expect((await webhook.send(limited, textCard('text'))).status).toBe('sent');
    expect(await webhook.send(limited, textCard('text'))).toMatchObject({
      status: 'retryable',
      code: 'http_429',
      retryAfterMs: 60_000,
    });
  });

  it('lets a receiver drop the repeat of an uncertain send by its delivery id', async () => {
    doubles.fault({ platform: 'webhook', fault: { type: 'close-after-record' }, times: 1 });
    expect((await webhook.send(receiver(), textCard('text'), { reference: 'd-7' })).status).toBe('uncertain');
    expect(await webhook.send(receiver(), textCard('text'), { reference: 'd-7' })).toEqual({ status: 'sent' });
    expect(doubles.received()).toHaveLength(1);
  });

  it('when a captured request is replayed with a fresh delivery id, then the receiver refuses it (the id is signed)', async () => {
    expect((await webhook.send(receiver(), textCard('text'), { reference: 'd-original' })).status).toBe('sent');
    const [captured] = doubles.received({ platform: 'webhook' });
    const replay = await fetch(doubles.webhookUrl('county-a'), {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'x-jingxun-timestamp': String(captured!.headers['x-jingxun-timestamp']),
        'x-jingxun-signature': String(captured!.headers['x-jingxun-signature']),
        'x-jingxun-delivery': 'd-fresh-id',
      },
      body: JSON.stringify(captured!.body),
    });
    expect(replay.status).toBe(401);
    expect(doubles.received()).toHaveLength(1);
  });

  it('sends a delivery id even without an engine reference (the test message), so every post is signed with one', async () => {
    expect((await webhook.send(receiver(), textCard('text'))).status).toBe('sent');
    expect(String(doubles.received()[0]!.headers['x-jingxun-delivery'])).toMatch(/^test-[0-9a-f-]{36}$/);
  });
});

describe('the webhook signature, by a known answer', () => {
  // Computed outside the code: printf '%s' 'delivery-0001.1772330400.{"type":"text","content":"警讯"}' |
  //   openssl dgst -sha256 -hmac 'county-platform-secret-1'   (and the same with Python's hmac)
  const VECTOR = {
    secret: 'county-platform-secret-1',
    id: 'delivery-0001',
    timestamp: '1772330400',
    body: '{"type":"text","content":"警讯"}',
    signature: 'sha256=9244d64b20bfbc7b3353a08fb4e33932b50d620685fdfce6b4d51a0c6459212d',
  };

  it('the adapter signs the vector to the known signature', () => {
    expect(webhookSignature(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
  });

  it('the receiver double accepts the vector, and refuses it with another id, timestamp or body', async () => {
    const post = (headers: Record<string, string>, body = VECTOR.body) =>
      fetch(doubles.webhookUrl('county-a'), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-jingxun-delivery': VECTOR.id,
          'x-jingxun-timestamp': VECTOR.timestamp,
          'x-jingxun-signature': VECTOR.signature,
          ...headers,
        },
        body,
      }).then((r) => r.status);
    // The doubles' clock stands at 2026-03-01T02:00:00Z = 1772330400.
    expect(await post({})).toBe(200);
    expect(await post({ 'x-jingxun-delivery': 'delivery-0002' })).toBe(401);
    expect(await post({ 'x-jingxun-timestamp': '1772330401' })).toBe(401);
    expect(await post({}, VECTOR.body.replace('警讯', '警情'))).toBe(401);
  });
});

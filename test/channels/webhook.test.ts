import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RobotDoubles } from '../../src/channels/doubles/server.js';
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
  it('posts the card as JSON signed with HMAC-SHA256 over "timestamp.body", with the delivery id', async () => {
    expect(await webhook.send(receiver(), textCard('markdown', '**防诈骗**'), { reference: 'delivery-1' })).toEqual({
      status: 'sent',
    });
    const [message] = doubles.received({ platform: 'webhook' });
    const timestamp = String(Math.floor(clock.now().getTime() / 1000));
    const raw = JSON.stringify(message!.body);
    expect(message!.headers['x-jingxun-timestamp']).toBe(timestamp);
    expect(message!.headers['x-jingxun-signature']).toBe(
      `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${raw}`).digest('hex')}`,
    );
    expect(message!.headers['x-jingxun-delivery']).toBe('delivery-1');
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
});

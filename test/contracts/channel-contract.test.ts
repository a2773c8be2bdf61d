// One contract, run against every robot adapter and its double: what any channel must do
// with a good send, a bad credential, a server error, a hang, a connection cut before or
// after the message was taken, and a refused connection.
import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChannelCredentials } from '../../src/channels/credentials.js';
import { RobotDoubles } from '../../src/channels/doubles/server.js';
import type { Platform } from '../../src/channels/doubles/types.js';
import type { ChannelAdapter } from '../../src/channels/types.js';
import { fixedClock } from '../../src/lib/clock.js';
import { robotAdapters, target, textCard } from '../helpers/channels.js';

const clock = fixedClock('2026-03-01T02:00:00Z');
const doubles = new RobotDoubles({ clock });
let adapters: ReturnType<typeof robotAdapters>;
let slowAdapters: ReturnType<typeof robotAdapters>;

interface Case {
  platform: Platform;
  robot: string;
  good: () => ChannelCredentials;
  unknown: () => ChannelCredentials;
}

const cases: Case[] = [
  {
    platform: 'wecom',
    robot: 'wecom-key-contract-0001',
    good: () => ({ kind: 'wecom', key: 'wecom-key-contract-0001' }),
    unknown: () => ({ kind: 'wecom', key: 'wecom-key-removed-9999' }),
  },
  {
    platform: 'dingtalk',
    robot: 'dingtalk-token-contract',
    good: () => ({
      kind: 'dingtalk',
      accessToken: 'dingtalk-token-contract',
      secret: 'SECcontract-secret',
      keyword: null,
    }),
    unknown: () => ({
      kind: 'dingtalk',
      accessToken: 'dingtalk-token-missing',
      secret: 'SECcontract-secret',
      keyword: null,
    }),
  },
  {
    platform: 'feishu',
    robot: 'feishu-hook-contract',
    good: () => ({ kind: 'feishu', hookId: 'feishu-hook-contract', secret: 'feishu-secret', keyword: null }),
    unknown: () => ({ kind: 'feishu', hookId: 'feishu-hook-missing', secret: 'feishu-secret', keyword: null }),
  },
  {
    platform: 'webhook',
    robot: 'county-platform',
    good: () => ({ kind: 'webhook', url: doubles.webhookUrl('county-platform'), secret: 'webhook-secret-0123456789' }),
    unknown: () => ({
      kind: 'webhook',
      url: doubles.webhookUrl('no-such-receiver'),
      secret: 'webhook-secret-0123456789',
    }),
  },
];

beforeAll(async () => {
  await doubles.start();
  doubles.addRobot({ platform: 'wecom', key: 'wecom-key-contract-0001' });
  doubles.addRobot({ platform: 'dingtalk', token: 'dingtalk-token-contract', secret: 'SECcontract-secret' });
  doubles.addRobot({ platform: 'feishu', hookId: 'feishu-hook-contract', secret: 'feishu-secret' });
  doubles.addRobot({ platform: 'webhook', id: 'county-platform', secret: 'webhook-secret-0123456789' });
  adapters = robotAdapters(doubles, clock);
  slowAdapters = robotAdapters(doubles, clock, 150);
});
afterAll(() => doubles.close());
beforeEach(() => doubles.reset());

describe.each(cases)('channel contract: $platform', ({ platform, robot, good, unknown }) => {
  const adapter = (): ChannelAdapter => adapters[platform];

  it('when the robot accepts a text card, then the outcome is sent and the double holds it once', async () => {
    expect(await adapter().send(target(good()), textCard('text'))).toEqual({ status: 'sent' });
    expect(doubles.received({ platform, robot })).toHaveLength(1);
  });

  it('publishes its rate limits with their source', () => {
    for (const limit of adapter().rateLimits) {
      expect(limit.limit).toBeGreaterThan(0);
      expect(limit.source.length).toBeGreaterThan(10);
    }
  });

  it('when the robot does not exist, then the outcome is permanent and blames the group', async () => {
    const outcome = await adapter().send(target(unknown()), textCard('text'));
    expect(outcome).toMatchObject({ status: 'permanent', groupProblem: true });
    expect(doubles.received({ platform })).toHaveLength(0);
  });

  it('when the service answers 503 before taking the message, then the outcome is retryable', async () => {
    doubles.fault({ platform, fault: { type: 'http-error', status: 503 }, times: 1 });
    expect(await adapter().send(target(good()), textCard('text'))).toMatchObject({
      status: 'retryable',
      code: 'http_503',
    });
    expect(doubles.received({ platform })).toHaveLength(0);
  });

  it('when a gateway answers 502/504 after the platform posted, then the message is never posted twice', async () => {
    for (const status of [502, 504] as const) {
      doubles.reset();
      doubles.fault({ platform, fault: { type: 'gateway-error-after-record', status }, times: 1 });
      const reference = `delivery-gateway-${status}`;
      const first = await adapter().send(target(good()), textCard('text'), { reference });
      expect(doubles.received({ platform })).toHaveLength(1);
      if (platform === 'webhook') {
        // The receiver drops a delivery id it has accepted: a repeat is safe, and it arrives once.
        expect(first).toMatchObject({ status: 'retryable', code: `http_${status}` });
        expect(await adapter().send(target(good()), textCard('text'), { reference })).toEqual({ status: 'sent' });
        expect(doubles.received({ platform })).toHaveLength(1);
        continue;
      }
      // The robot APIs have no dedup key: a repeat would be a second post, so it is not retried.
      expect(first).toMatchObject({ status: 'uncertain', code: `http_${status}` });
    }
  });

  it('when the service answers 500/502/504 with an HTML page, then a robot outcome is uncertain (it may have posted)', async () => {
    for (const status of [500, 502, 504] as const) {
      doubles.fault({ platform, fault: { type: 'http-error', status }, times: 1 });
      expect(await adapter().send(target(good()), textCard('text'))).toMatchObject({
        status: platform === 'webhook' ? 'retryable' : 'uncertain',
        code: `http_${status}`,
      });
    }
  });

  it('when the answer comes after the client timeout, then the outcome is uncertain (and the post did happen)', async () => {
    doubles.fault({ platform, fault: { type: 'slow', delayMs: 600 }, times: 1 });
    expect(await slowAdapters[platform].send(target(good()), textCard('text'))).toMatchObject({
      status: 'uncertain',
      code: 'no_answer',
    });
    expect(doubles.received({ platform })).toHaveLength(1);
  });

  it('when the connection closes after the body was read, then the outcome is uncertain whether or not it was posted', async () => {
    doubles.fault({ platform, fault: { type: 'close-before-record' }, times: 1 });
    expect(await adapter().send(target(good()), textCard('text'))).toMatchObject({ status: 'uncertain' });
    expect(doubles.received({ platform })).toHaveLength(0);
    doubles.fault({ platform, fault: { type: 'close-after-record' }, times: 1 });
    expect(await adapter().send(target(good()), textCard('text'))).toMatchObject({ status: 'uncertain' });
    expect(doubles.received({ platform })).toHaveLength(1);
  });

  it('when a 200 answer is not JSON or empty, then a robot outcome is uncertain (a webhook 2xx means accepted)', async () => {
    if (platform === 'webhook') {
      doubles.fault({ platform, fault: { type: 'non-json' }, times: 1 });
      expect(await adapter().send(target(good()), textCard('text'))).toEqual({ status: 'sent' });
      return;
    }
    doubles.fault({ platform, fault: { type: 'non-json' }, times: 1 });
    expect(await adapter().send(target(good()), textCard('text'))).toMatchObject({
      status: 'uncertain',
      code: 'unreadable_answer',
    });
    doubles.fault({ platform, fault: { type: 'empty' }, times: 1 });
    expect(await adapter().send(target(good()), textCard('text'))).toMatchObject({
      status: 'uncertain',
      code: 'empty_answer',
    });
  });

  it('when a seeded share of calls fail, then the same calls fail on every run', async () => {
    const run = async () => {
      doubles.reset();
      doubles.fault({ platform, fault: { type: 'http-error', status: 503 }, rate: 0.3, seed: 7 });
      const statuses: string[] = [];
      for (let i = 0; i < 8; i += 1) {
        clock.advance(5_000); // stay under every per-robot limit
        statuses.push((await adapter().send(target(good()), textCard('text'))).status);
      }
      return statuses;
    };
    const first = await run();
    expect(first).toContain('retryable');
    expect(first).toContain('sent');
    expect(await run()).toEqual(first);
  });
});

describe('every robot adapter, before anything reaches a server', () => {
  it('when the connection is refused, then the outcome is retryable (nothing was sent)', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const closed = { url: `http://127.0.0.1:${port}` } as RobotDoubles;
    const dead = robotAdapters(closed, clock);
    for (const { platform, good } of cases) {
      const credentials = platform === 'webhook' ? { ...good(), url: `${closed.url}/webhook/x` } : good();
      expect(
        await dead[platform].send(target(credentials as ChannelCredentials), textCard('text')),
        platform,
      ).toMatchObject({
        status: 'retryable',
        code: 'not_sent',
      });
    }
  });

  it('when the engine aborts a send that is already on the wire, then the outcome is uncertain', async () => {
    doubles.fault({ platform: 'wecom', fault: { type: 'slow', delayMs: 500 }, times: 1 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const outcome = await adapters.wecom.send(target(cases[0]!.good()), textCard('text'), {
      signal: controller.signal,
    });
    expect(outcome).toMatchObject({ status: 'uncertain' });
  });
});

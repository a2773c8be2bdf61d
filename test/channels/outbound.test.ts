// Server-side request forgery: a group's webhook URL is typed by staff, and the server posts
// to it. Loopback, private, link-local and metadata addresses are refused after resolution,
// inside the connection's own lookup; an operator allows a county intranet platform (or the
// tests' doubles) explicitly with OUTBOUND_ALLOW_HOSTS.
import http from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RobotDoubles } from '../../src/channels/doubles/server.js';
import { postJson } from '../../src/channels/http-post.js';
import { Outbound, type Resolver, isRefusedAddress } from '../../src/channels/outbound.js';
import { createWebhookAdapter } from '../../src/channels/webhook/adapter.js';
import { createWecomAdapter } from '../../src/channels/wecom/adapter.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { fixedClock } from '../../src/lib/clock.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { target, textCard } from '../helpers/channels.js';
import { groupBody } from '../helpers/groups.js';
import { createRegionTree } from '../helpers/regions.js';

const SECRET = 'county-platform-secret-0001';

/** A plain HTTP server on 127.0.0.1 that accepts every post and counts the connections made to it. */
async function countingServer(options: { close?: boolean } = {}) {
  let connections = 0;
  let posts = 0;
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      posts += 1;
      if (options.close) response.setHeader('connection', 'close');
      response.end('{"ok":true}');
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    posts: () => posts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function webhookGroup(t: TestApp, url: string): Promise<string> {
  const response = await t.request(
    'POST',
    '/api/groups',
    t.adminToken,
    groupBody({ channel: { kind: 'webhook', url, secret: SECRET } }),
  );
  if (response.statusCode !== 201) throw new Error(`create group: ${response.body}`);
  return response.json().id;
}

describe('the test message of a webhook group that points at a refused address', () => {
  let t: TestApp;
  let open: Awaited<ReturnType<typeof countingServer>>;

  beforeAll(async () => {
    open = await countingServer();
    t = await startTestApp();
    await createRegionTree(t);
  });
  afterAll(async () => {
    await t.close();
    await open.close();
  });

  it('when the URL names this machine (127.0.0.1, localhost, 0.0.0.0, [::ffff:127.0.0.1], [::1]), then it is refused without connecting', async () => {
    const hosts = ['127.0.0.1', 'localhost', '0.0.0.0', '[::ffff:127.0.0.1]', '[::1]', '127.9.9.9'];
    for (const host of hosts) {
      const id = await webhookGroup(t, `http://${host}:${open.port}/hook`);
      const response = await t.request('POST', `/api/groups/${id}/test-message`, t.adminToken);
      expect(response.statusCode, host).toBe(200);
      expect(response.json(), host).toMatchObject({ status: 'permanent', code: 'address_refused' });
    }
    expect(open.connections()).toBe(0);
  });

  it('answers the same for an open and a closed port, so the answer cannot scan the network', async () => {
    const toOpen = await webhookGroup(t, `http://127.0.0.1:${open.port}/hook`);
    const toClosed = await webhookGroup(t, `http://127.0.0.1:${await closedPort()}/hook`);
    const openAnswer = await t.request('POST', `/api/groups/${toOpen}/test-message`, t.adminToken);
    const closedAnswer = await t.request('POST', `/api/groups/${toClosed}/test-message`, t.adminToken);
    expect(openAnswer.json()).toEqual(closedAnswer.json());
    expect(openAnswer.json()).toMatchObject({ status: 'permanent', code: 'address_refused' });
    expect(open.posts()).toBe(0);
  });
});

describe('a webhook group on an address the operator allowed', () => {
  let t: TestApp;
  let platform: Awaited<ReturnType<typeof countingServer>>;

  beforeAll(async () => {
    platform = await countingServer();
    t = await startTestApp({ env: { OUTBOUND_ALLOW_HOSTS: '127.0.0.1' } });
    await createRegionTree(t);
  });
  afterAll(async () => {
    await t.close();
    await platform.close();
  });

  it('when OUTBOUND_ALLOW_HOSTS lists the address, then the test message is posted', async () => {
    const id = await webhookGroup(t, `http://127.0.0.1:${platform.port}/hook`);
    const response = await t.request('POST', `/api/groups/${id}/test-message`, t.adminToken);
    expect(response.json()).toMatchObject({ status: 'sent' });
    expect(platform.posts()).toBe(1);
  });
});

describe('whose fault a refused address is', () => {
  const doubles = new RobotDoubles();
  beforeAll(() => doubles.start());
  afterAll(() => doubles.close());

  it('blames a webhook group for its URL, but no group for a robot base URL (configuration)', async () => {
    const outbound = new Outbound([]);
    const clock = fixedClock('2026-03-01T02:00:00Z');
    doubles.addRobot({ platform: 'wecom', key: 'wecom-key-refused-01' });
    const wecom = createWecomAdapter({ baseUrl: doubles.url, outbound, timeoutMs: 2_000 });
    expect(await wecom.send(target({ kind: 'wecom', key: 'wecom-key-refused-01' }), textCard('text'))).toMatchObject({
      status: 'permanent',
      code: 'address_refused',
      groupProblem: false,
    });
    const webhook = createWebhookAdapter({ outbound, timeoutMs: 2_000, clock });
    const credentials = { kind: 'webhook' as const, url: doubles.webhookUrl('x'), secret: SECRET };
    expect(await webhook.send(target(credentials), textCard('text'))).toMatchObject({
      status: 'permanent',
      code: 'address_refused',
      groupProblem: true,
    });
    expect(doubles.calls).toBe(0);
  });
});

describe('which addresses are refused', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['0.0.0.0', 'this host'],
    ['10.20.30.40', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local: AWS, GCP, Azure, Tencent metadata'],
    ['100.100.100.200', 'shared address space: Alibaba Cloud metadata'],
    ['100.64.0.1', 'shared address space (carrier NAT)'],
    ['192.0.0.192', 'IETF protocol assignments'],
    ['198.18.0.1', 'benchmarking'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::1', 'IPv6 loopback'],
    ['::', 'IPv6 unspecified'],
    ['fe80::1', 'IPv6 link-local'],
    ['fd00:ec2::254', 'unique local: AWS metadata over IPv6'],
    ['fc00::1', 'unique local'],
    ['fec0::1', 'site-local (deprecated)'],
    ['ff02::1', 'IPv6 multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped metadata'],
    ['0:0:0:0:0:ffff:a00:1', 'IPv4-mapped private, spelt out'],
    ['::127.0.0.1', 'IPv4-compatible (deprecated)'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of the metadata address'],
    ['2002:7f00:1::', '6to4 of loopback'],
    ['2001:0:4136:e378::1', 'Teredo'],
    ['not-an-address', 'anything that is not an address'],
  ])('refuses %s (%s)', (address) => {
    expect(isRefusedAddress(address)).toBe(true);
  });

  it.each([
    '1.1.1.1',
    '183.232.231.172',
    '101.226.103.106',
    '172.32.0.1',
    '100.128.0.1',
    '2400:3200::1',
    '240e:1::1',
    '::ffff:1.1.1.1',
  ])('lets a public address through: %s', (address) => {
    expect(isRefusedAddress(address)).toBe(false);
  });
});

describe('the check inside the connection', () => {
  let server: Awaited<ReturnType<typeof countingServer>>;
  beforeAll(async () => {
    // Every answer closes its connection, so each post makes a fresh connection (and lookup).
    server = await countingServer({ close: true });
  });
  afterAll(() => server.close());

  /** A resolver answering from a script, one entry per call (the last repeats). */
  function scripted(answers: string[][]) {
    const calls: string[] = [];
    const resolver: Resolver = async (hostname) => {
      calls.push(hostname);
      const answer = answers[Math.min(calls.length, answers.length) - 1]!;
      return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
    return { resolver, calls };
  }

  const post = (outbound: Outbound, host: string) =>
    postJson(`http://${host}:${server.port}/hook`, '{}', { timeoutMs: 2_000, outbound });

  it('when a name resolves only to refused addresses, then nothing is connected and the result says refused', async () => {
    const { resolver, calls } = scripted([['10.0.0.5', '127.0.0.1']]);
    const before = server.connections();
    expect(await post(new Outbound([], resolver), 'intranet.county.test')).toMatchObject({ kind: 'refused' });
    expect(calls).toEqual(['intranet.county.test']);
    expect(server.connections()).toBe(before);
  });

  it('when a name answers a refused and a permitted address, then it connects to the permitted one only', async () => {
    const { resolver } = scripted([['10.0.0.5', '127.0.0.1']]);
    const result = await post(new Outbound(['127.0.0.1'], resolver), 'mixed.county.test');
    expect(result).toMatchObject({ kind: 'answered', status: 200 });
  });

  it('when a name first answers a permitted address and then a refused one (DNS rebinding), then the second connection is refused', async () => {
    const { resolver, calls } = scripted([['127.0.0.1'], ['127.0.0.2']]);
    const outbound = new Outbound(['127.0.0.1'], resolver);
    const before = server.connections();
    expect(await post(outbound, 'rebind.county.test')).toMatchObject({ kind: 'answered', status: 200 });
    expect(await post(outbound, 'rebind.county.test')).toMatchObject({ kind: 'refused' });
    expect(calls).toHaveLength(2);
    expect(server.connections()).toBe(before + 1);
  });

  it('lets an allowed host name reach a private address, and an allowed range any name inside it', async () => {
    const { resolver } = scripted([['127.0.0.1']]);
    expect(await post(new Outbound(['platform.county.test'], resolver), 'platform.county.test')).toMatchObject({
      kind: 'answered',
    });
    expect(await post(new Outbound(['platform.county.test'], resolver), 'other.county.test')).toMatchObject({
      kind: 'refused',
    });
    expect(await post(new Outbound(['127.0.0.0/8'], resolver), 'other.county.test')).toMatchObject({
      kind: 'answered',
    });
  });
});

describe('OUTBOUND_ALLOW_HOSTS', () => {
  it('takes host names, addresses and ranges, separated by commas or spaces', () => {
    const config = loadConfig({ OUTBOUND_ALLOW_HOSTS: 'Platform.County.gov.cn, 10.20.0.0/16 127.0.0.1,fd00::/8' });
    expect(config.outboundAllowHosts).toEqual(['platform.county.gov.cn', '10.20.0.0/16', '127.0.0.1', 'fd00::/8']);
    expect(loadConfig({}).outboundAllowHosts).toEqual([]);
  });

  it.each(['10.0.0.0/33', 'fd00::/129', 'http://platform.county.gov.cn', '*', 'platform.county.gov.cn/24'])(
    'refuses the entry %s, naming the variable',
    (entry) => {
      expect(() => loadConfig({ OUTBOUND_ALLOW_HOSTS: entry })).toThrow(ConfigError);
      expect(() => loadConfig({ OUTBOUND_ALLOW_HOSTS: entry })).toThrow(/OUTBOUND_ALLOW_HOSTS/);
    },
  );
});

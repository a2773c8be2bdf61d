// Faithful local doubles of the WeCom, DingTalk and Feishu robot APIs and of a webhook
// receiver, in one HTTP server on 127.0.0.1 (same paths and query names as the real
// services, so only the base URL changes). Used by tests, benchmarks and the demo. Time
// comes from an injectable clock (rate limits, signature windows); faults on demand; every
// accepted message is recorded. Control API under /_doubles/ for other processes.
import http from 'node:http';
import { type Clock, systemClock } from '../../lib/clock.js';
import { seededRandom } from '../../lib/seeded-random.js';
import { DingtalkDouble } from './dingtalk.js';
import { FeishuDouble } from './feishu.js';
import { closeNow, listenLocally } from './local-server.js';
import type { Fault, FaultRule, HandlerResult, IncomingCall, Platform, ReceivedMessage, RobotConfig } from './types.js';
import { robotId } from './types.js';
import { WebhookDouble } from './webhook.js';
import { WecomDouble } from './wecom.js';

export interface RobotDoublesOptions {
  clock?: Clock;
  /** DingTalk's throttle penalty (10 minutes on the real service). */
  dingtalkPenaltyMs?: number;
  port?: number;
  /** Every post is recorded on arrival and answered this many ms later (a robot's latency). */
  latencyMs?: number;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

const HTML_ERROR = (status: number) =>
  `<html><head><title>${status} Bad Gateway</title></head><body><center><h1>${status}</h1></center><hr><center>nginx</center></body></html>`;

// Throttle answers as the reference quotes them (chat-robot-webhooks.md §1–3).
const json = (value: unknown): HandlerResult => ({ status: 200, body: JSON.stringify(value) });
const THROTTLE_ANSWERS: Record<Platform, HandlerResult> = {
  wecom: json({ errcode: 45009, errmsg: 'api freq out of limit' }),
  dingtalk: json({ errcode: 130101, errmsg: 'send too fast, exceed 20 times per minute' }),
  feishu: json({ code: 11232, data: {}, msg: 'frequency limited psm[lark.oapi.app_platform_runtime]appID[1]' }),
  webhook: { status: 429, body: JSON.stringify({ error: 'too many requests' }), headers: { 'retry-after': '1' } },
};

interface ActiveRule extends FaultRule {
  random?: () => number;
}

export class RobotDoubles {
  readonly wecom = new WecomDouble();
  readonly dingtalk: DingtalkDouble;
  readonly feishu = new FeishuDouble();
  readonly webhook = new WebhookDouble();
  clock: Clock;
  #received: ReceivedMessage[] = [];
  #latencyMs = 0;
  #rules: ActiveRule[] = [];
  #server: http.Server | null = null;
  #port = 0;
  /** Every call that reached a robot route, accepted or not (for tests counting attempts). */
  calls = 0;

  constructor(private readonly options: RobotDoublesOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.dingtalk = new DingtalkDouble(options.dingtalkPenaltyMs);
    this.#latencyMs = options.latencyMs ?? 0;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Base URLs as config.ts takes them. */
  baseUrls(): { wecomBaseUrl: string; dingtalkBaseUrl: string; feishuBaseUrl: string } {
    return { wecomBaseUrl: this.url, dingtalkBaseUrl: this.url, feishuBaseUrl: this.url };
  }

  webhookUrl(id: string): string {
    return `${this.url}/webhook/${encodeURIComponent(id)}`;
  }

  async start(): Promise<this> {
    const server = http.createServer((req, res) => void this.serve(req, res));
    server.keepAliveTimeout = 5_000;
    this.#port = await listenLocally(server, this.options.port ?? 0);
    this.#server = server;
    return this;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    await closeNow(server);
  }

  addRobot(robot: RobotConfig): void {
    const id = robotId(robot);
    switch (robot.platform) {
      case 'wecom':
        this.wecom.robots.set(id, robot);
        break;
      case 'dingtalk':
        this.dingtalk.robots.set(id, robot);
        break;
      case 'feishu':
        this.feishu.robots.set(id, robot);
        break;
      case 'webhook':
        this.webhook.robots.set(id, robot);
        break;
    }
  }

  removeRobot(platform: Platform, id: string): void {
    this[platform].robots.delete(id);
  }

  /** Injects a fault for the next `times` matching calls, a seeded share of them, or until cleared. */
  /** Sets the per-post latency (ms) from now on. */
  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  fault(rule: FaultRule): void {
    this.#rules.push({ ...rule, ...(rule.rate !== undefined ? { random: seededRandom(rule.seed ?? 1) } : {}) });
  }

  clearFaults(): void {
    this.#rules = [];
  }

  received(filter: { platform?: Platform; robot?: string } = {}): ReceivedMessage[] {
    return this.#received.filter(
      (m) => (!filter.platform || m.platform === filter.platform) && (!filter.robot || m.robot === filter.robot),
    );
  }

  /** Forgets received messages, faults, rate windows and penalties (robots stay). */
  reset(): void {
    this.#received = [];
    this.#rules = [];
    this.calls = 0;
    this.wecom.reset();
    this.dingtalk.reset();
    this.feishu.reset();
    this.webhook.reset();
  }

  private route(url: URL): { platform: Platform; robot: string } | null {
    if (url.pathname === '/cgi-bin/webhook/send')
      return { platform: 'wecom', robot: url.searchParams.get('key') ?? '' };
    if (url.pathname === '/robot/send')
      return { platform: 'dingtalk', robot: url.searchParams.get('access_token') ?? '' };
    const feishu = /^\/open-apis\/bot\/v2\/hook\/([^/]+)$/.exec(url.pathname);
    if (feishu) return { platform: 'feishu', robot: decodeURIComponent(feishu[1]!) };
    const webhook = /^\/webhook\/([^/]+)$/.exec(url.pathname);
    if (webhook) return { platform: 'webhook', robot: decodeURIComponent(webhook[1]!) };
    return null;
  }

  private takeFault(platform: Platform, robot: string): Fault | null {
    for (const rule of this.#rules) {
      if (rule.platform && rule.platform !== platform) continue;
      if (rule.robot && rule.robot !== robot) continue;
      if (rule.times !== undefined && rule.times <= 0) continue;
      if (rule.random && rule.random() >= (rule.rate ?? 0)) continue;
      if (rule.times !== undefined) rule.times -= 1;
      return rule.fault;
    }
    return null;
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.startsWith('/_doubles/')) return this.control(req.method ?? 'GET', url, body, res);
    const target = req.method === 'POST' ? this.route(url) : null;
    if (!target) {
      res.writeHead(404, { 'content-type': 'text/html' }).end(HTML_ERROR(404));
      return;
    }
    this.calls += 1;
    const call: IncomingCall = {
      ...target,
      query: url.searchParams,
      rawQuery: url.search.replace(/^\?/, ''),
      headers: req.headers,
      body,
      remoteAddress: req.socket.remoteAddress ?? '',
      now: this.clock.now(),
    };
    const fault = this.takeFault(target.platform, target.robot);
    if (fault) {
      const handled = await this.applyFault(fault, call, res);
      if (handled) return;
    }
    const result = this.process(call);
    if (this.#latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#latencyMs));
    if (!res.destroyed) this.reply(res, result);
  }

  private process(call: IncomingCall): HandlerResult {
    const result = this[call.platform].handle(call);
    if (result.accepted) {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(call.headers)) {
        if (name.startsWith('x-jingxun-') || name === 'content-type') headers[name] = String(value);
      }
      this.#received.push({
        ...result.accepted,
        platform: call.platform,
        rawQuery: call.rawQuery,
        headers,
        receivedAt: call.now,
      });
    }
    return result;
  }

  private reply(res: http.ServerResponse, result: HandlerResult): void {
    res
      .writeHead(result.status, {
        'content-type': result.contentType ?? 'application/json; charset=utf-8',
        ...result.headers,
      })
      .end(result.body);
  }

  /** Returns true when the fault answered (or dropped) the call itself. */
  private async applyFault(fault: Fault, call: IncomingCall, res: http.ServerResponse): Promise<boolean> {
    switch (fault.type) {
      case 'http-error':
        res.writeHead(fault.status, { 'content-type': 'text/html' }).end(HTML_ERROR(fault.status));
        return true;
      case 'gateway-error-after-record':
        this.process(call);
        res.writeHead(fault.status, { 'content-type': 'text/html' }).end(HTML_ERROR(fault.status));
        return true;
      case 'throttle':
        this.reply(res, THROTTLE_ANSWERS[call.platform]);
        return true;
      case 'non-json':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('OK (not json)');
        return true;
      case 'empty':
        res.writeHead(200, { 'content-type': 'application/json' }).end();
        return true;
      case 'ip-ban':
        if (fault.form === 'html') {
          res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>访问被拒绝 (x5 deny)</body></html>');
        } else {
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ status: 1111, wait: 5, source: 'x5', punish: 'deny', uuid: 'double-ban' }));
        }
        return true;
      case 'close-before-record':
        res.socket?.destroy();
        return true;
      case 'close-after-record':
        this.process(call);
        res.socket?.destroy();
        return true;
      case 'slow': {
        const result = this.process(call);
        await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
        if (!res.destroyed && !res.socket?.destroyed) this.reply(res, result);
        return true;
      }
    }
  }

  /** Control API for doubles run as their own process (`npm run doubles`). */
  private control(method: string, url: URL, body: Buffer, res: http.ServerResponse): void {
    const send = (status: number, value: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    };
    try {
      const input = body.length ? JSON.parse(body.toString('utf8')) : {};
      if (method === 'GET' && url.pathname === '/_doubles/received') {
        const platform = (url.searchParams.get('platform') as Platform | null) ?? undefined;
        const robot = url.searchParams.get('robot') ?? undefined;
        send(200, { calls: this.calls, received: this.received({ platform, robot }) });
        return;
      }
      if (method === 'POST' && url.pathname === '/_doubles/robots') {
        for (const robot of Array.isArray(input) ? input : [input]) this.addRobot(robot as RobotConfig);
        send(200, { ok: true });
        return;
      }
      if (method === 'POST' && url.pathname === '/_doubles/faults') {
        this.fault(input as FaultRule);
        send(200, { ok: true });
        return;
      }
      if (method === 'POST' && url.pathname === '/_doubles/reset') {
        this.reset();
        send(200, { ok: true });
        return;
      }
      send(404, { error: 'unknown control route' });
      return;
    } catch (error) {
      send(400, { error: (error as Error).message });
      return;
    }
  }
}

// Each platform's table of answers (limits.ts: *_ANSWER_CLASSES, with the source of each
// row) is what its adapter does: every row is answered by a real HTTP server as the
// platform would answer it, and the adapter's outcome must be the row's class.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelCredentials } from '../../src/channels/credentials.js';
import { DINGTALK_ANSWER_CLASSES } from '../../src/channels/dingtalk/limits.js';
import type { RobotDoubles } from '../../src/channels/doubles/server.js';
import { FEISHU_ANSWER_CLASSES } from '../../src/channels/feishu/limits.js';
import type { AnswerClass } from '../../src/channels/outcome.js';
import { WEBHOOK_ANSWER_CLASSES } from '../../src/channels/webhook/adapter.js';
import { WECOM_ANSWER_CLASSES } from '../../src/channels/wecom/limits.js';
import { fixedClock } from '../../src/lib/clock.js';
import { robotAdapters, target, textCard } from '../helpers/channels.js';

const clock = fixedClock('2026-03-01T02:00:00Z');
let answer: { status: number; body: string; type: string } = { status: 200, body: '{}', type: 'application/json' };
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body));
});
let url = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The platform's answer for a row: its JSON body with the code, or an HTML page with the status. */
function answerFor(platform: string, row: AnswerClass): typeof answer {
  if ('http' in row.answer) {
    const page = `<html><body><h1>${row.answer.http}</h1>nginx</body></html>`;
    return { status: row.answer.http, body: row.answer.http === 200 ? '{}' : page, type: 'text/html' };
  }
  const { code, message = 'refused' } = row.answer;
  const body =
    platform === 'feishu' ? { code, msg: code === 0 ? 'success' : message, data: {} } : { errcode: code, errmsg: message };
  return { status: 200, body: JSON.stringify(body), type: 'application/json' };
}

const tables: { platform: 'wecom' | 'dingtalk' | 'feishu' | 'webhook'; rows: readonly AnswerClass[]; credentials: () => ChannelCredentials }[] = [
  { platform: 'wecom', rows: WECOM_ANSWER_CLASSES, credentials: () => ({ kind: 'wecom', key: 'k-1' }) },
  {
    platform: 'dingtalk',
    rows: DINGTALK_ANSWER_CLASSES,
    credentials: () => ({ kind: 'dingtalk', accessToken: 't-1', secret: null, keyword: null }),
  },
  {
    platform: 'feishu',
    rows: FEISHU_ANSWER_CLASSES,
    credentials: () => ({ kind: 'feishu', hookId: 'h-1', secret: null, keyword: null }),
  },
  {
    platform: 'webhook',
    rows: WEBHOOK_ANSWER_CLASSES,
    credentials: () => ({ kind: 'webhook', url: `${url}/hook`, secret: 'webhook-secret-0123456789' }),
  },
];

describe.each(tables)('answer classes: $platform', ({ platform, rows, credentials }) => {
  it('names a source for every row, and retries only answers that certainly did not post', () => {
    for (const row of rows) expect(row.source.length, JSON.stringify(row.answer)).toBeGreaterThan(15);
    // Gateway errors that may follow a post are never retried on a robot without a dedup key.
    const gateway = rows.filter((row) => 'http' in row.answer && [500, 502, 504].includes(row.answer.http));
    expect(gateway.map((row) => row.outcome)).toEqual(
      platform === 'webhook' ? ['retryable', 'retryable', 'retryable'] : ['uncertain', 'uncertain', 'uncertain'],
    );
  });

  it('classifies every answer of its table as the table says', async () => {
    const adapter = robotAdapters({ url } as RobotDoubles, clock)[platform];
    for (const row of rows) {
      answer = answerFor(platform, row);
      const outcome = await adapter.send(target(credentials()), textCard('text'));
      expect(outcome.status, `${platform} ${JSON.stringify(row.answer)}`).toBe(row.outcome);
    }
  });
});

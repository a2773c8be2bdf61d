// The channel contract for WeCom customer groups: what the server API client must do with a
// good task, an unknown group or owner, a server error, a hang, a connection cut after the
// task was made, an unreadable answer, a refused connection, a throttle and an expired
// token. Run against the double written from the reference (src/channels/doubles/).
import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CustomerGroupDouble } from '../../src/channels/doubles/wecom-customer-groups.js';
import { WecomApiClient, classifyWecomApi } from '../../src/channels/wecom-group/api.js';
import { fixedClock } from '../../src/lib/clock.js';
import { doublesOutbound } from '../helpers/channels.js';

const clock = fixedClock('2026-03-02T02:00:00Z');
const double = new CustomerGroupDouble({ clock, tokenTtlSeconds: 7200 });
const app = { corpId: 'wwcontract000001', secret: 'contract-app-secret-0000000001' };
const client = (timeoutMs = 2_000, baseUrl = double.url) =>
  new WecomApiClient({ baseUrl, outbound: doublesOutbound(), timeoutMs, clock });

const task = (chats: string[], sender = 'owner-a') => ({
  chat_type: 'group',
  sender,
  chat_id_list: chats,
  allow_select: false,
  text: { content: '【防诈骗】不要向陌生账户转账。' },
});

beforeAll(async () => {
  await double.start();
  double.addCorp(app.corpId, app.secret);
  double.addChat(app.corpId, { chatId: 'wr-a-1', name: '东庄村平安群', owner: 'owner-a', members: [] });
  double.addChat(app.corpId, { chatId: 'wr-a-2', name: '西庄村平安群', owner: 'owner-a', members: [] });
  double.addChat(app.corpId, { chatId: 'wr-b-1', name: '南庄村平安群', owner: 'owner-b', members: [] });
});
afterAll(() => double.close());
beforeEach(() => double.reset());

describe('channel contract: wecom_group (server API client against its double)', () => {
  it('when WeCom accepts a task, then the answer carries its msgid and the double holds one task', async () => {
    const answer = await client().call<{ msgid: string; fail_list: string[] }>(
      app,
      'externalcontact/add_msg_template',
      task(['wr-a-1', 'wr-a-2']),
    );
    expect(answer).toMatchObject({ ok: true, data: { fail_list: [] } });
    expect(double.tasks()).toHaveLength(1);
    expect(double.tasks()[0]).toMatchObject({ sender: 'owner-a', chatIds: ['wr-a-1', 'wr-a-2'], status: 'unsent' });
  });

  it('when a group is not the sender’s, then it is in fail_list and the rest of the task stands', async () => {
    const answer = await client().call<{ fail_list: string[] }>(
      app,
      'externalcontact/add_msg_template',
      task(['wr-a-1', 'wr-b-1']),
    );
    expect(answer).toMatchObject({ ok: true, data: { fail_list: ['wr-b-1'] } });
  });

  it('when no group of the task is the sender’s, then the outcome is permanent (41048) and no task exists', async () => {
    const answer = await client().call(app, 'externalcontact/add_msg_template', task(['wr-b-1']));
    expect(answer).toMatchObject({ ok: false, failure: { status: 'permanent', errcode: 41048 } });
    expect(double.tasks()).toHaveLength(0);
  });

  it('when the service answers 503 with an HTML page before taking the task, then the outcome is retryable and nothing was made', async () => {
    double.fault({ fault: { type: 'http-error', status: 503 }, api: 'add_msg_template' });
    const answer = await client().call(app, 'externalcontact/add_msg_template', task(['wr-a-1']));
    expect(answer).toMatchObject({ ok: false, failure: { status: 'retryable', code: 'http_503' } });
    expect(double.tasks()).toHaveLength(0);
  });

  it('when a gateway answers 502/504 after the task was made, then the outcome is uncertain (never a second task)', async () => {
    for (const status of [502, 504] as const) {
      double.fault({ fault: { type: 'gateway-error-after-record', status }, api: 'add_msg_template' });
      const answer = await client().call(app, 'externalcontact/add_msg_template', task(['wr-a-1']));
      expect(answer).toMatchObject({ ok: false, failure: { status: 'uncertain', code: `http_${status}` } });
    }
    expect(double.tasks()).toHaveLength(2);
  });

  it('when the answer comes after the client timeout, then the outcome is uncertain (and the task was made)', async () => {
    double.fault({ fault: { type: 'slow', delayMs: 600 }, api: 'add_msg_template' });
    const answer = await client(150).call(app, 'externalcontact/add_msg_template', task(['wr-a-1']));
    expect(answer).toMatchObject({ ok: false, failure: { status: 'uncertain', code: 'no_answer' } });
    expect(double.tasks()).toHaveLength(1);
  });

  it('when the connection closes after the task was made, then the outcome is uncertain', async () => {
    double.fault({ fault: { type: 'close-after-record' }, api: 'add_msg_template' });
    const answer = await client().call(app, 'externalcontact/add_msg_template', task(['wr-a-1']));
    expect(answer).toMatchObject({ ok: false, failure: { status: 'uncertain' } });
    expect(double.tasks()).toHaveLength(1);
  });

  it('when a 200 answer is not JSON, then the outcome is uncertain', async () => {
    double.fault({ fault: { type: 'non-json' }, api: 'add_msg_template' });
    const answer = await client().call(app, 'externalcontact/add_msg_template', task(['wr-a-1']));
    expect(answer).toMatchObject({ ok: false, failure: { status: 'uncertain', code: 'unreadable_answer' } });
  });

  it('when WeCom throttles (45009), then the outcome is retryable after its 60 s block', async () => {
    double.fault({ fault: { type: 'rate-limit' }, api: 'add_msg_template' });
    const answer = await client().call(app, 'externalcontact/add_msg_template', task(['wr-a-1']));
    expect(answer).toMatchObject({ ok: false, failure: { status: 'retryable', code: 'wecom_45009' } });
    if (!answer.ok) expect(answer.failure.status === 'retryable' && answer.failure.retryAfterMs).toBeGreaterThanOrEqual(60_000);
    expect(double.tasks()).toHaveLength(0);
  });

  it('when the token expired (42001) or was revoked (40014), then one new token is fetched and exactly one task is made', async () => {
    const c = client();
    await c.call(app, 'externalcontact/add_msg_template', task(['wr-a-1']));
    expect(c.tokenFetches).toBe(1);
    double.expireTokens();
    expect(await c.call(app, 'externalcontact/add_msg_template', task(['wr-a-2']))).toMatchObject({ ok: true });
    double.revokeTokens();
    expect(await c.call(app, 'externalcontact/add_msg_template', task(['wr-a-1']))).toMatchObject({ ok: true });
    expect(c.tokenFetches).toBe(3);
    expect(double.tasks()).toHaveLength(3);
    const created = double.calls.filter((call) => call.api === 'add_msg_template');
    expect(created).toHaveLength(5); // two refused for their token, three made
  });

  it('when the token is near its end, then it is fetched again before the call (no refused call)', async () => {
    const c = client();
    await c.call(app, 'externalcontact/add_msg_template', task(['wr-a-1']));
    clock.advance(7200_000 - 60_000);
    await c.call(app, 'externalcontact/add_msg_template', task(['wr-a-1']));
    expect(c.tokenFetches).toBe(2);
    expect(double.calls.filter((call) => call.api === 'add_msg_template')).toHaveLength(2);
  });

  it('when the secret or corp id is wrong, then the outcome is permanent and names the app settings', async () => {
    const wrongSecret = await client().call({ ...app, secret: 'wrong-secret-0000000000000' }, 'externalcontact/add_msg_template', task(['wr-a-1']));
    expect(wrongSecret).toMatchObject({ ok: false, failure: { status: 'permanent', errcode: 40001 } });
    if (!wrongSecret.ok) expect(wrongSecret.failure.message).toContain('Secret');
    const wrongCorp = await client().call({ ...app, corpId: 'wwnosuchcorp0001' }, 'externalcontact/add_msg_template', task(['wr-a-1']));
    expect(wrongCorp).toMatchObject({ ok: false, failure: { status: 'permanent', errcode: 40013 } });
  });

  it('when the connection is refused, then the outcome is retryable (nothing was sent)', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const answer = await client(2_000, `http://127.0.0.1:${port}`).call(app, 'externalcontact/add_msg_template', task([]));
    expect(answer).toMatchObject({ ok: false, failure: { status: 'retryable', code: 'not_sent' } });
  });

  it('classifies the reference’s codes: 41063 later, 41094 and 41093 permanent, platform text without our IP', () => {
    expect(classifyWecomApi(41063, 'x')).toMatchObject({ status: 'retryable' });
    expect(classifyWecomApi(41094, 'remind frequency out of limit')).toMatchObject({ status: 'permanent', errcode: 41094 });
    expect(classifyWecomApi(41093, 'cancelled')).toMatchObject({ status: 'permanent', errcode: 41093 });
    expect(classifyWecomApi(45009, 'api freq out of limit, hint: [1], from ip: 1.2.3.4').message).not.toContain('1.2.3.4');
  });
});

describe('the double, as the reference describes WeCom', () => {
  it('lists sent rows only for a group task; cancel stops only what the owner has not sent; remind ≤ 3 a day', async () => {
    const c = client();
    const made = await c.call<{ msgid: string }>(app, 'externalcontact/add_msg_template', task(['wr-a-1', 'wr-a-2']));
    const msgid = made.ok ? made.data.msgid : '';
    const result = () =>
      c.call<{ send_list: { chat_id: string; status: number }[] }>(app, 'externalcontact/get_groupmsg_send_result', {
        msgid,
        userid: 'owner-a',
      });
    expect(await result()).toMatchObject({ ok: true, data: { send_list: [] } });
    for (let i = 0; i < 3; i++) expect(await c.call(app, 'externalcontact/remind_groupmsg_send', { msgid })).toMatchObject({ ok: true });
    expect(await c.call(app, 'externalcontact/remind_groupmsg_send', { msgid })).toMatchObject({
      ok: false,
      failure: { errcode: 41094 },
    });
    clock.advance(24 * 3600_000);
    expect(await c.call(app, 'externalcontact/remind_groupmsg_send', { msgid })).toMatchObject({ ok: true });
    double.confirm('owner-a');
    expect(await result()).toMatchObject({ ok: true, data: { send_list: [{ status: 1 }, { status: 1 }] } });
    expect(await c.call(app, 'externalcontact/cancel_groupmsg_send', { msgid })).toMatchObject({ ok: true });
    expect(double.delivered({ msgid })).toHaveLength(2); // sent stays sent

    const second = await c.call<{ msgid: string }>(app, 'externalcontact/add_msg_template', task(['wr-a-1']));
    const unsent = second.ok ? second.data.msgid : '';
    expect(await c.call(app, 'externalcontact/cancel_groupmsg_send', { msgid: unsent })).toMatchObject({ ok: true });
    double.confirm('owner-a');
    expect(double.delivered({ msgid: unsent })).toHaveLength(0);
    expect(await c.call(app, 'externalcontact/remind_groupmsg_send', { msgid: unsent })).toMatchObject({
      ok: false,
      failure: { errcode: 41093 },
    });
  });

  it('caps each group at days-in-month per month: the 32nd message of March is not delivered', async () => {
    const c = client();
    for (let day = 0; day < 31; day++) double.receivedElsewhere('wr-a-1', new Date(Date.UTC(2026, 2, 1, 2 + day * 0)));
    await c.call(app, 'externalcontact/add_msg_template', task(['wr-a-1', 'wr-a-2']));
    double.confirm('owner-a');
    expect(double.delivered({ chatId: 'wr-a-1' })).toHaveLength(0);
    expect(double.delivered({ chatId: 'wr-a-2' })).toHaveLength(1);
  });
});

// Issue 26, finding 7: a test send (试发) sees no reviewer, so it used to reach any group in the
// author's scope at any hour, as often as wanted. Now only groups an admin marked for tests,
// or the author's own notification robot; never in quiet hours; at most TEST_SEND_DAILY_QUOTA
// per user and local day. Each refusal is a 4xx with a Chinese message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { type DeliveryWorld, approvedNotice, startDeliveryWorld, wecomGroups } from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

// 10:00 in Shanghai: outside the default quiet hours 22:00–07:00.
const MORNING = '2025-07-20T02:00:00.000Z';

describe('test sends', () => {
  const clock = fixedClock(MORNING);
  let w: DeliveryWorld;
  let noticeId: string;
  let plain: { id: string; key: string };
  let forTests: { id: string; key: string };

  const testSend = (token: string, body: Record<string, unknown>) =>
    w.t.request('POST', '/api/campaigns/test-send', token, { noticeId, cardStyle: 'rich', ...body });

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TEST_SEND_DAILY_QUOTA: '3', TOKEN_TTL_HOURS: '720' } });
    noticeId = await approvedNotice(w);
    const made = await wecomGroups(w, 2);
    plain = made[0]!;
    forTests = made[1]!;
  });
  afterAll(() => w.close());

  it('when an author test-sends to an ordinary group, then it is refused: only groups marked for tests', async () => {
    const response = await testSend(w.editor, { groupId: plain.id });
    expect(response.statusCode, response.body).toBe(403);
    expect(response.json().message).toContain('不是试发群');
    expect(w.doubles.received({ platform: 'wecom', robot: plain.key })).toHaveLength(0);
  });

  it('when an admin marks a group for tests, then the author’s test send goes there, marked 【测试】 and personalised', async () => {
    const denied = await w.t.request('PATCH', `/api/groups/${forTests.id}`, w.editor, { forTests: true });
    expect(denied.statusCode).toBe(403);
    const marked = await w.t.request('PATCH', `/api/groups/${forTests.id}`, w.t.adminToken, { forTests: true });
    expect(marked.statusCode, marked.body).toBe(200);
    expect(marked.json().forTests).toBe(true);
    const offered = await w.t.request('GET', '/api/groups?forTests=true', w.editor);
    expect(offered.json().map((g: { id: string }) => g.id)).toEqual([forTests.id]);

    const response = await testSend(w.editor, { groupId: forTests.id });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ status: 'sent', channel: 'wecom' });
    const text = JSON.stringify(w.doubles.received({ platform: 'wecom', robot: forTests.key }).at(-1)!.body);
    expect(text).toContain('【测试】');
    expect(text).toContain(TREE.villageA.name);
  });

  it('when it is quiet hours, then no test send goes, with the hours in the message', async () => {
    clock.set('2025-07-20T15:00:00.000Z'); // 23:00 in Shanghai
    try {
      const response = await testSend(w.editor, { groupId: forTests.id });
      expect(response.statusCode).toBe(409);
      expect(response.json().message).toContain('免打扰时段（22:00–07:00）');
    } finally {
      clock.set(MORNING);
    }
  });

  it('when an author has used the day’s quota, then the next test send is refused until the next day', async () => {
    const author = await w.t.userToken('editor', TREE.countyA.code);
    for (let i = 0; i < 3; i++) expect((await testSend(author.token, { groupId: forTests.id })).statusCode).toBe(200);
    const fourth = await testSend(author.token, { groupId: forTests.id });
    expect(fourth.statusCode).toBe(429);
    expect(fourth.json().message).toContain('今天的试发次数已用完（每人每天 3 次）');
    expect(Number(fourth.headers['retry-after'])).toBeGreaterThan(0);
    // Another author's quota is their own; the next local day starts afresh.
    expect((await testSend(w.editor, { groupId: forTests.id })).statusCode).toBe(200);
    clock.set('2025-07-21T02:00:00.000Z'); // 10:00 on the 21st in Shanghai
    try {
      expect((await testSend(author.token, { groupId: forTests.id })).statusCode).toBe(200);
    } finally {
      clock.set(MORNING);
    }
  });

  it('when the author picks their own notification robot, then it goes there; without one the answer says so', async () => {
    const author = await w.t.userToken('editor', TREE.countyA.code);
    const none = await testSend(author.token, { ownRobot: true });
    expect(none.statusCode).toBe(400);
    expect(none.json()).toMatchObject({ field: 'ownRobot' });
    expect(none.json().message).toContain('还没有配置通知机器人');
    const key = `own-robot-${Math.random().toString(36).slice(2, 8)}`;
    w.doubles.addRobot({ platform: 'wecom', key });
    const set = await w.t.request('PUT', `/api/users/${author.id}/notify-robot`, author.token, {
      channel: { kind: 'wecom', key },
    });
    expect(set.statusCode, set.body).toBe(200);
    const sent = await testSend(author.token, { ownRobot: true });
    expect(sent.statusCode, sent.body).toBe(200);
    expect(JSON.stringify(w.doubles.received({ platform: 'wecom', robot: key }).at(-1)!.body)).toContain('【测试】');
    const both = await testSend(author.token, { ownRobot: true, groupId: forTests.id });
    expect(both.statusCode).toBe(400);
    expect(both.json().message).toContain('二选一');
  });

  it('refuses a test send to a group outside the caller’s scope', async () => {
    const outside = await w.t.request('POST', '/api/groups', w.t.adminToken, {
      name: '外区群',
      regionCode: TREE.villageB.code,
      channel: { kind: 'wecom', key: 'outside-robot-key-1' },
      memberCount: 10,
      forTests: true,
    });
    expect(outside.statusCode, outside.body).toBe(201);
    const response = await testSend(w.editor, { groupId: outside.json().id });
    expect(response.statusCode).toBe(404);
    // In quiet hours too: the group is out of reach before the hour matters (no 409 telling
    // the caller about a group they cannot see).
    clock.set('2025-07-20T15:00:00.000Z'); // 23:00 in Shanghai
    try {
      const quiet = await testSend(w.editor, { groupId: outside.json().id });
      expect(quiet.statusCode, quiet.body).toBe(404);
    } finally {
      clock.set(MORNING);
    }
  });
});

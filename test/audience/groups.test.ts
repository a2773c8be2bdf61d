import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RobotDoubles } from '../../src/channels/doubles/server.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { createGroup, groupBody } from '../helpers/groups.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

const SECRETS = {
  wecomKey: 'wecom-secret-key-7f3a9c',
  dingtalkToken: 'dingtalk-secret-token-51be',
  dingtalkSecret: 'SECdingtalk-signing-secret-9d2e',
  feishuHook: 'feishu-secret-hook-c0ffee',
  feishuSecret: 'feishu-signing-secret-4411',
  webhookSecret: 'webhook-signing-secret-8080',
};

describe('groups', () => {
  let t: TestApp;
  const doubles = new RobotDoubles();

  beforeAll(async () => {
    await doubles.start();
    t = await startTestApp({
      env: {
        WECOM_BASE_URL: doubles.url,
        DINGTALK_BASE_URL: doubles.url,
        FEISHU_BASE_URL: doubles.url,
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
      },
    });
    await createRegionTree(t);
  });
  afterAll(async () => {
    await t.close();
    await doubles.close();
  });

  it('when an admin creates a group, then it answers without credentials and records the change in the audit log', async () => {
    const response = await t.request('POST', '/api/groups', t.adminToken, groupBody({ name: '华工社区1群' }));
    expect(response.statusCode).toBe(201);
    const group = response.json();
    expect(group).toMatchObject({
      name: '华工社区1群',
      regionCode: TREE.villageA.code,
      channelKind: 'wecom',
      memberCount: 100,
    });
    expect(group).not.toHaveProperty('channel');
    expect(group).not.toHaveProperty('credentialsSealed');
    const audit = await t.request('GET', '/api/audit?action=group.create', t.adminToken);
    expect(audit.json().some((entry: { targetId: string }) => entry.targetId === group.id)).toBe(true);
  });

  it('stores credentials as AES-GCM ciphertext and never shows them in any API answer or log line', async () => {
    const bodies = [
      groupBody({
        channel: {
          kind: 'wecom',
          webhookUrl: `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${SECRETS.wecomKey}`,
        },
      }),
      groupBody({ channel: { kind: 'dingtalk', accessToken: SECRETS.dingtalkToken, secret: SECRETS.dingtalkSecret } }),
      groupBody({ channel: { kind: 'feishu', hookId: SECRETS.feishuHook, secret: SECRETS.feishuSecret } }),
      groupBody({
        channel: { kind: 'webhook', url: doubles.webhookUrl('credential-test'), secret: SECRETS.webhookSecret },
      }),
    ];
    const answers: string[] = [];
    const ids: string[] = [];
    for (const body of bodies) {
      const created = await t.request('POST', '/api/groups', t.adminToken, body);
      expect(created.statusCode).toBe(201);
      answers.push(created.body);
      ids.push(created.json().id);
    }
    for (const id of ids) {
      answers.push((await t.request('GET', `/api/groups/${id}`, t.adminToken)).body);
      answers.push((await t.request('PATCH', `/api/groups/${id}`, t.adminToken, { memberCount: 5 })).body);
      answers.push((await t.request('POST', `/api/groups/${id}/test-message`, t.adminToken)).body);
    }
    answers.push((await t.request('GET', '/api/groups?limit=500', t.adminToken)).body);
    answers.push((await t.request('GET', '/api/audit?limit=200', t.adminToken)).body);
    // A failing validation must not echo the secret either.
    answers.push(
      (
        await t.request(
          'POST',
          '/api/groups',
          t.adminToken,
          groupBody({ channel: { kind: 'dingtalk', accessToken: SECRETS.dingtalkToken, secret: 'no-SEC-prefix' } }),
        )
      ).body,
    );

    const raw = await mongoose.connection
      .db!.collection('groups')
      .find({ _id: { $in: ids.map((id) => new mongoose.Types.ObjectId(id)) } })
      .toArray();
    expect(raw).toHaveLength(4);
    for (const doc of raw) expect(doc.credentialsSealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    const stored = JSON.stringify(raw);
    const everything = [stored, ...answers, t.logs()].join('\n');
    for (const secret of Object.values(SECRETS)) expect(everything, secret).not.toContain(secret);
    expect(t.logs().length).toBeGreaterThan(0);
  });

  it('refuses credentials that do not fit the channel, naming the field', async () => {
    const cases = [
      [{ kind: 'wecom' }, 'channel.key'],
      [{ kind: 'dingtalk', accessToken: 'abcdefgh1234' }, 'channel.secret'],
      [{ kind: 'feishu', webhookUrl: 'not a url' }, 'channel.webhookUrl'],
      [{ kind: 'webhook', url: 'https://x.example/h', secret: 'short' }, 'channel.secret'],
    ] as const;
    for (const [channel, field] of cases) {
      const response = await t.request('POST', '/api/groups', t.adminToken, groupBody({ channel }));
      expect(response.statusCode, JSON.stringify(channel)).toBe(400);
      expect(response.json().field).toBe(field);
      expect(response.json().message).toMatch(/[\u4e00-\u9fa5]/);
    }
  });

  it('refuses a group on a township (groups belong to villages) and a duplicate name in the same village', async () => {
    const township = await t.request(
      'POST',
      '/api/groups',
      t.adminToken,
      groupBody({ regionCode: TREE.townshipA.code }),
    );
    expect(township.statusCode).toBe(400);
    expect(township.json().message).toMatch(/村\/社区/);
    await createGroup(t, { name: '重名群' });
    const again = await t.request('POST', '/api/groups', t.adminToken, groupBody({ name: '重名群' }));
    expect(again.statusCode).toBe(409);
  });

  it('when a county-A admin reads or writes a county-B group, then it is not found', async () => {
    const outside = await createGroup(t, { regionCode: TREE.villageB.code });
    const { token } = await t.userToken('admin', TREE.countyA.code);
    expect((await t.request('GET', `/api/groups/${outside.id}`, token)).statusCode).toBe(404);
    expect((await t.request('PATCH', `/api/groups/${outside.id}`, token, { memberCount: 1 })).statusCode).toBe(404);
    const list = await t.request('GET', '/api/groups?limit=500', token);
    expect(list.json().every((g: { regionCode: string }) => g.regionCode.startsWith(TREE.countyA.code))).toBe(true);
  });

  it('when the engine flags a group, then it shows as flagged, keeps the first reason, and new credentials clear it', async () => {
    const group = await createGroup(t);
    expect(await t.ctx.groups.flagGroup(group.id, '企业微信 93000：invalid webhook url')).toBe(true);
    expect(await t.ctx.groups.flagGroup(group.id, 'later reason')).toBe(false);
    const flagged = (await t.request('GET', `/api/groups/${group.id}`, t.adminToken)).json();
    expect(flagged.flagged.reason).toMatch(/93000/);
    const listed = await t.request('GET', '/api/groups?flagged=true&limit=500', t.adminToken);
    expect(listed.json().map((g: { id: string }) => g.id)).toContain(group.id);
    const fixed = await t.request('PATCH', `/api/groups/${group.id}`, t.adminToken, {
      channel: { kind: 'wecom', key: 'new-wecom-key-0001' },
    });
    expect(fixed.json().flagged).toBeNull();
    const audit = await t.request('GET', '/api/audit?action=group.channel.change', t.adminToken);
    expect(audit.json().some((e: { targetId: string }) => e.targetId === group.id)).toBe(true);
  });

  it('sends a test message through the group’s channel and reports what the robot said', async () => {
    doubles.addRobot({ platform: 'wecom', key: 'test-message-robot-1' });
    const ok = await createGroup(t, { name: '测试消息群', channel: { kind: 'wecom', key: 'test-message-robot-1' } });
    const sent = await t.request('POST', `/api/groups/${ok.id}/test-message`, t.adminToken);
    expect(sent.json()).toEqual({ status: 'sent', message: '测试消息已发送' });
    const [message] = doubles.received({ robot: 'test-message-robot-1' });
    expect((message!.body.text as { content: string }).content).toMatch(
      /^【警讯】测试消息：测试消息群的企业微信通道已连通/,
    );
    const missing = await createGroup(t, { channel: { kind: 'wecom', key: 'robot-that-was-removed' } });
    const failed = await t.request('POST', `/api/groups/${missing.id}/test-message`, t.adminToken);
    expect(failed.json()).toMatchObject({ status: 'permanent', code: 'wecom_93000' });
  });

  it('refuses unknown fields and wrong types with a 400 naming the field, never a 500', async () => {
    const extra = await t.request('POST', '/api/groups', t.adminToken, groupBody({ credentials: 'x' }));
    expect(extra.statusCode).toBe(400);
    const negative = await t.request('POST', '/api/groups', t.adminToken, groupBody({ memberCount: -3 }));
    expect(negative.statusCode).toBe(400);
    expect(negative.json().field).toMatch(/memberCount/);
    const text = await t.request('POST', '/api/groups', t.adminToken, groupBody({ memberCount: '300' }));
    expect(text.statusCode).toBe(400);
  });
});

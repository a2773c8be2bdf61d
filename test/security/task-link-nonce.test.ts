// Issue 26, findings 1 and 2: a signed task link does not renew itself and stops working once
// the task is confirmed or an admin revokes it; the notifier routes a task's links only to
// the one officer account in scope of the task's group (phones normalised, ambiguity refused).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { ADMIN_PASSWORD } from '../helpers/app.js';
import { type DeliveryWorld, manualGroup, pushedNow, startDeliveryWorld } from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

const clock = fixedClock('2026-06-10T02:00:00.000Z'); // 10:00 in Shanghai
const MINUTE = 60_000;

describe('task links carry a per-task nonce', () => {
  let w: DeliveryWorld;
  let taskId: string;
  let link: string;

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    const sent = await w.t.ctx.channels.adapterFor('manual').send(
      {
        groupId: 'g-nonce',
        groupName: '东村群',
        credentials: { kind: 'manual' } as never,
        regionPath: ['000000', TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code],
        officer: { name: '王警官', phone: '13900000001' },
      },
      {
        type: 'text',
        card: { format: 'text', title: '请转发', content: '防诈', url: 'https://example.cn/n/1', pictureUrl: null },
      },
      { reference: 'nonce-1' },
    );
    taskId = (sent as { taskId: string }).taskId;
  });
  afterAll(() => w.close());

  const listedLink = async () => {
    const listed = (await w.t.request('GET', '/api/manual-tasks', w.t.adminToken)).json() as {
      id: string;
      link: string | null;
    }[];
    return listed.find((task) => task.id === taskId)!.link!;
  };
  const call = (method: 'GET' | 'POST', l: string, suffix = '') => {
    const url = new URL(l);
    return w.t.request(method, `${url.pathname.replace(/^\/task\//, '/api/manual-tasks/')}${suffix}${url.search}`);
  };

  it('when a task is viewed through its public link, then no fresh link is returned', async () => {
    link = await listedLink();
    const viewed = await call('GET', link);
    expect(viewed.statusCode, viewed.body).toBe(200);
    expect(viewed.json().link).toBeNull();
    expect(viewed.body).not.toContain('sig=');
  });

  it('when an admin revokes a task’s links, then links handed out before stop working, and the revoke is audited', async () => {
    const revoked = await w.t.request('POST', `/api/manual-tasks/${taskId}/revoke-links`, w.t.adminToken);
    expect(revoked.statusCode, revoked.body).toBe(200);
    const old = await call('GET', link);
    expect(old.statusCode).toBe(403);
    expect(old.json().message).toContain('收回');
    expect((await call('POST', link, '/confirm')).statusCode).toBe(403);
    const fresh = await listedLink();
    expect(fresh).not.toBe(link);
    expect((await call('GET', fresh)).statusCode).toBe(200);
    const audit = await w.t.request('GET', '/api/audit?action=manual-task.revoke-links', w.t.adminToken);
    expect(audit.body).toContain('manual-task.revoke-links');
    const officer = await w.t.userToken('officer', TREE.countyA.code);
    expect((await w.t.request('POST', `/api/manual-tasks/${taskId}/revoke-links`, officer.token)).statusCode).toBe(403);
    link = fresh;
  });

  it('when the task is confirmed, then its link no longer shows it (a repeated confirm still answers 已确认)', async () => {
    const first = await call('POST', link, '/confirm');
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json().firstTime).toBe(true);
    const again = await call('POST', link, '/confirm');
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json().firstTime).toBe(false);
    const viewed = await call('GET', link);
    expect(viewed.statusCode).toBe(410);
    expect(viewed.json().message).toMatch(/^已于 .+ 确认转发$/);
    expect((await call('GET', link, '/image')).statusCode).toBe(410);
  });
});

describe('the notifier finds the officer only inside the task’s scope', () => {
  let w: DeliveryWorld;
  const later = fixedClock('2026-06-11T02:00:00.000Z');

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock: later, env: { TOKEN_TTL_HOURS: '720' } });
  });
  afterAll(() => w.close());

  async function userWithRobot(username: string, regionCode: string, phone: string, robot: string, token: string) {
    const created = await w.t.request('POST', '/api/users', token, {
      username,
      displayName: username,
      password: `${ADMIN_PASSWORD}-${username}`,
      role: 'officer',
      regionCode,
      phone,
    });
    expect(created.statusCode, created.body).toBe(201);
    w.doubles.addRobot({ platform: 'wecom', key: robot });
    const set = await w.t.request('PUT', `/api/users/${created.json().id}/notify-robot`, token, {
      channel: { kind: 'wecom', key: robot },
    });
    expect(set.statusCode, set.body).toBe(200);
    return created.json().id as string;
  }

  const posts = (robot: string) => w.doubles.received({ platform: 'wecom', robot });

  it('when another county’s account has the officer’s phone, then it never receives the digest; the officer (phone written differently) does', async () => {
    const countyBAdmin = (await w.t.userToken('admin', TREE.countyB.code)).token;
    await userWithRobot('stranger', TREE.countyB.code, '13900000001', 'robot-stranger-0001', countyBAdmin);
    await userWithRobot('wangjg', TREE.countyA.code, '+86 139-0000-0001', 'robot-wang-000001', w.t.adminToken);
    const groupId = await manualGroup(w, '东村群', { officer: { name: '王警官', phone: '13900000001' } });
    await pushedNow(w, '防诈提醒', [groupId]);
    later.advance(MINUTE + 1);
    await w.t.ctx.notifier.tick();
    expect(posts('robot-stranger-0001')).toHaveLength(0);
    expect(posts('robot-wang-000001')).toHaveLength(1);
  });

  it('when two accounts in scope share the officer’s phone, then nobody is sent the links and the step says why', async () => {
    await userWithRobot('twin1', TREE.countyA.code, '13900000007', 'robot-twin-000001', w.t.adminToken);
    await userWithRobot('twin2', TREE.townshipA.code, '139 0000 0007', 'robot-twin-000002', w.t.adminToken);
    const groupId = await manualGroup(w, '西村群', { officer: { name: '双胞胎', phone: '13900000007' } });
    const campaignId = await pushedNow(w, '防溺水', [groupId]);
    later.advance(MINUTE + 1);
    await w.t.ctx.notifier.tick();
    expect(posts('robot-twin-000001')).toHaveLength(0);
    expect(posts('robot-twin-000002')).toHaveLength(0);
    const steps = (await w.t.request('GET', `/api/campaigns/${campaignId}/notifications`, w.t.adminToken)).json();
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ kind: 'digest', status: 'ambiguous_officer' });
    expect(steps[0].detail).toContain('多个账号');
  });
});

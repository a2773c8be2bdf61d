// Two worker processes (the same `src/main.ts --role=worker` a deployment runs) send 36 urgent
// campaigns, each to one of 36 village groups that share a single DingTalk robot, whose
// platform allows 20 posts a minute and bans the robot for 10 minutes beyond (130101). (One
// campaign to all 36 would post once: a run delivers once per robot, see shared-robot.test.ts.)
// The robot double records every call: none may be a 21st in a minute, so none is answered
// with the throttle code.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORLD_ADMIN_PASSWORD, provinceStaff, startWorld, type World } from '../../scripts/engine-world.js';
import { SendAttemptModel } from '../../src/db/claims.js';
import { GroupModel } from '../../src/audience/model.js';
import { QueueEntryModel } from '../../src/engine/model.js';
import { campaignItems } from '../helpers/delivery.js';

const SHARED_GROUPS = 36;
const TOKEN = 'shared-dingtalk-token';
const SECRET = 'SECshared-dingtalk-secret';
const SETTLE_MS = 420_000;

let world: World;
let staff: { editor: string; reviewer: string };
const children = new Set<ChildProcess>();

function startProcess(role: 'worker' | 'scheduler'): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', `--role=${role}`], {
    env: { PATH: process.env.PATH, ...world.processEnv, WORKER_CONCURRENCY: '16' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  child.once('exit', () => children.delete(child));
  children.add(child);
  return child;
}

async function call(token: string, method: 'POST' | 'GET', url: string, body?: unknown) {
  const response = await world.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
  return response.json();
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('a robot shared by many groups, sent to by two worker processes', () => {
  beforeAll(async () => {
    // The demo province's smallest shape (a world of up to 595 groups is one real county
    // instead): the 36 shared-robot groups go into villages of the first 176 groups (below),
    // the same villages as in any bigger world.
    world = await startWorld({ groups: 600 });
    staff = await provinceStaff(world);
  }, 300_000);
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await world?.close();
  });

  it(
    'never posts more than 20 in any minute to it, so DingTalk never throttles or bans it, and sends each group once',
    async () => {
      world.doubles.addRobot({ platform: 'dingtalk', token: TOKEN, secret: SECRET });
      // Villages of several townships: several batches, so both workers take some.
      const villages = (await GroupModel.find({}, { regionCode: 1 }).lean()).map((g) => g.regionCode as string);
      const login = await world.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { username: 'admin', password: WORLD_ADMIN_PASSWORD },
      });
      const admin = login.json().token as string;
      const groupIds: string[] = [];
      for (let i = 0; i < SHARED_GROUPS; i++) {
        const created = await call(admin, 'POST', '/api/groups', {
          name: `共用机器人群${i + 1}`,
          regionCode: villages[(i * 5) % villages.length],
          channel: { kind: 'dingtalk', accessToken: TOKEN, secret: SECRET, keyword: null },
          memberCount: 50,
        });
        groupIds.push(created.id);
      }
      const notice = await call(staff.editor, 'POST', '/api/notices', {
        category: 'anti_fraud',
        title: '共用机器人限速',
        body: '近期冒充客服退款诈骗高发。',
        issuingUnit: '演示县公安局',
      });
      await call(staff.editor, 'POST', `/api/notices/${notice.id}/submit`);
      await call(staff.reviewer, 'POST', `/api/notices/${notice.id}/approve`, {});
      const campaignIds: string[] = [];
      for (const groupId of groupIds) {
        const campaign = await call(staff.editor, 'POST', '/api/campaigns', {
          title: '共用机器人限速',
          noticeId: notice.id,
          audience: { regions: [], tags: [], groups: [groupId], excludeRegions: [], excludeTags: [], excludeGroups: [] },
          schedule: { kind: 'now' },
          priority: 'urgent',
          cardStyle: 'rich',
        });
        await call(staff.editor, 'POST', `/api/campaigns/${campaign.id}/submit`);
        campaignIds.push(campaign.id);
      }
      world.doubles.reset();
      const callsBefore = world.doubles.calls;
      startProcess('worker');
      startProcess('worker');
      startProcess('scheduler');
      for (const id of campaignIds) await call(staff.reviewer, 'POST', `/api/campaigns/${id}/approve`);

      const allItems = async () => (await Promise.all(campaignIds.map((id) => campaignItems(id)))).flat();
      await until(
        async () =>
          !(await QueueEntryModel.exists({ campaignId: { $in: campaignIds } })) &&
          (await allItems()).length === SHARED_GROUPS,
        SETTLE_MS,
        'the runs to settle',
      );
      const items = await allItems();
      expect(items.map((i) => i.status)).toEqual(items.map(() => 'sent'));
      const received = world.doubles.received({ platform: 'dingtalk', robot: TOKEN });
      expect(received).toHaveLength(SHARED_GROUPS);
      // Every call the robot got was accepted: no 130101, no ban.
      expect(world.doubles.calls - callsBefore).toBe(SHARED_GROUPS);
      const times = received.map((m) => m.receivedAt.getTime()).sort((a, b) => a - b);
      for (const start of times) {
        expect(times.filter((t) => t >= start && t < start + 60_000).length).toBeLessThanOrEqual(20);
      }
      // Both processes sent: the limit held between them, not within one.
      const owners = await SendAttemptModel.distinct('owner', { _id: { $regex: `^(${campaignIds.join('|')})@` } });
      expect(owners.length).toBe(2);
    },
    SETTLE_MS + 60_000,
  );
});

// Issue 20, must show 3: a retraction reaches officers' tasks on the real service. A real API
// process (the `src/main.ts` a deployment runs) against a real FerretDB; the demo county's
// personal WeChat groups (manual channel) give officers at least 20 open tasks; the station
// robots are the WeCom double. Retract through the process → the first look after the
// retract returns already finds every open task's link answering 410 and none listed open;
// then, on a fixed clock two hours on (the notifier's passes every 15 minutes), no reminder
// or escalation was sent for them, and each officer was told once.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_COUNTY } from '../../scripts/demo-data.js';
import { WORLD_ADMIN_PASSWORD, startWorld, type World } from '../../scripts/engine-world.js';
import { GroupModel } from '../../src/audience/model.js';
import { createContext, engineDeps } from '../../src/context.js';
import { Scheduler, createWorker } from '../../src/engine/runner.js';
import { fixedClock } from '../../src/lib/clock.js';
import { flushOpenCounts } from '../../src/channels/manual/open-counts.js';

const GROUPS = 200; // one demo county; 3 in 20 demo groups are manual: 30 tasks over its townships' officers
const DEMO_PROVINCE = DEMO_COUNTY.code; // the users' scope
const MINUTE = 60_000;

let world: World;
let api: ChildProcess;
let base: string;
let staff: { editor: string; reviewer: string };

async function call(method: string, path: string, token: string | null, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) };
}

async function ok(method: string, path: string, token: string | null, body?: unknown, status = 200) {
  const answer = await call(method, path, token, body);
  if (answer.status !== status) throw new Error(`${method} ${path}: ${answer.status} ${answer.text}`);
  return answer.json();
}

describe('a retraction reaches officers’ open tasks on the real service', () => {
  beforeAll(async () => {
    const port = 38_000 + Math.floor(Math.random() * 2_000);
    base = `http://127.0.0.1:${port}`;
    world = await startWorld({ groups: GROUPS, env: { PUBLIC_BASE_URL: base } });
    api = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--role=api'], {
      env: { PATH: process.env.PATH, ...world.processEnv, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const up = await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    // The county's editor and reviewer (an admin-set password is changed first).
    const admin = (await ok('POST', '/api/auth/login', null, { username: 'admin', password: WORLD_ADMIN_PASSWORD }))
      .token as string;
    const tokens: Record<string, string> = {};
    for (const role of ['editor', 'reviewer']) {
      const username = `${role}-county`;
      const password = `${username}-password`;
      await ok(
        'POST',
        '/api/users',
        admin,
        { username, displayName: role, password, role, regionCode: DEMO_PROVINCE },
        201,
      );
      const first = (await ok('POST', '/api/auth/login', null, { username, password })).token;
      await ok('POST', '/api/auth/password', first, { currentPassword: password, newPassword: `${password}-2` });
      tokens[role] = (await ok('POST', '/api/auth/login', null, { username, password: `${password}-2` })).token;
    }
    staff = { editor: tokens.editor!, reviewer: tokens.reviewer! };
  }, 180_000);

  afterAll(async () => {
    if (api && api.exitCode === null) {
      const exited = new Promise((r) => api.once('exit', r));
      api.kill('SIGTERM');
      await exited;
    }
    await world?.close();
  });

  it('retract while officers hold ≥ 20 open tasks: every link 410 at once, none open, no reminder or escalation two hours on, each officer told once', async () => {
    // The officers of the demo's manual groups, each with an account and a station robot.
    const manual = await GroupModel.find({ channelKind: 'manual' }, { officerName: 1, officerPhone: 1 }).lean();
    expect(manual.length).toBeGreaterThanOrEqual(20);
    const admin = (await ok('POST', '/api/auth/login', null, { username: 'admin', password: WORLD_ADMIN_PASSWORD }))
      .token as string;
    const officers = new Map<string, { name: string; robot: string; chiefRobot: string }>();
    for (const group of manual) {
      const phone = group.officerPhone!;
      if (officers.has(phone)) continue;
      const robot = `station-${phone}`;
      const chiefRobot = `chief-${phone}`;
      officers.set(phone, { name: group.officerName!, robot, chiefRobot });
      world.doubles.addRobot({ platform: 'wecom', key: robot });
      world.doubles.addRobot({ platform: 'wecom', key: chiefRobot });
      const ids: string[] = [];
      for (const [username, p] of [
        [`o${phone}`, phone],
        [`c${phone}`, `138${phone.slice(3)}`],
      ] as const) {
        const user = await ok(
          'POST',
          '/api/users',
          admin,
          {
            username,
            displayName: username,
            password: `${username}-password`,
            role: 'officer',
            regionCode: DEMO_PROVINCE,
            phone: p,
          },
          201,
        );
        ids.push(user.id);
      }
      await ok('PUT', `/api/users/${ids[0]}/notify-robot`, admin, {
        channel: { kind: 'wecom', key: robot },
        superiorUserId: ids[1],
      });
      await ok('PUT', `/api/users/${ids[1]}/notify-robot`, admin, { channel: { kind: 'wecom', key: chiefRobot } });
    }

    // An urgent notice to the manual groups (reminders after 30 minutes), delivered by the engine.
    const notice = await ok(
      'POST',
      '/api/notices',
      staff.editor,
      { category: 'anti_fraud', title: '协查通报：嫌疑人甲', body: '请群众提供线索。', issuingUnit: '演示县公安局' },
      201,
    );
    await ok('POST', `/api/notices/${notice.id}/submit`, staff.editor);
    await ok('POST', `/api/notices/${notice.id}/approve`, staff.reviewer, {});
    const campaign = await ok(
      'POST',
      '/api/campaigns',
      staff.editor,
      {
        title: '协查通报：嫌疑人甲',
        noticeId: notice.id,
        audience: {
          regions: [],
          tags: [],
          groups: manual.map((g) => String(g._id)),
          excludeRegions: [],
          excludeTags: [],
          excludeGroups: [],
        },
        schedule: { kind: 'now' },
        priority: 'urgent',
      },
      201,
    );
    await ok('POST', `/api/campaigns/${campaign.id}/submit`, staff.editor);
    await ok('POST', `/api/campaigns/${campaign.id}/approve`, staff.reviewer);
    const deps = engineDeps(world.ctx);
    const scheduler = new Scheduler(deps);
    const worker = createWorker({ ...deps, worker: { ...deps.worker, pollMs: 10, maxInlineWaitMs: 0 } });
    await scheduler.tick();
    for (let i = 0; i < 50 && (await worker.drainOnce()) > 0; i++);
    // The worker's waves log their counties at its flush (open-counts.ts, FLUSH_MS later); the API
    // process, whose kept county documents its warm-up at start read, hears of them then.
    await flushOpenCounts();

    // The officers' digests, on a fixed clock from a minute after the tasks were made.
    const clock = fixedClock(new Date(Date.now() + MINUTE + 1_000));
    const notifierCtx = createContext(world.ctx.config, world.ctx.db, clock);
    await notifierCtx.notifier.tick();
    const posts = (robot: string) =>
      world.doubles.received({ platform: 'wecom', robot }).map((m) => (m.body.text as { content: string }).content);
    for (const officer of officers.values()) expect(posts(officer.robot)).toHaveLength(1);

    const listed = (await ok('GET', '/api/manual-tasks?open=true&limit=500', admin)) as {
      id: string;
      link: string;
    }[];
    expect(listed.length).toBeGreaterThanOrEqual(20);
    for (const task of listed.slice(0, 3)) {
      expect(
        (
          await call(
            'GET',
            new URL(task.link).pathname.replace('/task/', '/api/manual-tasks/') + new URL(task.link).search,
            null,
          )
        ).status,
      ).toBe(200);
    }

    // Retract through the real process.
    const correction = await ok(
      'POST',
      '/api/notices',
      staff.editor,
      {
        category: 'anti_fraud',
        title: '更正：协查通报有误',
        body: '此前协查通报有误，请勿转发。',
        issuingUnit: '演示县公安局',
      },
      201,
    );
    await ok('POST', `/api/notices/${correction.id}/submit`, staff.editor);
    await ok('POST', `/api/notices/${correction.id}/approve`, staff.reviewer, {});
    await ok('POST', `/api/campaigns/${campaign.id}/retract`, staff.editor, { followUpNoticeId: correction.id });
    const returned = Date.now();
    const firstUrl = new URL(listed[0]!.link);
    const first = await call(
      'GET',
      `${firstUrl.pathname.replace('/task/', '/api/manual-tasks/')}${firstUrl.search}`,
      null,
    );
    const firstMs = Date.now() - returned;
    expect(first.status).toBe(410);

    // The first look after the retract returns: every link (page, view, picture) 410, none open.
    const answers = await Promise.all(
      listed.map(async (task) => {
        const url = new URL(task.link);
        const apiPath = url.pathname.replace('/task/', '/api/manual-tasks/');
        const page = await call('GET', `${url.pathname}${url.search}`, null);
        const view = await call('GET', `${apiPath}${url.search}`, null);
        return [page.status, view.status];
      }),
    );
    const open = (await ok('GET', '/api/manual-tasks?open=true&limit=500', admin)) as unknown[];
    const looked = Date.now() - returned;
    expect(
      answers.flat().every((status) => status === 410),
      JSON.stringify(answers),
    ).toBe(true);
    expect(open).toHaveLength(0);
    console.info(
      `retract → first link 410 after ${firstMs} ms; all ${listed.length} links (page and API) 410 and an empty open list, checked in ${looked} ms`,
    );

    // Two hours on, a notifier pass every 15 minutes: no reminder, no escalation, each officer told once.
    for (let minutes = 0; minutes <= 120; minutes += 15) {
      await notifierCtx.notifier.tick();
      clock.advance(15 * MINUTE);
    }
    for (const officer of officers.values()) {
      const told = posts(officer.robot);
      expect(told, officer.name).toHaveLength(2);
      expect(told[1]).toContain('已撤回，请勿转发');
      expect(told[1]).toContain('如已转发，请在群内转发更正通知');
      expect(told.some((p) => p.includes('【提醒】'))).toBe(false);
      expect(posts(officer.chiefRobot)).toHaveLength(0);
    }
  }, 300_000);
});

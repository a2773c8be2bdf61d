// Walks the whole route table: every non-public /api route must refuse anonymous callers
// (401), roles it does not allow (403) and data outside the caller's region scope
// (403/404). Routes added later are covered automatically; a route with a path parameter
// or a body must be given a fixture below, or this test fails and says which.
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../../src/auth/roles.js';
import type { AccessEntry } from '../../src/http/access.js';
import { accessControl } from '../../src/http/access.js';
import { TipModel } from '../../src/tips/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { createGroup, groupBody } from '../helpers/groups.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

/** Anything of county B must never show in answers to callers scoped to county A. */
const OUTSIDE_MARKER = TREE.countyB.code;

type Params = Record<string, string>;

let countyBAdmin: string | undefined;

/** Creates a resource in county B (outside the callers' scope) and returns its path params. */
const outOfScopeFixtures: Record<string, (t: TestApp) => Promise<Params>> = {
  region: async () => ({ code: TREE.countyB.code }),
  user: async (t) => ({ id: (await t.userToken('viewer', TREE.countyB.code)).id }),
  notice: async (t) => {
    const created = await t.request('POST', '/api/notices', t.adminToken, sampleBodies['POST /api/notices']);
    if (created.statusCode !== 201) throw new Error(`notice fixture: ${created.body}`);
    return { id: created.json().id, version: '1' };
  },
  group: async (t) => ({ id: (await createGroup(t, { regionCode: TREE.villageB.code })).id }),
  // A resident's tip on a county B notice (stored as the tip form stores it).
  tip: async (t) => {
    const notice = await t.request('POST', '/api/notices', t.adminToken, sampleBodies['POST /api/notices']);
    const tip = await TipModel.create({
      noticeId: notice.json().id,
      regionPath: ['000000', TREE.province.code, TREE.city.code, TREE.countyB.code],
      text: '外区线索',
      receivedAt: new Date(),
    });
    return { id: String(tip._id) };
  },
  // An officer's task for a county B group (made as the manual channel makes it).
  'manual-task': async (t) => {
    const task = await t.ctx.manualTasks.createTask(
      {
        groupId: 'county-b-group',
        groupName: '外区群',
        credentials: { kind: 'manual' } as never,
        regionPath: ['000000', TREE.province.code, TREE.city.code, TREE.countyB.code, TREE.townshipB.code],
        officer: { name: '外区民警', phone: '13800009999' },
      },
      {
        type: 'text',
        card: { format: 'text', title: '外区任务', content: '请转发', url: 'https://example.cn/n/1', pictureUrl: null },
      },
    );
    return { id: task.id };
  },
  campaign: async (t) => {
    // Written by county B's own admin, so the campaign belongs to county B (not to the whole tree).
    countyBAdmin ??= (await t.userToken('admin', TREE.countyB.code)).token;
    const countyAdmin = countyBAdmin;
    const notice = await t.request('POST', '/api/notices', countyAdmin, sampleBodies['POST /api/notices']);
    const body = { ...(sampleBodies['POST /api/campaigns'] as object), noticeId: notice.json().id };
    const created = await t.request('POST', '/api/campaigns', countyAdmin, body);
    if (created.statusCode !== 201) throw new Error(`campaign fixture: ${created.body}`);
    return { id: created.json().id };
  },
};

/** A valid body for each route that takes one (so the scope check, not validation, answers). */
const sampleBodies: Record<string, unknown> = {
  'POST /api/auth/login': { username: 'nobody', password: 'x' },
  'POST /api/auth/password': { currentPassword: 'wrong-password', newPassword: 'new-password-123' },
  'POST /api/regions': { code: '440111002099', name: '新社区', parentCode: TREE.townshipB.code },
  'PATCH /api/regions/:code': { name: '改名' },
  'POST /api/regions/seed': { countyCode: TREE.countyB.code },
  'POST /api/users': {
    username: 'outsider',
    displayName: '外区用户',
    password: 'long-enough-password',
    role: 'viewer',
    regionCode: TREE.countyB.code,
  },
  'PATCH /api/users/:id': { displayName: '改名' },
  'PUT /api/users/:id/notify-robot': { channel: { kind: 'wecom', key: 'station-robot-key-0001' } },
  'PUT /api/regions/:code/wecom-app': { corpId: 'ww0123456789abcdef', secret: 'county-b-wecom-app-secret-0001' },
  'PUT /api/regions/:code/officer-text': { withoutLink: true },
  'POST /api/regions/:code/wecom-groups/:chatId/village': { villageCode: '440111002001' },
  'PUT /api/users/:id/wecom-userid': { wecomUserId: 'zhangsan' },
  'POST /api/notices': {
    category: 'anti_fraud',
    title: '外区通知',
    body: '正文',
    issuingUnit: '白云分局',
    regionCode: TREE.countyB.code,
  },
  'PATCH /api/notices/:id': { title: '改标题' },
  'POST /api/notices/:id/approve': {},
  'POST /api/notices/:id/reject': { reason: '不通过' },
  'POST /api/notices/:id/preview/text': { format: 'text' },
  'POST /api/notices/:id/preview/image': { format: 'png' },
  'POST /api/groups': groupBody({ regionCode: TREE.villageB.code }),
  'PATCH /api/groups/:id': { memberCount: 1 },
  'POST /api/groups/batch': { ids: ['0123456789abcdef01234567'], action: 'deactivate' },
  'POST /api/notices/review-batch': { ids: ['0123456789abcdef01234567'], decision: 'approve' },
  'POST /api/campaigns/review-batch': { ids: ['0123456789abcdef01234567'], decision: 'approve' },
  'POST /api/audience/preview': { regions: [TREE.countyB.code] },
  'POST /api/campaigns': {
    title: '外区活动',
    noticeId: '0123456789abcdef01234567',
    audience: { regions: [TREE.countyB.code] },
    schedule: { kind: 'once', at: '2099-01-01T01:00:00.000Z' },
  },
  'PUT /api/campaigns/:id': {
    title: '改名',
    noticeId: '0123456789abcdef01234567',
    audience: { regions: [TREE.countyB.code] },
    schedule: { kind: 'once', at: '2099-01-01T01:00:00.000Z' },
  },
  'POST /api/campaigns/:id/reject': { note: '不通过' },
  'POST /api/campaigns/:id/retract': { followUpNoticeId: '0123456789abcdef01234567' },
  'POST /api/campaigns/:id/follow-up': { followUpNoticeId: '0123456789abcdef01234567' },
  'POST /api/notices/:id/personal-data/confirm': { keys: ['0123456789abcdef'] },
  'POST /api/cases/:id/solve': { kind: 'caught' },
  'PATCH /api/tips/:id': { status: 'closed' },
  'POST /api/campaigns/test-send': { noticeId: '0123456789abcdef01234567', groupId: '0123456789abcdef01234568' },
  'POST /api/campaigns/schedule-preview': { schedule: { kind: 'now' } },
  'POST /api/groups/import-report': {
    dryRun: true,
    applied: false,
    rows: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    rejected: 0,
    errors: [],
    ignoredColumns: [],
  },
  'POST /api/previews/text': { content: { category: 'general', title: '标题', body: '正文', issuingUnit: '分局' } },
  'POST /api/previews/image': { content: { category: 'general', title: '标题', body: '正文', issuingUnit: '分局' } },
};

/** Writes without a path parameter whose body points outside the scope (sampleBodies do). */
const scopedByBody = new Set([
  'POST /api/regions',
  'POST /api/regions/seed',
  'POST /api/users',
  'POST /api/notices',
  'POST /api/groups',
  'POST /api/audience/preview',
  'POST /api/campaigns',
  'POST /api/campaigns/test-send',
]);
/** Writes of content-addressed data that belongs to no region (pictures, public by hash). */
const unscopedContent = new Set(['POST /api/media']);
/** Computations on what the caller sends, reading no stored data (previews of unsaved text, schedule times). */
const computedOnly = new Set([
  'POST /api/previews/text',
  'POST /api/previews/image',
  'POST /api/campaigns/schedule-preview',
  // The import report as xlsx: the report the caller's own import returned, written out.
  'POST /api/groups/import-report',
]);
/** Sheet imports: each row's region is checked against the scope and refused per row (test/audience/import-export.test.ts). */
// Batch actions refuse an out-of-scope item in its own result (test/lists/batch-and-paging.test.ts).
const scopedPerRow = new Set([
  'POST /api/groups/import',
  'POST /api/regions/import',
  'POST /api/groups/batch',
  'POST /api/notices/review-batch',
  'POST /api/campaigns/review-batch',
]);
/** Writes that act only on the caller's own account: nothing of another scope to reach. */
const ownAccountOnly = new Set(['POST /api/auth/logout', 'POST /api/auth/password']);

const key = (route: AccessEntry) => `${route.method} ${route.url}`;
const paramNames = (url: string) => [...url.matchAll(/:(\w+)/g)].map((m) => m[1]!);
const placeholder: Params = { id: '0123456789abcdef01234567', code: TREE.countyA.code };

function fill(url: string, params: Params): string {
  return url.replace(/:(\w+)/g, (_, name: string) => params[name] ?? placeholder[name] ?? 'x');
}

describe('authorisation over the whole route table', () => {
  let t: TestApp;
  const tokens = {} as Record<Role, string>;
  let routes: AccessEntry[];

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    for (const role of ROLES) tokens[role] = (await t.userToken(role, TREE.countyA.code)).token;
    routes = t.app.accessTable.filter((route) => !route.access.public);
  });
  afterAll(() => t.close());

  it('finds the protected routes (the table is not empty)', () => {
    expect(routes.length).toBeGreaterThanOrEqual(8);
    expect(routes.map(key)).toContain('GET /api/users');
  });

  it('refuses to start when an /api route declares no access', async () => {
    const bare = Fastify();
    await bare.register(accessControl, { sessions: t.ctx.sessions });
    expect(() => bare.get('/api/forgotten', async () => 'leak')).toThrow(/declares no access/);
  });

  it('when called anonymously, then every protected route answers 401', async () => {
    for (const route of routes) {
      const response = await t.request(route.method as 'GET', fill(route.url, {}), null, sampleBodies[key(route)]);
      expect(response.statusCode, key(route)).toBe(401);
      expect(response.json().code, key(route)).toBe('unauthorized');
    }
  });

  it('when called with a bad, forged or revoked token, then it answers 401', async () => {
    const route = routes.find((r) => key(r) === 'GET /api/auth/me')!;
    for (const token of ['not-a-token', 'jx_forged-token-that-was-never-issued']) {
      expect((await t.request('GET', route.url, token)).statusCode).toBe(401);
    }
    const { token } = await t.userToken('viewer', TREE.countyA.code);
    expect((await t.request('POST', '/api/auth/logout', token)).statusCode).toBe(200);
    expect((await t.request('GET', '/api/auth/me', token)).statusCode).toBe(401);
  });

  it('when called by a role the route does not allow, then it answers 403', async () => {
    let checked = 0;
    for (const route of routes) {
      if (route.access.public) continue;
      for (const role of ROLES.filter((r) => !route.access.public && !route.access.roles.includes(r))) {
        const response = await t.request(
          route.method as 'GET',
          fill(route.url, {}),
          tokens[role],
          sampleBodies[key(route)],
        );
        expect(response.statusCode, `${role} → ${key(route)}`).toBe(403);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('when a route takes a body, then a sample body is given here', () => {
    const missing = routes.filter((route) => route.hasBody && !(key(route) in sampleBodies)).map(key);
    expect(missing, 'add these to sampleBodies').toEqual([]);
  });

  it('when data lies outside the caller’s region, then every route refuses it (403/404)', async () => {
    for (const route of routes) {
      if (route.access.public) continue;
      const role: Role = route.access.roles.includes('admin') ? 'admin' : route.access.roles[0]!;
      const names = paramNames(route.url);
      if (names.length > 0) {
        const resource = route.access.resource;
        expect(
          resource && outOfScopeFixtures[resource],
          `${key(route)}: declare a resource with a fixture`,
        ).toBeTruthy();
        const params = await outOfScopeFixtures[resource!]!(t);
        const response = await t.request(
          route.method as 'GET',
          fill(route.url, params),
          tokens[role],
          sampleBodies[key(route)],
        );
        expect([403, 404], `${key(route)} answered ${response.statusCode}: ${response.body}`).toContain(
          response.statusCode,
        );
      } else if (route.method === 'GET') {
        const response = await t.request('GET', route.url, tokens[role]);
        expect(response.body, `${key(route)} leaks county B`).not.toContain(OUTSIDE_MARKER);
      } else if (scopedByBody.has(key(route))) {
        const response = await t.request(route.method as 'POST', route.url, tokens[role], sampleBodies[key(route)]);
        expect([403, 404], `${key(route)} answered ${response.statusCode}: ${response.body}`).toContain(
          response.statusCode,
        );
      } else if (!scopedPerRow.has(key(route))) {
        expect(
          ownAccountOnly.has(key(route)) || unscopedContent.has(key(route)) || computedOnly.has(key(route)),
          `${key(route)}: add it to scopedByBody, ownAccountOnly, unscopedContent or computedOnly`,
        ).toBe(true);
      }
    }
  }, 120_000); // one fixture per route with a path parameter: grows with the route table
});

// Finding 7 of issue 15: signed manual-task links go to officers and admins only, carry an
// expiry inside their signature, and the statistics viewer reads neither tasks, notices
// (drafts of wanted notices) nor groups (officers' names and phones).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINK_TTL_MS } from '../../src/channels/manual/tasks.js';
import { fixedClock } from '../../src/lib/clock.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { target, textCard } from '../helpers/channels.js';
import { createGroup } from '../helpers/groups.js';
import { WANTED, noticeBody } from '../helpers/notices.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

const clock = fixedClock('2026-11-29T08:00:00Z');
const BASE = 'https://jx.example.gov.cn';

describe('signed manual-task links', () => {
  let t: TestApp;
  let taskId: string;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    // Tokens outlive the week the clock jumps, so only the links' expiry is tested.
    t = await startTestApp({ clock, env: { PUBLIC_BASE_URL: BASE, TOKEN_TTL_HOURS: '720' } });
    await createRegionTree(t);
    for (const role of ['officer', 'editor', 'reviewer', 'coordinator', 'viewer'] as const) {
      tokens[role] = (await t.userToken(role, TREE.countyA.code)).token;
    }
    const sent = await t.ctx.channels
      .adapterFor('manual')
      .send(target({ kind: 'manual' }), textCard('text', '请转发'), { reference: 'links-1' });
    taskId = (sent as { taskId: string }).taskId;
  });
  afterAll(() => t.close());

  const listed = async (token: string) => {
    const response = await t.request('GET', '/api/manual-tasks', token);
    expect(response.statusCode, response.body).toBe(200);
    return (response.json() as Array<{ id: string; link: string | null }>).find((task) => task.id === taskId)!;
  };
  // The link opens the console's phone page (/task/:id), which calls the API with the same signed query.
  const open = (link: string, suffix = '') => {
    const url = new URL(link);
    const api = url.pathname.replace(/^\/task\//, '/api/manual-tasks/');
    return t.request(suffix ? 'POST' : 'GET', `${api}${suffix}${url.search}`);
  };

  it('gives the signed link to officers and admins only', async () => {
    expect((await listed(tokens.officer!)).link).toMatch(/\?exp=\d+&sig=/);
    expect((await listed(t.adminToken)).link).toMatch(/\?exp=\d+&sig=/);
    for (const role of ['editor', 'reviewer', 'coordinator']) {
      expect((await listed(tokens[role]!)).link, role).toBeNull();
    }
  });

  it('refuses the task list to the statistics viewer', async () => {
    const response = await t.request('GET', '/api/manual-tasks', tokens.viewer);
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('forbidden');
  });

  it('when the link has expired, then it no longer shows or confirms the task', async () => {
    const { link } = await listed(tokens.officer!);
    expect((await open(link!)).statusCode).toBe(200);
    clock.advance(LINK_TTL_MS + 1000);
    for (const answer of [await open(link!), await open(link!, '/confirm')]) {
      expect(answer.statusCode).toBe(403);
      expect(answer.json()).toMatchObject({ statusCode: 403, code: 'forbidden' });
      expect(answer.json().message).toContain('过期');
    }
    const fresh = await listed(tokens.officer!);
    expect((await open(fresh.link!)).statusCode).toBe(200);
  });

  it('refuses a link whose expiry was pushed back by hand', async () => {
    const { link } = await listed(tokens.officer!);
    const extended = link!.replace(/exp=(\d+)/, (_, exp: string) => `exp=${Number(exp) + 365 * 86400}`);
    const answer = await open(extended);
    expect(answer.statusCode).toBe(403);
    expect(answer.json().message).toContain('签名无效');
  });

  it('refuses a link without an expiry (the old never-expiring form)', async () => {
    const { link } = await listed(tokens.officer!);
    const answer = await open(link!.replace(/exp=\d+&/, ''));
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ code: 'invalid_input', field: 'querystring.exp' });
  });

  it('refuses the statistics viewer notices (drafts of wanted notices) and groups (officers’ phones)', async () => {
    const wanted = await t.request(
      'POST',
      '/api/notices',
      t.adminToken,
      noticeBody({ regionCode: TREE.countyA.code, category: 'wanted_clue', wanted: WANTED }),
    );
    expect(wanted.statusCode, wanted.body).toBe(201);
    const notice = wanted.json().id as string;
    const group = await createGroup(t, { regionCode: TREE.villageA.code });
    const reads = [
      '/api/notices',
      `/api/notices/${notice}`,
      `/api/notices/${notice}/versions/1`,
      '/api/groups',
      `/api/groups/${group.id}`,
    ];
    for (const url of reads) {
      expect((await t.request('GET', url, tokens.viewer)).statusCode, url).toBe(403);
      expect((await t.request('GET', url, tokens.officer)).statusCode, url).not.toBe(403);
    }
  });
});

describe('signed task links per address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('when one address opens task links more than 60 times a minute, then it answers 429', async () => {
    const url = '/api/manual-tasks/0123456789abcdef01234567?exp=1&sig=forged';
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) statuses.push((await t.request('GET', url)).statusCode);
    expect(statuses.slice(0, 60)).toEqual(Array(60).fill(403));
    expect(statuses[60]).toBe(429);
  });
});

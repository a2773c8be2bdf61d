// The console for daily use (issue 21, items 1–5): the workbench of every role, the editor's
// toolbar and previews without markup, the review screen, the month as reported upward, and
// the confirmations before anything reaches residents. One service, one browser.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TREE } from '../helpers/regions.js';
import { type ConsoleWorld, type Person, fontsReady, seriousViolations, signIn, startConsoleWorld } from './world.js';

// With CONSOLE_SCREENSHOTS set, the screens checked here are written to docs/console/.
const SHOTS = process.env.CONSOLE_SCREENSHOTS ? join(import.meta.dirname, '../../docs/console') : null;

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  await fontsReady(page);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const OFFICER_PHONE = '13900001111';
const UNIT = '天河区公安分局';

async function pageAs(w: ConsoleWorld, who: Pick<Person, 'username' | 'password'>, mobile = false): Promise<Page> {
  const context = await w.context(mobile ? { width: 390, height: 844, mobile: true } : {});
  const page = await context.newPage();
  await signIn(page, who);
  return page;
}

async function api<T = Record<string, unknown>>(
  w: ConsoleWorld,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT',
  url: string,
  token: string,
  body?: unknown,
): Promise<T> {
  const response = await w.t.request(method, url, token, body);
  if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
  return response.json() as T;
}

async function approvedNotice(w: ConsoleWorld, title: string, body = '夜间请锁好门窗。'): Promise<string> {
  const { id } = await api<{ id: string }>(w, 'POST', '/api/notices', w.people.editor.token, {
    category: 'anti_theft',
    title,
    body,
    issuingUnit: UNIT,
  });
  await api(w, 'POST', `/api/notices/${id}/submit`, w.people.editor.token);
  await api(w, 'POST', `/api/notices/${id}/approve`, w.people.reviewer.token, {});
  return id;
}

const AUDIENCE_NONE = { regions: [], tags: [], groups: [], excludeRegions: [], excludeTags: [], excludeGroups: [] };

describe('console for daily use', { timeout: 120_000 }, () => {
  let w: ConsoleWorld;
  let officer: Person;
  const pages: Page[] = [];

  beforeAll(async () => {
    w = await startConsoleWorld();
    const created = await w.t.userToken('officer', TREE.townshipA.code);
    await api(w, 'PATCH', `/api/users/${created.id}`, w.t.adminToken, { phone: OFFICER_PHONE, displayName: '王警官' });
    officer = { ...created, password: `pw-${created.username}-secret` };
  }, 180_000);
  afterAll(() => w?.close());
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') {
      for (const [i, page] of pages.entries()) {
        await page.screenshot({ path: `/tmp/jx-daily-${i}.png`, fullPage: true }).catch(() => undefined);
      }
    }
  });

  it('every role lands on its workbench, whose 待办 counts and navigation badges equal the API’s', async () => {
    // Work that waits: a notice and a campaign in review, and manual forwarding tasks open.
    const { id: pending } = await api<{ id: string }>(w, 'POST', '/api/notices', w.people.editor.token, {
      category: 'anti_fraud',
      title: '待审核的通告',
      body: '不转账，不透露验证码。',
      issuingUnit: UNIT,
    });
    await api(w, 'POST', `/api/notices/${pending}/submit`, w.people.editor.token);
    const manual = await api<{ id: string }>(w, 'POST', '/api/groups', w.t.adminToken, {
      name: '华工社区居民微信群',
      regionCode: TREE.villageA.code,
      channel: { kind: 'manual' },
      memberCount: 320,
      officer: { name: '王警官', phone: OFFICER_PHONE },
    });
    const noticeId = await approvedNotice(w, '人工转发的通告');
    const sent = await api<{ id: string }>(w, 'POST', '/api/campaigns', w.people.editor.token, {
      title: '人工转发的推送',
      noticeId,
      audience: { ...AUDIENCE_NONE, groups: [manual.id] },
      schedule: { kind: 'now' },
    });
    await api(w, 'POST', `/api/campaigns/${sent.id}/submit`, w.people.editor.token);
    await api(w, 'POST', `/api/campaigns/${sent.id}/approve`, w.people.reviewer.token);
    const inReview = await api<{ id: string }>(w, 'POST', '/api/campaigns', w.people.editor.token, {
      title: '待审核的推送',
      noticeId,
      audience: { ...AUDIENCE_NONE, groups: [w.groups[0]!.id] },
      schedule: { kind: 'now' },
    });
    await api(w, 'POST', `/api/campaigns/${inReview.id}/submit`, w.people.editor.token);
    // The run makes the manual task.
    for (let i = 0; i < 200; i++) {
      const progress = await api<{ awaiting: number }>(w, 'GET', `/api/campaigns/${sent.id}/progress`, w.people.editor.token);
      if (progress.awaiting === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const people: [string, Pick<Person, 'username' | 'password' | 'token'>][] = [
      ['admin', w.people.admin],
      ['editor', w.people.editor],
      ['reviewer', w.people.reviewer],
      ['officer', officer],
      ['viewer', w.people.viewer],
    ];
    const tiles: Record<string, string> = {
      noticesInReview: 'todo-notices',
      campaignsInReview: 'todo-campaigns',
      failed: 'todo-failed',
      uncertain: 'todo-uncertain',
      awaitingTasks: 'todo-awaiting',
      myTasks: 'todo-mine',
      casesNearDeadline: 'todo-cases',
      newTips: 'todo-tips',
    };
    for (const [role, who] of people) {
      const counts = await api<Record<string, number | null>>(w, 'GET', '/api/workbench/counts', who.token);
      const page = await pageAs(w, who);
      pages.push(page);
      expect(new URL(page.url()).pathname, role).toBe('/');
      await page.getByRole('heading', { name: '待办' }).waitFor();
      await page.getByTestId('todo-tips').waitFor();
      for (const [key, testId] of Object.entries(tiles)) {
        const tile = page.getByTestId(testId);
        if (counts[key] === null) expect(await tile.count(), `${role} ${key}`).toBe(0);
        else expect(await tile.locator('.todo-count').textContent(), `${role} ${key}`).toBe(String(counts[key]));
      }
      if (role === 'reviewer') {
        expect(counts).toMatchObject({ noticesInReview: 1, campaignsInReview: 1 });
        await page.getByRole('link', { name: /审核\s*2 件待处理/ }).waitFor();
      }
      if (role === 'officer') {
        expect(counts.myTasks).toBe(1);
        await page.getByRole('link', { name: /我的转发任务\s*1 件待处理/ }).waitFor();
      }
      if (role === 'editor') {
        expect(counts.awaitingTasks).toBe(1);
        await page.getByRole('row', { name: /王警官\s*1 个群/ }).getByRole('link', { name: `电话催办 ${OFFICER_PHONE}` }).waitFor();
      }
      if (role === 'admin') {
        // Groups, robots, accounts and a notice exist in the test county: the first-day steps are done.
        expect((counts as unknown as { setup: { done: boolean }[] }).setup.every((s) => s.done)).toBe(true);
      }
      await fontsReady(page);
      expect(await seriousViolations(page), role).toEqual([]);
      await shot(page, `home-${role}`);
      await page.context().close();
    }
    if (SHOTS) {
      const phone = await pageAs(w, officer, true);
      await phone.getByTestId('todo-mine').waitFor();
      await phone.getByTestId('month-messages').waitFor();
      await shot(phone, 'home-officer-phone');
      const editorPhone = await pageAs(w, w.people.editor, true);
      await editorPhone.getByRole('heading', { name: '最近推送' }).waitFor();
      await editorPhone.getByRole('progressbar').first().waitFor();
      await shot(editorPhone, 'home-editor-phone');
    }
  });

  it('a fresh county shows its admin the first-day steps with what is done', async () => {
    await api(w, 'POST', '/api/regions', w.t.adminToken, { code: '440199', name: '新开县', parentCode: TREE.city.code });
    const created = await w.t.userToken('admin', '440199');
    const page = await pageAs(w, { username: created.username, password: `pw-${created.username}-secret` });
    pages.push(page);
    const steps = page.getByRole('region', { name: /开通步骤/ });
    await steps.waitFor();
    const counts = await api<{ setup: { label: string; done: boolean }[] }>(w, 'GET', '/api/workbench/counts', created.token);
    expect(counts.setup.map((s) => s.done)).toEqual([true, false, false, false, false]);
    for (const step of counts.setup) {
      await steps.getByRole('listitem').filter({ hasText: step.label }).getByText(step.done ? '已完成' : '未完成').waitFor();
    }
    await shot(page, 'home-admin-first-day');
    await page.context().close();
  });
});

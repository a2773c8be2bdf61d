// Every role's screens, on the demo month (scripts/demo-month.ts, made through the API): no
// screen shows light-markup characters, English UI words, raw ids or region codes where a
// name exists, or undefined / NaN / null; and the screens an officer or a leader opens on a
// phone work at 390 px: no sideways scroll, the primary action in reach, the header's
// breadcrumb not crushed, no destructive action as the biggest button. 审核 is walked too: its
// cards are drawn as the chat apps show them. Every role, the coordinator included.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS, demoPassword, seedDemoMonth } from '../../scripts/demo-month.js';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { TREE } from '../helpers/regions.js';
import { type ConsoleWorld, type SignedIn, fontsReady, signIn, startConsoleWorld } from './world.js';

const account = (role: string) => {
  const user = DEMO_USERS.find((u) => u.role === role);
  if (!user) throw new Error(role);
  return { username: user.username, password: demoPassword(user.username) };
};

/** Words a person may see in Latin letters (file formats, the hotline's app names). */
const LATIN_ALLOWED = new Set(['Excel', 'CSV', 'IP', 'PNG', 'JPG', 'JPEG', 'WebP', 'MB', 'KB']);

/** What a screen shows that a person should not see, by kind (empty when the screen is clean). */
async function faults(page: Page): Promise<string[]> {
  // Login names are Latin by nature: the users table marks them data-verbatim.
  const text = await page.evaluate(() => {
    const root = (document.querySelector('main') ?? document.body).cloneNode(true) as HTMLElement;
    for (const verbatim of root.querySelectorAll('[data-verbatim]')) verbatim.remove();
    document.body.append(root);
    root.style.position = 'absolute';
    const shown = root.innerText;
    root.remove();
    return shown;
  });
  const found: string[] = [];
  for (const [name, pattern] of [
    ['markup', /\*\*|###|\]\(/],
    ['undefined/NaN/null', /\bundefined\b|\bNaN\b|\bnull\b/],
    ['raw id', /\b[0-9a-f]{24}\b/],
    ['region code', /(?<!\d)\d{12}(?!\d)/],
    ['action code', /\b[a-z]+\.[a-z_-]+\b/],
  ] as const) {
    const match = pattern.exec(text);
    if (match) found.push(`${name}: …${text.slice(Math.max(0, match.index - 20), match.index + 30)}…`);
  }
  for (const word of text.match(/[A-Za-z]{2,}/g) ?? []) {
    if (!LATIN_ALLOWED.has(word)) found.push(`English: ${word}`);
  }
  return [...new Set(found)];
}

/** Requests a page has in flight, less its progress streams (SSE stays open while officers hold tasks). */
const inFlight = new WeakMap<Page, Set<unknown>>();
function tracked(page: Page): Set<unknown> {
  let open = inFlight.get(page);
  if (!open) {
    const set = new Set<unknown>();
    page.on('request', (r) => {
      if (!r.url().includes('/stream')) set.add(r);
    });
    page.on('requestfinished', (r) => set.delete(r));
    page.on('requestfailed', (r) => set.delete(r));
    inFlight.set(page, set);
    open = set;
  }
  return open;
}

/**
 * Waits until the screen has read what it shows: no request but a progress stream in flight for
 * half a second (networkidle never comes while a campaign page streams), no table or pane busy.
 */
async function settled(page: Page): Promise<void> {
  const open = tracked(page);
  await page.waitForLoadState('load');
  const deadline = Date.now() + 20_000;
  for (let quietMs = 0; quietMs < 500; ) {
    if (Date.now() > deadline) throw new Error(`${page.url()}: requests still in flight after 20 s`);
    await page.waitForTimeout(100);
    quietMs = open.size === 0 ? quietMs + 100 : 0;
  }
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"], .el-loading-mask'));
  // Every screen judged here is a signed-in one: a session that did not hold (a page opened from
  // a kept session, below) shows the sign-in form instead, and judging that would prove nothing.
  if (new URL(page.url()).pathname === '/login') throw new Error(`${page.url()}: not signed in`);
}

/** Horizontal overflow of the page at its viewport (0 when nothing needs a sideways swipe). */
const sideways = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

/** Every role with a demo account (scripts/demo-month.ts makes one of each). */
const ROLES = ['admin', 'editor', 'reviewer', 'coordinator', 'officer', 'viewer'] as const;

/**
 * Runs `walk` for every role, three roles at a time. A walk is a role's own browser context and
 * pages, and each screen is judged only once its own page has gone quiet for half a second
 * (settled): the walks share nothing, so walking them side by side proves what walking them one
 * after another did, while one role's quiet wait overlaps another's loading.
 */
async function eachRole(walk: (role: (typeof ROLES)[number]) => Promise<void>): Promise<void> {
  for (let i = 0; i < ROLES.length; i += 3) await Promise.all(ROLES.slice(i, i + 3).map(walk));
}

/** The screens an officer or a leader opens on a phone: 工作台, 我的转发任务, 线索, 统计 (and 推送详情). */
const PHONE_SCREENS = ['/', '/tasks', '/tips', '/reach', '/reach/monthly'];

/** The paths of the role's navigation entries. */
const navPaths = (page: Page) =>
  page.locator('aside nav a').evaluateAll((links) => links.map((a) => new URL((a as HTMLAnchorElement).href).pathname));

/**
 * Each role's navigation at desktop width, as the role walk read it after signing in; the phone
 * walk reads it from here instead of signing in at desktop width again (a test run alone reads
 * it itself). The accounts and their roles do not change between the tests.
 */
const deskNav = new Map<string, string[]>();

/**
 * Each account's signed-in storage, kept when it first signed in through the form (the role
 * walk signs every role in so): the later tests open their screens signed in from it instead of
 * filling the form again, a page load and a home screen each (a test run alone signs in
 * itself). Signing in is not what they check; the accounts do not change between the tests.
 */
const sessions = new Map<string, SignedIn>();

describe('console screens: words and phones', { timeout: 240_000 }, () => {
  let w: ConsoleWorld;
  let campaignId: string;
  /** A page signed in as `who`, in a context of its own at `size` (desktop when not given); its requests tracked. */
  const signedInPage = async (who: { username: string; password: string }, size?: { width: number; height: number; mobile: boolean }) => {
    const saved = sessions.get(who.username);
    const context = await w.context({ ...size, ...(saved ? { signedIn: saved } : {}) });
    const page = await context.newPage();
    tracked(page);
    if (!saved) {
      await signIn(page, who);
      sessions.set(who.username, await context.storageState());
    }
    return { context, page };
  };
  beforeAll(async () => {
    // Nothing here waits on a send but the demo month's own deliveries (the seed looks every
    // 250 ms): the worker looks for due work as the service's does, every 500 ms.
    w = await startConsoleWorld({ workerPollMs: 500 });
    // The world's fixture accounts are named after their roles in Latin letters; as data on the
    // users screen they would read as English words.
    const names = { editor: '测试编辑', admin: '测试管理', reviewer: '测试审核', viewer: '测试只读' } as const;
    for (const [role, displayName] of Object.entries(names)) {
      const person = w.people[role as keyof typeof names];
      const renamed = await w.t.request('PATCH', `/api/users/${person.id}`, w.t.adminToken, { displayName });
      expect(renamed.statusCode, renamed.body).toBe(200);
    }
    const result = await seedDemoMonth(w.t.app, {
      countyCode: TREE.countyA.code,
      adminToken: w.t.adminToken,
      // Folded as the scheduler's refresher does (the rankings' tallies come with the roll-ups).
      rollups: w.t.ctx.tracking.rollups,
    });
    expect(result.created).toBe(true);
    const campaigns = (await w.t.request('GET', '/api/campaigns?q=%E5%8D%81%E4%BA%8C%E6%9C%88&limit=5', w.t.adminToken)).json();
    campaignId = campaigns[0].id;
  }, 300_000);
  afterAll(() => w?.close());

  it('when each role walks its screens, then none shows markup, English words, ids, codes or undefined', async () => {
    const problems: Record<string, string[]> = {};
    await eachRole(async (role) => {
      const context = await w.context();
      const page = await context.newPage();
      tracked(page);
      await signIn(page, account(role));
      sessions.set(account(role).username, await context.storageState());
      const paths = await navPaths(page);
      expect(paths.length, role).toBeGreaterThan(1);
      deskNav.set(role, paths);
      for (const path of [...paths, `/campaigns/${campaignId}`]) {
        await page.goto(path);
        await settled(page);
        const found = await faults(page);
        if (found.length) problems[`${role} ${path}`] = found;
      }
      await context.close();
    });
    expect(problems).toEqual({});
  });

  it('when a leader opens 触达统计, then the township and officer rankings show the API\'s figures, which count the stored tasks', async () => {
    for (const size of [undefined, { width: 390, height: 844, mobile: true }]) {
      const { context, page } = await signedInPage(account('viewer'), size);
      const answered = page.waitForResponse((r) => r.url().includes('/api/reach/rankings') && r.ok());
      const reachAnswered = page.waitForResponse((r) => /\/api\/reach\?.*groupBy=township/.test(r.url()) && r.ok());
      await page.goto('/reach');
      const rankingResponse = await answered;
      const reach = await (await reachAnswered).json();
      const query = new URL(rankingResponse.url()).searchParams;
      await settled(page);
      if (size) expect(await sideways(page)).toBe(0);

      // The API asked again with the screen's query answers what the screen shows.
      const viewer = await w.t.login(account('viewer').username, account('viewer').password);
      const api = (await w.t.request('GET', `/api/reach/rankings?${query}`, viewer)).json();
      expect(api).toEqual(await rankingResponse.json());
      expect(api.officers.length).toBeGreaterThan(0);
      const cells = (testId: string) =>
        page.locator(`[data-testid="${testId}"] .el-table__body tr`).evaluateAll((rows) =>
          rows.map((row) => [...row.querySelectorAll('td')].map((td) => (td as HTMLElement).innerText.trim())),
        );
      const percent = (rate: number | null) => (rate === null ? '—' : `${Math.round(rate * 1000) / 10}%`);
      const officers = await cells('officer-ranking');
      // On a phone the counts sit under the rate (已确认 1 / 4), in the 确认率 column.
      const shown = officers.map((row) => {
        const rate = (size ? row[2] : row[4])!.split('\n').map((line) => line.trim()).filter(Boolean);
        const counts = size ? rate.at(-1)!.replace(/^已确认 /, '') : row[2];
        return [row[0], row[1]!.split('\n')[0], counts, rate[0]];
      });
      expect(shown).toEqual(
        api.officers.map((o: { name: string; hasAccount: boolean; confirmed: number; due: number; rate: number | null }, i: number) => [
          String(i + 1),
          o.hasAccount ? o.name : `${o.name}（无账号）`,
          `${o.confirmed.toLocaleString('zh-CN')} / ${o.due.toLocaleString('zh-CN')}`,
          percent(o.rate),
        ]),
      );
      // Townships ranked by 受教育人次 as GET /api/reach counts them, with the API's rate.
      const townships = await cells('township-ranking');
      const people = new Map<string, number>(reach.rows.map((r: { townshipCode: string; personTimes: number }) => [r.townshipCode, r.personTimes]));
      const expected = api.townships
        .map((t: { code: string; name: string; rate: number | null }) => ({ ...t, personTimes: people.get(t.code) ?? 0 }))
        .sort((a: { personTimes: number; name: string }, b: { personTimes: number; name: string }) => b.personTimes - a.personTimes || a.name.localeCompare(b.name, 'zh-CN'));
      expect(townships.map((row) => [row[1], row[2], row.at(-1)])).toEqual(
        expected.map((t: { name: string; personTimes: number; rate: number | null }) => [t.name, t.personTimes.toLocaleString('zh-CN'), percent(t.rate)]),
      );

      // The API's officers add up to the county's stored tasks of the period.
      const from = query.get('from')!;
      const to = query.get('to')!;
      const stored = await ManualTaskModel.find(
        { regionPath: TREE.countyA.code, createdAt: { $gte: new Date(`${from}T00:00:00+08:00`), $lt: new Date(Date.parse(`${to}T00:00:00+08:00`) + 86_400_000) } },
        { confirmedAt: 1, withdrawnAt: 1 },
      ).lean();
      const sum = (key: 'confirmed' | 'open') => api.officers.reduce((n: number, o: Record<string, number>) => n + o[key]!, 0);
      expect([sum('confirmed'), sum('open')]).toEqual([
        stored.filter((t) => t.confirmedAt).length,
        stored.filter((t) => !t.confirmedAt && !t.withdrawnAt).length,
      ]);
      expect(sum('confirmed')).toBeGreaterThan(0);
      await context.close();
    }
  });

  it('when an author searches the audience picker for a village already open in the tree, then it shows once, by name, not code', async () => {
    const { context, page } = await signedInPage(account('editor'));
    await page.goto('/campaigns/new');
    const picker = page.locator('.picker');
    const open = async (name: string) => {
      await page.getByRole('treeitem', { name }).locator('.el-tree-node__expand-icon').first().click();
    };
    await open(TREE.countyA.name);
    await open(TREE.townshipA.name);
    await page.getByRole('treeitem', { name: TREE.villageA.name }).waitFor();
    await page.getByLabel('搜索区划').fill(TREE.villageA.name.slice(0, 2));
    const found = page.getByRole('checkbox', { name: new RegExp(TREE.villageA.name) });
    await found.first().waitFor();
    // Once on the screen: the tree beside the results listed it a second time.
    expect(await found.count()).toBe(1);
    expect(await picker.getByText(TREE.villageA.name, { exact: true }).locator('visible=true').count()).toBe(1);
    const shown = await picker.evaluate((el) => (el as HTMLElement).innerText);
    expect(shown).not.toMatch(/\d{12}/);
    expect(shown).toContain(TREE.townshipA.name);
    await found.check();
    await page.getByLabel('搜索区划').fill('');
    // Back to the tree, still open, the village checked there too; one chip.
    await expect
      .poll(() => page.getByRole('checkbox', { name: `选择${TREE.villageA.name}` }).isChecked())
      .toBe(true);
    expect(await page.locator('.chosen .el-tag').allInnerTexts()).toEqual([TREE.villageA.name]);
    await context.close();
  });

  it('when the calendar shows a run waiting for review, then it is marked 待审核 and an approved run is not', async () => {
    const { context, page } = await signedInPage(account('viewer'));
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const to = new Date(Date.now() + 60 * 86_400_000).toISOString();
    const viewer = await w.t.login(account('viewer').username, account('viewer').password);
    const entries = (await w.t.request('GET', `/api/calendar?from=${from}&to=${to}`, viewer)).json() as {
      title: string;
      status: string;
      sendsAt: string;
    }[];
    const waiting = entries.find((e) => e.status === 'in_review');
    const approved = entries.find((e) => e.status === 'approved' && e.sendsAt > new Date().toISOString());
    expect(waiting && approved, JSON.stringify(entries)).toBeTruthy();
    await page.goto('/calendar');
    // The month view opens on this month; the waiting run may fall in the next.
    const month = (iso: string) => new Date(iso).toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' }).slice(0, 7);
    const current = month(new Date().toISOString());
    const runs = page.locator('.el-calendar button.entry');
    for (const run of [waiting!, approved!]) {
      if (month(run.sendsAt) !== current) {
        await page.getByRole('button', { name: '下个月' }).click();
      }
      const button = runs.filter({ hasText: run.title }).first();
      await button.waitFor();
      const label = await button.getAttribute('aria-label');
      if (run === waiting) {
        expect(await button.locator('.mark').innerText()).toBe('待审核');
        expect(label).toContain('待审核');
        expect(await button.evaluate((b) => getComputedStyle(b).outlineStyle)).toBe('dashed');
      } else {
        expect(await button.locator('.mark').count()).toBe(0);
        expect(label).not.toContain('审核');
      }
      if (month(run.sendsAt) !== current) await page.getByRole('button', { name: '今天' }).click();
    }
    await context.close();
  });

  it('when an admin saves a village\'s coordinates, then the region tree stays open where it was', async () => {
    const context = await w.context();
    const page = await context.newPage();
    await signIn(page, w.people.admin);
    await page.goto('/regions');
    // The admin's scope is the county, open at the root; open the township.
    const row = (name: string) => page.locator('.el-tree-node__content').filter({ hasText: name });
    await row(TREE.townshipA.name).locator('.el-tree-node__expand-icon').click();
    const village = row(TREE.villageA.name);
    await village.click();
    await page.getByLabel('纬度').fill('23.156');
    await page.getByLabel('经度').fill('113.343');
    await page.getByRole('button', { name: '保存' }).click();
    await page.getByText('已保存').waitFor();
    const saved = (await w.t.request('GET', `/api/regions/${TREE.villageA.code}`, w.t.adminToken)).json();
    expect([saved.lat, saved.lng]).toEqual([23.156, 113.343]);
    // Still open and picked: the tree was not read again from its root.
    expect(await village.isVisible()).toBe(true);
    expect(await row('五山社区').isVisible()).toBe(true);
    expect(await village.evaluate((el) => el.parentElement?.classList.contains('is-current'))).toBe(true);
    await context.close();
  });

  it('when each role opens its phone screens at 390 px, then none scrolls sideways', async () => {
    const wide: Record<string, number> = {};
    await eachRole(async (role) => {
      // The navigation is a drawer on a phone: the role's screens are read at desktop width.
      if (!deskNav.has(role)) {
        const desk = await w.context();
        const deskPage = await desk.newPage();
        await signIn(deskPage, account(role));
        deskNav.set(role, await navPaths(deskPage));
        await desk.close();
      }
      const allowed = new Set(deskNav.get(role));
      const { context, page } = await signedInPage(account(role), { width: 390, height: 844, mobile: true });
      const paths = [...PHONE_SCREENS.filter((path) => path === '/' || allowed.has(path)), `/campaigns/${campaignId}`];
      for (const path of paths) {
        await page.goto(path);
        await settled(page);
        await fontsReady(page);
        const overflow = await sideways(page);
        if (overflow) wide[`${role} ${path}`] = overflow;
      }
      await context.close();
    });
    expect(wide).toEqual({});
  });

  it('when an officer and a leader open their screens on a 390 px phone, then nothing scrolls sideways and the actions are in reach', async () => {
    const { context, page } = await signedInPage(account('officer'), { width: 390, height: 844, mobile: true });
    await page.goto('/tasks');
    const go = page.getByRole('link', { name: '去转发' }).first();
    await go.waitFor();
    await fontsReady(page);
    const box = await go.boundingBox();
    expect(box && box.x >= 0 && box.x + box.width <= 390).toBe(true);
    expect(await sideways(page)).toBe(0);
    // The header keeps its breadcrumb readable: the user menu shows the name only.
    const crumb = await page.getByRole('navigation', { name: '当前位置' }).boundingBox();
    expect(crumb?.width ?? 0).toBeGreaterThan(80);
    const before = await page.getByRole('tab', { name: /^待转发（\d+）$/ }).textContent();
    // 去转发 → the task page → confirm → back: the counts follow without a reload.
    await go.click();
    await page.getByRole('button', { name: '已转发到群' }).click();
    await page.getByRole('button', { name: '确认已转发' }).click();
    await page.getByText(/^已于 .+ 确认转发$/).waitFor();
    expect(await sideways(page)).toBe(0);
    await page.goBack();
    const open = Number(/（(\d+)）/.exec(before ?? '')?.[1]);
    await page.getByRole('tab', { name: `待转发（${open - 1}）` }).waitFor();

    for (const path of ['/tips', '/']) {
      await page.goto(path);
      await settled(page);
      expect([path, await sideways(page)]).toEqual([path, 0]);
    }
    await context.close();

    const { context: leader, page: phone } = await signedInPage(account('viewer'), { width: 390, height: 844, mobile: true });
    for (const path of ['/', '/reach', '/campaigns', `/campaigns/${campaignId}`]) {
      await phone.goto(path);
      await settled(phone);
      expect([path, await sideways(phone)]).toEqual([path, 0]);
    }
    await leader.close();

    // The author's campaign page: the biggest button is not a destructive one.
    const { context: author, page: authorPage } = await signedInPage(account('editor'), { width: 390, height: 844, mobile: true });
    await authorPage.goto(`/campaigns/${campaignId}`);
    await settled(authorPage);
    expect(await sideways(authorPage)).toBe(0);
    const biggest = await authorPage.locator('main button:visible').evaluateAll((buttons) => {
      const sized = buttons.map((b) => {
        const r = b.getBoundingClientRect();
        return { area: r.width * r.height, danger: b.classList.contains('el-button--danger') && !b.classList.contains('is-link') && !b.classList.contains('is-plain'), text: b.textContent?.trim() };
      });
      return sized.sort((a, b) => b.area - a.area)[0];
    });
    expect(biggest?.danger, `biggest button: ${biggest?.text}`).toBe(false);
    await author.close();
  });
});

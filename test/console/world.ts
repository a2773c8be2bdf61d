// The real service for browser tests: FerretDB (the global set-up's), the app listening on
// 127.0.0.1 and serving the built console, the robot doubles, and the engine's scheduler and
// worker running in-process — plus Debian's chromium driven by playwright-core.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { type Browser, type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import { ensureConsole } from '../../scripts/build-console.mjs';
import { RobotDoubles } from '../../src/channels/doubles/server.js';
import { engineDeps } from '../../src/context.js';
import { Scheduler, createWorker } from '../../src/engine/runner.js';
import type { Role } from '../../src/auth/roles.js';
import type { Clock } from '../../src/lib/clock.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Person {
  username: string;
  password: string;
  id: string;
  token: string;
}

/** A signed-in browser's storage (the console keeps its token in localStorage), from `BrowserContext.storageState()`. */
export type SignedIn = Awaited<ReturnType<BrowserContext['storageState']>>;

export interface WorldGroup {
  id: string;
  name: string;
  key: string;
}

export interface ConsoleWorld {
  t: TestApp;
  doubles: RobotDoubles;
  baseUrl: string;
  browser: Browser;
  people: Record<'editor' | 'reviewer' | 'viewer' | 'admin', Person>;
  /** WeCom groups (robots registered at the doubles) in the villages of county A. */
  groups: WorldGroup[];
  /** Adds groups that all post through one WeCom robot (20 messages a minute: a run that takes a while). */
  /** `count` groups on robots of their own, all but 20 of which throttle their first post (45009: retried after 65 s). */
  busyRobotGroups(count: number, regionCode: string): Promise<WorldGroup[]>;
  /**
   * A fresh browser context as a county station PC (zh-CN, Asia/Shanghai, 1440×900). With
   * `signedIn` (a context's `storageState()` after signing in), it opens signed in as that person.
   */
  context(options?: { width?: number; height?: number; mobile?: boolean; signedIn?: SignedIn }): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** Extra villages so the region tree has something to open and search. */
export const EXTRA_REGIONS = [
  { code: '440106002', name: '石牌街道', parentCode: TREE.countyA.code },
  { code: '440106002001', name: '石牌村', parentCode: '440106002' },
  { code: '440106002002', name: '龙口西社区', parentCode: '440106002' },
  { code: '440106001002', name: '五山社区', parentCode: TREE.townshipA.code },
];

async function person(t: TestApp, role: Role, regionCode: string): Promise<Person> {
  const created = await t.userToken(role, regionCode);
  return { ...created, password: `pw-${created.username}-secret` };
}

function quietMinuteHalfADayAway(): string {
  const at = (offsetMs: number) =>
    new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .format(new Date(Date.now() + offsetMs));
  return `${at(12 * 3600_000)}-${at(12 * 3600_000 + 60_000)}`;
}

export interface ConsoleWorldOptions {
  /** The service's clock (the real one unless a test moves time on, e.g. a skewed clock). */
  clock?: Clock;
  /** More settings for the service (e.g. WECOM_API_BASE_URL of a customer-group double). */
  env?: Record<string, string>;
  /**
   * How long the in-process worker waits when it found nothing due: 50 ms by default, so a
   * test that waits on a send sees it soon. Idle, each look is a read of the work list (about
   * 0.035 s of CPU a second, FerretDB's share included); a file that waits on few sends can
   * take the service's own 500 ms (DEFAULT_WORKER).
   */
  workerPollMs?: number;
}

export async function startConsoleWorld(options: ConsoleWorldOptions = {}): Promise<ConsoleWorld> {
  ensureConsole({ log: () => undefined });
  const doubles = await new RobotDoubles({ dingtalkPenaltyMs: 2_000 }).start();
  const t = await startTestApp({
    ...(options.clock ? { clock: options.clock } : {}),
    env: {
      WECOM_BASE_URL: doubles.url,
      DINGTALK_BASE_URL: doubles.url,
      FEISHU_BASE_URL: doubles.url,
      // The robot doubles listen on loopback, which outbound posts refuse unless listed.
      OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
      CHANNEL_TIMEOUT_MS: '1500',
      LOG_LEVEL: 'warn',
      // Every browser signs in from 127.0.0.1: a fast machine passes 20 sign-ins in a minute.
      LOGIN_RATE_PER_MINUTE: '600',
      // The console runs on the real clock: quiet hours are a minute half a day away, so a
      // run at any hour sends its normal campaigns at once.
      QUIET_HOURS: quietMinuteHalfADayAway(),
      ...options.env,
    },
  });
  await createRegionTree(t);
  for (const region of EXTRA_REGIONS) {
    const response = await t.request('POST', '/api/regions', t.adminToken, region);
    if (response.statusCode !== 201) throw new Error(`region ${region.code}: ${response.body}`);
  }
  const people = {
    editor: await person(t, 'editor', TREE.countyA.code),
    admin: await person(t, 'admin', TREE.countyA.code),
    reviewer: await person(t, 'reviewer', TREE.countyA.code),
    viewer: await person(t, 'viewer', TREE.countyA.code),
  };
  let counter = 0;
  const addGroup = async (regionCode: string, key: string, name: string): Promise<WorldGroup> => {
    counter += 1;
    const created = await t.request('POST', '/api/groups', t.adminToken, {
      name,
      regionCode,
      channel: { kind: 'wecom', key },
      memberCount: 100 + counter * 7,
      officer: { name: '张警官', phone: '13800000000' },
      tags: counter % 2 ? ['重点村'] : ['学校'],
    });
    if (created.statusCode !== 201) throw new Error(`group: ${created.body}`);
    return { id: created.json().id, name, key };
  };
  const groups: WorldGroup[] = [];
  const villages = [TREE.villageA, ...EXTRA_REGIONS.filter((r) => r.code.length === 12)];
  for (const village of villages) {
    for (let i = 1; i <= 2; i++) {
      const key = `console-${village.code}-${i}`;
      doubles.addRobot({ platform: 'wecom', key });
      groups.push(await addGroup(village.code, key, `${village.name}平安群${i}`));
    }
  }
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const address = t.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const deps = engineDeps(t.ctx);
  const scheduler = new Scheduler(deps).start(() => undefined);
  const worker = createWorker({ ...deps, worker: { ...deps.worker, pollMs: options.workerPollMs ?? 50 } });
  worker.start();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const profiles: string[] = [];
  return {
    t,
    doubles,
    baseUrl: `http://127.0.0.1:${port}`,
    browser,
    people,
    groups,
    async busyRobotGroups(count, regionCode) {
      const list: WorldGroup[] = [];
      for (let i = 1; i <= count; i++) {
        const key = `busy-${regionCode}-${i}-${Math.random().toString(36).slice(2, 8)}`;
        doubles.addRobot({ platform: 'wecom', key });
        if (i > 20) doubles.fault({ fault: { type: 'throttle' }, robot: key, times: 1 });
        list.push(await addGroup(regionCode, key, `繁忙机器人群${counter + 1}`));
      }
      return list;
    },
    async context(options = {}) {
      profiles.push(mkdtempSync(join(tmpdir(), 'jx-console-')));
      const context = await browser.newContext({
        baseURL: `http://127.0.0.1:${port}`,
        locale: 'zh-CN',
        timezoneId: 'Asia/Shanghai',
        viewport: { width: options.width ?? 1440, height: options.height ?? 900 },
        isMobile: options.mobile ?? false,
        hasTouch: options.mobile ?? false,
        acceptDownloads: true,
        ...(options.signedIn ? { storageState: options.signedIn } : {}),
      });
      // A step that waits longer than this fails with the locator it waited for.
      context.setDefaultTimeout(20_000);
      return context;
    },
    async close() {
      await browser.close();
      await scheduler.stop();
      await worker.stop();
      await t.close();
      await doubles.close();
      for (const dir of profiles) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Signs in through the login form, as a person does. */
export async function signIn(page: Page, who: Pick<Person, 'username' | 'password'>): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('用户名').fill(who.username);
  await page.getByLabel('密码', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('button', { name: '用户菜单' }).waitFor();
}

/** Waits until the page's fonts are in (the CJK font arrives after the first paint). */
export async function fontsReady(page: Page): Promise<void> {
  await page.evaluate(async () => {
    // A face is fetched when text first needs it: ask for it, or `ready` may resolve before.
    await document.fonts.load('16px "Jingxun Hei"', '警讯').catch(() => undefined);
    await document.fonts.ready;
  });
}

/**
 * Picks an option of an Element Plus select, found by its label (or given as the locator of its
 * input). Every console test picks options through here: a click on an option can be lost, as
 * a person's would be, because the drop-down moves under it after it is drawn (a remote select's
 * 加载中 replaces its options for a moment; a drop-down near the bottom of a dialog opens above,
 * then flips below once its height is measured). So the pick is checked and the click made again:
 * a single select closes and shows a value once it has taken the option; a multiple select shows
 * it as a tag.
 */
export async function choose(
  page: Page,
  select: string | Locator,
  option: string | RegExp,
  options: { multiple?: boolean } = {},
): Promise<void> {
  const input = typeof select === 'string' ? page.getByLabel(select, { exact: true }).first() : select;
  const wrapper = input.locator('xpath=ancestor-or-self::div[contains(concat(" ", @class, " "), " el-select__wrapper ")]').first();
  // Other selects keep their closed drop-downs in the page: only the open one's options count.
  const item = page.getByRole('option', { name: option }).filter({ visible: true }).first();
  const tag = wrapper.locator('.el-select__tags-text').filter({ hasText: option }).first();
  // A value shown (not the grey placeholder) and the list closed: a click that missed and closed
  // the list shows the placeholder still.
  const shown = wrapper.locator('.el-select__placeholder:not(.is-transparent)');
  const taken = async () => {
    if (options.multiple) return tag.waitFor({ timeout: 3_000 });
    await item.waitFor({ state: 'hidden', timeout: 3_000 });
    await shown.waitFor({ timeout: 3_000 });
  };
  for (let attempt = 1; ; attempt += 1) {
    if (!(await item.isVisible())) await wrapper.click();
    await item.click();
    try {
      await taken();
      return;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

/** Waits until no CSS animation or transition is running on the page. */
export async function animationsDone(page: Page): Promise<void> {
  await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running'));
}

/** With CONSOLE_SCREENSHOTS set (npm run console:screenshots), tests write the screens they check here. */
export const SHOTS_DIR = process.env.CONSOLE_SCREENSHOTS ? join(import.meta.dirname, '../../docs/console') : null;

/** Writes docs/console/<name>.png once fonts and animations have settled; nothing without CONSOLE_SCREENSHOTS. */
export async function consoleShot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  if (!SHOTS_DIR) return;
  await fontsReady(page);
  await animationsDone(page);
  await page.screenshot({ path: join(SHOTS_DIR, `${name}.png`), fullPage: options.fullPage ?? false });
}

/** axe-core on the page as it stands: the serious and critical violations (none expected). */
export async function seriousViolations(page: Page): Promise<string[]> {
  // A dialog fading in or a button changing colour would be measured mid-transition.
  await animationsDone(page);
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
}

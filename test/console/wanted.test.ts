// The wanted-clue screens in a real browser: a resident's tip sent through the real notice
// page on a phone reaches the case officer's 线索 inbox and no editor's outside the scope;
// the 协查案件 screen's 已抓获 action says what it will do and drafts the follow-up; axe-core
// on both screens. With CONSOLE_SCREENSHOTS=<dir> it also writes the docs/console screenshots.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { wantedScreenshots } from '../../scripts/console-screenshots-wanted.js';
import { groupBody } from '../helpers/groups.js';
import { photo } from '../helpers/images.js';
import { WANTED, noticeBody } from '../helpers/notices.js';
import { TREE } from '../helpers/regions.js';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { type ConsoleWorld, type Person, animationsDone, signIn, startConsoleWorld } from './world.js';

/** axe-core on the whole page (the shell's navigation included) and its dialogs: the serious and critical violations. */
async function screenViolations(page: Page): Promise<string[]> {
  await animationsDone(page);
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
}

const TIP = '昨晚九点左右在石牌村口看到一名穿黑色连帽衫的男子骑电动车往东走';

/** The local (Asia/Shanghai) date `days` from now, as the notice's deadline. */
function inDays(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' });
}

async function ok(response: { statusCode: number; body: string; json(): unknown }, status = 200) {
  if (response.statusCode !== status) throw new Error(`expected ${status}, got ${response.statusCode}: ${response.body}`);
  return response.json() as { id: string };
}

async function user(w: ConsoleWorld, role: 'officer' | 'editor', regionCode: string): Promise<Person> {
  const created = await w.t.userToken(role, regionCode);
  return { ...created, password: `pw-${created.username}-secret` };
}

describe('console: wanted-clue tips and cases', () => {
  let w: ConsoleWorld;
  let officer: Person;
  let outsider: Person;
  let noticeId: string;

  beforeAll(async () => {
    // The one send (two deliveries, below) is waited on every 500 ms: the worker looks for due
    // work as the service's does, every 500 ms.
    w = await startConsoleWorld({ workerPollMs: 500 });
    const { t, people } = w;
    officer = await user(w, 'officer', TREE.townshipA.code);
    outsider = await user(w, 'editor', TREE.countyB.code);
    // Coordinates for the picker: three villages of county A, one (五山社区) left without.
    const coords: [string, number, number][] = [
      [TREE.villageA.code, 23.1531, 113.3446],
      ['440106002001', 23.1372, 113.3427],
      ['440106002002', 23.1402, 113.3291],
    ];
    for (const [code, lat, lng] of coords) await ok(await t.request('PATCH', `/api/regions/${code}`, t.adminToken, { lat, lng }));
    const notice = await ok(
      await t.request(
        'POST',
        '/api/notices',
        people.editor.token,
        noticeBody({
          category: 'wanted_clue',
          title: '关于征集五山街道商铺盗窃案线索的通告',
          regionCode: TREE.countyA.code,
          wanted: { ...WANTED, deadline: inDays(10), contactUserId: officer.id },
        }),
      ),
      201,
    );
    noticeId = notice.id;
    await ok(await t.request('POST', `/api/notices/${noticeId}/submit`, people.editor.token));
    await ok(await t.request('POST', `/api/notices/${noticeId}/approve`, people.reviewer.token, {}));
    const groups: string[] = [];
    for (let i = 0; i < 2; i++) {
      const key = `wanted-robot-${i}-${Math.random().toString(36).slice(2, 8)}`;
      w.doubles.addRobot({ platform: 'wecom', key });
      const body = groupBody({ regionCode: TREE.villageA.code, channel: { kind: 'wecom', key }, memberCount: 120 + i });
      groups.push((await ok(await t.request('POST', '/api/groups', t.adminToken, body), 201)).id);
    }
    const campaign = await ok(
      await t.request('POST', '/api/campaigns', people.editor.token, {
        title: '协查：五山街道商铺盗窃案',
        noticeId,
        audience: { regions: [], tags: [], groups, excludeRegions: [], excludeTags: [], excludeGroups: [] },
        schedule: { kind: 'now' },
      }),
      201,
    );
    await ok(await t.request('POST', `/api/campaigns/${campaign.id}/submit`, people.editor.token));
    await ok(await t.request('POST', `/api/campaigns/${campaign.id}/approve`, people.reviewer.token));
    // The in-process scheduler and worker send it; the page exists once a delivery went out.
    await vi.waitFor(
      async () => {
        const progress = await t.request('GET', `/api/campaigns/${campaign.id}/progress`, people.editor.token);
        expect(progress.json()).toMatchObject({ sent: 2 });
      },
      { timeout: 60_000, interval: 500 },
    );
  }, 240_000);
  afterAll(() => w?.close());

  it('when a resident sends a tip from the notice page on a phone, then the case officer sees it in 线索 and an editor outside the scope does not', async () => {
    const phone = await w.context({ width: 360, height: 740, mobile: true });
    const resident = await phone.newPage();
    await resident.goto(`/n/${noticeId}`);
    await resident.getByLabel('线索内容').fill(TIP);
    await resident.getByLabel('联系电话（选填）').fill('13800138000');
    await resident.getByLabel('选择照片').setInputFiles({
      name: 'scene.jpg',
      mimeType: 'image/jpeg',
      buffer: await photo(480, 360),
    });
    await resident.getByRole('button', { name: '提交线索' }).click();
    await resident.getByText('您的线索已收到').waitFor();
    await phone.close();

    const desk = await w.context();
    const page = await desk.newPage();
    await signIn(page, officer);
    await page.getByRole('link', { name: /^线索/ }).click();
    const row = page.getByRole('row').filter({ hasText: TIP });
    await row.waitFor();
    await row.getByText('新线索').waitFor();
    await row.getByRole('button', { name: /查看线索/ }).click();
    const drawer = page.getByRole('dialog', { name: '线索详情' });
    await drawer.getByText(TIP).waitFor();
    await drawer.getByRole('link', { name: '13800138000' }).waitFor();
    const img = drawer.getByRole('img', { name: '群众提供的照片' });
    await img.waitFor();
    await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.naturalWidth)).toBeGreaterThan(0);
    await drawer.getByText('有价值').click();
    await drawer.getByLabel('办案备注').fill('已联系报料人，线索与监控吻合');
    await drawer.getByRole('button', { name: '保存' }).click();
    await page.getByText('已保存').waitFor();
    await drawer.getByRole('button', { name: /关闭/ }).click();
    await row.getByText('有价值').waitFor();
    const tips = (await w.t.request('GET', '/api/tips', officer.token)).json() as { status: string; note: string }[];
    expect(tips).toMatchObject([{ status: 'useful', note: '已联系报料人，线索与监控吻合' }]);
    await desk.close();

    const other = await w.context();
    const otherPage = await other.newPage();
    await signIn(otherPage, outsider);
    await otherPage.goto('/tips');
    await otherPage.getByText('暂无线索').waitFor();
    expect(await otherPage.getByText(TIP).count()).toBe(0);
    expect((await w.t.request('GET', '/api/tips', outsider.token)).json()).toEqual([]);
    await other.close();
  }, 120_000);

  it('the 线索 and 协查案件 screens have no serious accessibility faults, and 已抓获 says what it will do before drafting the follow-up', async () => {
    const desk = await w.context();
    const page = await desk.newPage();
    await signIn(page, w.people.editor);
    await page.goto('/tips');
    await page.getByRole('row').filter({ hasText: TIP }).waitFor();
    expect(await screenViolations(page)).toEqual([]);

    if (process.env.CONSOLE_SCREENSHOTS) {
      await wantedScreenshots({
        browser: w.browser,
        baseUrl: w.baseUrl,
        // `npm run console:screenshots` sets 1 for every file: docs/console; a path is used as given.
        outDir: process.env.CONSOLE_SCREENSHOTS === '1' ? 'docs/console' : process.env.CONSOLE_SCREENSHOTS,
        signIn,
        editor: w.people.editor,
        noticeId,
        near: { lat: 23.145, lng: 113.34, radiusKm: 2 },
      });
    }

    await page.goto('/cases');
    const row = page.getByRole('row').filter({ hasText: '关于征集五山街道商铺盗窃案线索的通告' });
    await row.waitFor();
    await row.getByText('2 / 1').waitFor();
    expect(await screenViolations(page)).toEqual([]);
    await row.getByRole('button', { name: '已抓获 / 已破案' }).click();
    const dialog = page.getByRole('dialog', { name: '已抓获 / 已破案' });
    await dialog.getByText('须经审核员审核通过后才会发送').waitFor();
    expect((await dialog.textContent())?.replace(/\s+/g, '')).toContain('发给收到过原通告的全部2个群（1个村/社区）');
    expect(await screenViolations(page)).toEqual([]);
    await dialog.getByRole('button', { name: '确认已抓获并起草通告' }).click();
    await page.getByText('已起草“已抓获”通告，等待审核').waitFor();
    await row.getByText('“已抓获”通告').waitFor();
    await row.getByText('待审核', { exact: true }).waitFor();
    expect(await screenViolations(page)).toEqual([]);
    // The case now wants attention (its follow-up waits for review): the navigation says so.
    await page.getByRole('link', { name: /^线索/ }).click();
    await page.getByRole('link', { name: /协查案件\s*1 件待处理/ }).waitFor();
    const kase = (await w.t.request('GET', `/api/cases/${noticeId}`, w.people.editor.token)).json() as {
      outcomes: { kind: string; followUpStatus: string }[];
    };
    expect(kase.outcomes).toMatchObject([{ kind: 'caught', followUpStatus: 'in_review' }]);
    await desk.close();
  }, 180_000);
});

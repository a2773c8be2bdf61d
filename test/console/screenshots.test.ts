// `npm run console:screenshots`: every screen at 1440×900 and the campaign page at 390×844,
// written to docs/console/*.png from a world with data in it. Skipped in `npm test`.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { demoPassword, seedDemoMonth } from '../../scripts/demo-month.js';
import { pngBytes } from '../helpers/channels.js';
import { TREE } from '../helpers/regions.js';
import { type ConsoleWorld, choose, fontsReady, signIn, startConsoleWorld } from './world.js';

const OUT = join(import.meta.dirname, '..', '..', 'docs', 'console');

async function shot(page: Page, name: string) {
  await fontsReady(page);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(OUT, `${name}.png`), animations: 'disabled' });
}

describe.runIf(process.env.CONSOLE_SCREENSHOTS)('console screenshots', { timeout: 240_000 }, () => {
  let w: ConsoleWorld;
  let campaignId = '';
  let noticeId = '';

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    w = await startConsoleWorld();
    const { editor, reviewer } = w.people;
    const notices = [
      {
        category: 'anti_fraud',
        title: '警惕冒充公检法诈骗',
        body: '近期，我区发生多起**冒充公检法**诈骗案件。\n\n请记住：\n- 公检法机关不会通过电话办案\n- 没有所谓的“安全账户”\n- 接到可疑电话请拨打 96110',
      },
      { category: 'anti_theft', title: '春节期间防盗提示', body: '外出请锁好门窗，贵重物品不要放在车内。' },
      {
        category: 'accident_prevention',
        title: '冬季用电防火安全',
        body: '不私拉乱接电线，电动车不进楼道、不入户充电。',
      },
    ];
    for (const [i, body] of notices.entries()) {
      const created = await w.t.request('POST', '/api/notices', editor.token, {
        ...body,
        issuingUnit: '天河区公安分局',
      });
      const id = created.json().id;
      if (i === 0) noticeId = id;
      await w.t.request('POST', `/api/notices/${id}/submit`, editor.token);
      if (i < 2) await w.t.request('POST', `/api/notices/${id}/approve`, reviewer.token, {});
    }
    // A second version of the first notice, so the history has something to compare.
    await w.t.request('PATCH', `/api/notices/${noticeId}`, editor.token, { title: '警惕冒充公检法诈骗（更新）' });
    await w.t.request('POST', `/api/notices/${noticeId}/submit`, editor.token);
    await w.t.request('POST', `/api/notices/${noticeId}/approve`, reviewer.token, {});
    const audience = {
      regions: [TREE.countyA.code],
      tags: [],
      groups: [],
      excludeRegions: [],
      excludeTags: [],
      excludeGroups: [],
    };
    const run = await w.t.request('POST', '/api/campaigns', editor.token, {
      title: '防诈骗宣传·全区',
      noticeId,
      audience,
      schedule: { kind: 'now' },
    });
    campaignId = run.json().id;
    await w.t.request('POST', `/api/campaigns/${campaignId}/submit`, editor.token);
    await w.t.request('POST', `/api/campaigns/${campaignId}/approve`, reviewer.token);
    const weekly = await w.t.request('POST', '/api/campaigns', editor.token, {
      title: '每周一防诈骗提醒',
      noticeId,
      audience,
      schedule: { kind: 'cron', cron: '0 9 * * 1', endAt: new Date(Date.now() + 60 * 86_400_000).toISOString() },
    });
    await w.t.request('POST', `/api/campaigns/${weekly.json().id}/submit`, editor.token);
  }, 180_000);
  afterAll(() => w?.close());

  it('writes every screen', async () => {
    const context = await w.context();
    const page = await context.newPage();
    await page.goto('/login');
    await page.getByRole('button', { name: '登录' }).waitFor();
    await shot(page, 'login');
    await signIn(page, w.people.editor);
    await page.goto('/notices');
    await page.getByText('春节期间防盗提示').waitFor();
    await shot(page, 'notices');
    await page.goto('/notices/new');
    await page.getByLabel('标题').fill('警惕“刷单返利”诈骗');
    await page
      .getByLabel('正文')
      .fill(
        '“刷单返利”是诈骗！\n\n- 先小额返利，再诱导大额投入\n- 凡是要求先垫付的都是诈骗\n\n如有疑问请拨打 **96110**。',
      );
    await page.getByLabel('发布单位').fill('天河区公安分局');
    await page
      .locator('input[type=file]')
      .setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: await pngBytes(480, 300) });
    await page.getByAltText('图片卡片预览（通用）').waitFor();
    await shot(page, 'notice-form');
    await page.goto(`/notices/${noticeId}`);
    await page.getByRole('button', { name: '查看变化' }).first().click();
    await page.getByText('第 2 版与第 1 版相比').waitFor();
    await shot(page, 'notice-versions');
    await page.goto('/campaigns/new');
    await choose(page, page.getByLabel('已通过的通告').first(), /\S/);
    await page.getByLabel('搜索区划').fill('社区');
    await page.getByRole('checkbox', { name: /五山社区/ }).check();
    await page.getByRole('checkbox', { name: /华工社区/ }).check();
    await page.getByTestId('total-groups').waitFor();
    await page.getByRole('radio', { name: '周期' }).check({ force: true });
    await page
      .getByLabel('结束日期')
      .fill(new Date(Date.now() + 40 * 86_400_000).toISOString().slice(0, 10) + ' 18:00');
    await page.getByLabel('结束日期').press('Enter');
    await page.getByRole('list', { name: '接下来的发送时间' }).waitFor();
    await shot(page, 'campaign-wizard');
    await page.goto('/campaigns');
    await page.getByText('每周一防诈骗提醒').waitFor();
    await shot(page, 'campaigns');
    await page.goto(`/campaigns/${campaignId}`);
    await page.getByTestId('overall-percent').filter({ hasText: '100%' }).waitFor({ timeout: 60_000 });
    await shot(page, 'campaign');
    await page.goto('/calendar');
    await page.getByText('每周一防诈骗提醒').first().waitFor();
    await shot(page, 'calendar-month');
    await page.getByRole('radio', { name: '周' }).check({ force: true });
    await shot(page, 'calendar-week');
    await page.getByRole('radio', { name: '列表' }).check({ force: true });
    await page.getByRole('columnheader', { name: '发送时间' }).waitFor();
    await shot(page, 'calendar-list');
    await page.getByRole('button', { name: '用户菜单' }).click();
    await page.getByRole('menuitem', { name: '修改密码' }).click();
    await page.getByRole('dialog', { name: '修改密码' }).waitFor();
    await shot(page, 'change-password');

    const phone = await w.context({ width: 390, height: 844, mobile: true });
    const mobile = await phone.newPage();
    await signIn(mobile, w.people.editor);
    await mobile.goto(`/campaigns/${campaignId}`);
    await mobile.getByTestId('overall-percent').filter({ hasText: '100%' }).waitFor();
    await fontsReady(mobile);
    await mobile.screenshot({ path: join(OUT, 'campaign-phone.png'), fullPage: true });

    const reviewerContext = await w.context();
    const reviewer = await reviewerContext.newPage();
    await signIn(reviewer, w.people.reviewer);
    await reviewer.goto('/reviews');
    await reviewer.getByRole('article').first().getByAltText('图片卡片预览').waitFor();
    await shot(reviewer, 'reviews');
  });

  it('phone views of the officer and the leader on the demo month', async () => {
    // The month folded into the roll-ups before any shot: 触达统计 shows it, not zeros.
    await seedDemoMonth(w.t.app, { countyCode: TREE.countyA.code, adminToken: w.t.adminToken, rollups: w.t.ctx.tracking.rollups });
    const as = async (username: string, shots: [string, string][]) => {
      const context = await w.context({ width: 390, height: 844, mobile: true });
      const page = await context.newPage();
      await signIn(page, { username, password: demoPassword(username) });
      for (const [path, name] of shots) {
        await page.goto(path);
        await page.waitForLoadState('networkidle');
        await page.waitForFunction(() => !document.querySelector('[aria-busy="true"], .el-loading-mask'));
        await fontsReady(page);
        await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true, animations: 'disabled' });
      }
      await context.close();
    };
    await as('demo-officer', [
      ['/tasks', 'tasks-phone'],
      ['/tips', 'tips-phone'],
    ]);
    await as('demo-viewer', [
      ['/', 'home-phone'],
      ['/reach', 'reach-leader-phone'],
      ['/reach/monthly', 'reach-monthly-leader-phone'],
      ['/campaigns', 'campaigns-phone'],
      ['/calendar', 'calendar-phone'],
    ]);
    await as('demo-coordinator', [['/', 'home-coordinator-phone']]);
    const admin = await w.context();
    const page = await admin.newPage();
    await signIn(page, { username: 'demo-admin', password: demoPassword('demo-admin') });
    for (const [path, name] of [
      ['/audit', 'audit-demo'],
      ['/users', 'users-demo'],
      ['/campaigns', 'campaigns-demo'],
    ] as const) {
      await page.goto(path);
      await page.waitForLoadState('networkidle');
      await shot(page, name);
    }
    // 触达统计 whole, rankings included, and the calendar with the month's runs.
    await page.goto('/reach');
    await page.getByTestId('officer-ranking').locator('.el-table__body tr').first().waitFor();
    await page.waitForFunction(() => !document.querySelector('[aria-busy="true"], .el-loading-mask'));
    await fontsReady(page);
    await page.screenshot({ path: join(OUT, 'reach-rankings.png'), fullPage: true, animations: 'disabled' });
    await page.goto('/calendar');
    await page.locator('.el-calendar button.entry').first().waitFor();
    await shot(page, 'calendar-demo');
    await admin.close();
  });
});

// WeCom customer groups (企业微信客户群) in a real browser (issue 24, Must show 3): the county
// admin sets the county's WeCom app and syncs its customer groups from the double, reads the
// report (groups placed by village and officer, groups to place by hand, owners without an
// account) and places one by hand; the groups list shows the channel; the editor sees the
// receive-cap warning in the audience totals, the reviewer sees it too and the message the
// owner's one-tap send posts; the campaign page shows each owner's task as WeCom reports it
// (sent at once, sent after a reminder, never sent); the monthly table shows 发送消息数 by
// channel (robots, an officer's forwarded task, the customer groups) and its export equals
// the screen. The service runs on a clock the test
// moves on (real time plus a skew), shared with the double, so the owners' delays, WeCom's
// reminders and the three-day horizon pass without waiting. With CONSOLE_SCREENSHOTS set,
// each screen is written to docs/console/ at 1280 and 390 px.
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import type { Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CustomerGroupDouble, type DoubleMember } from '../../src/channels/doubles/wecom-customer-groups.js';
import { capPeriod } from '../../src/channels/wecom-group/service.js';
import { buildWecomCapSends } from '../../src/channels/wecom-group/cap-sends.js';
import { WecomItemModel } from '../../src/channels/wecom-group/model.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { engineDeps } from '../../src/context.js';
import { Scheduler } from '../../src/engine/runner.js';
import { ADMIN_PASSWORD } from '../helpers/app.js';
import { TREE } from '../helpers/regions.js';
import {
  type ConsoleWorld,
  type Person,
  SHOTS_DIR,
  animationsDone,
  choose,
  consoleShot,
  fontsReady,
  seriousViolations,
  signIn,
  startConsoleWorld,
} from './world.js';

const MINUTE = 60_000;
const CORP = 'wwtianhecounty0001';
const SECRET = 'tianhe-customer-contact-secret-0042';
const COUNTY = TREE.countyA.code;
/** A second 五山社区, under 石牌街道: a group named after it matches two villages. */
const TWIN = { code: '440106002003', name: '五山社区', parentCode: '440106002' };

/**
 * The test moves the service's clock on by three days and then reads this month's table
 * beside the console's own month (real time): in a month's last week it starts a week back,
 * so every send stays in the month the console opens on.
 */
const dayOfMonth = Number(new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', day: 'numeric' }).format(new Date()));
let skew = dayOfMonth > 24 ? -7 * 24 * 60 * 60_000 : 0;
const clock = { now: () => new Date(Date.now() + skew) };
const double = new CustomerGroupDouble({ clock });

interface Chat {
  chatId: string;
  name: string;
  owner: string;
  residents: number;
}
const CHATS: Chat[] = [
  { chatId: 'wrTianhe0001', name: '华工社区警民联系群', owner: 'wangjun', residents: 38 },
  { chatId: 'wrTianhe0002', name: '石牌村反诈宣传群', owner: 'wangjun', residents: 52 },
  { chatId: 'wrTianhe0003', name: '龙口西社区警民联系群', owner: 'wangjun', residents: 27 },
  { chatId: 'wrTianhe0004', name: '龙口西社区平安群', owner: 'lihong', residents: 41 },
  { chatId: 'wrTianhe0005', name: '五山社区治安群', owner: 'zhaomin', residents: 33 },
  { chatId: 'wrTianhe0006', name: '群聊', owner: 'lihong', residents: 6 },
  { chatId: 'wrTianhe0007', name: '石牌村老年人防诈群', owner: 'chenli', residents: 19 },
];
const OFFICERS = [
  { owner: 'wangjun', name: '王军', phone: '13900002001' },
  { owner: 'lihong', name: '李红', phone: '13900002002' },
  { owner: 'zhaomin', name: '赵敏', phone: '13900002003' },
];
const CAMPAIGN = '十二月客户群防诈宣传';
const NOTICE = '警惕冒充客服退款诈骗';

function members(chat: Chat): DoubleMember[] {
  return [
    { userid: chat.owner, type: 1 },
    { userid: 'cadre-tianhe', type: 1 },
    ...Array.from({ length: chat.residents }, (_, r) => ({ userid: `wm${chat.chatId}${r}`, type: 2 as const })),
  ];
}

/** What a code looks like on a screen (wecom_group_cap, owner_left…): never shown to staff. */
const CODE = /\b[a-z]+_[a-z_]+\b/;
const visibleText = (scope: Page | Locator) => ('mainFrame' in scope ? scope.locator('body') : scope).innerText();

/** An Element Plus table by its aria-label (on the table's wrapper, not a role=table element). */
const tableOf = (scope: Page | Locator, label: string) => scope.locator(`.el-table[aria-label="${label}"]`);
const rowOf = (table: Locator, text: string) => table.getByRole('row').filter({ hasText: text }).first();

const shot = (page: Page, name: string) => consoleShot(page, name, { fullPage: true });

/**
 * A dialog whole: a page screenshot does not scroll a fixed overlay, so the viewport is made
 * as tall as the dialog for the shot (the layout is the real one at that height).
 */
async function dialogShot(page: Page, name: string): Promise<void> {
  if (!SHOTS_DIR) return;
  const size = page.viewportSize()!;
  const box = page.locator('.el-dialog:visible').last();
  for (let i = 0; i < 3; i++) {
    const at = (await box.boundingBox())!;
    const need = Math.ceil(at.y + at.height + 24);
    if (need <= page.viewportSize()!.height) break;
    await page.setViewportSize({ width: size.width, height: need });
  }
  await fontsReady(page);
  await animationsDone(page);
  await page.screenshot({ path: join(SHOTS_DIR, `${name}.png`) });
  await page.setViewportSize(size);
}

describe('WeCom customer groups in the console', { timeout: 240_000 }, () => {
  let w: ConsoleWorld;
  /** Every /api answer the browsers read, to check the app secret never comes back. */
  const answers: string[] = [];
  const groupIds = new Map<string, string>(); // chat name → group id
  let campaignId = '';

  const api = async <T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    token: string,
    body?: unknown,
  ): Promise<T> => {
    const response = await w.t.request(method, url, token, body);
    if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
    return response.json() as T;
  };

  async function pageAs(who: Pick<Person, 'username' | 'password'>, width = 1280, mobile = false): Promise<Page> {
    const context = await w.context({ width, height: mobile ? 844 : 900, mobile });
    const page = await context.newPage();
    page.on('response', async (response) => {
      if (!response.url().includes('/api/')) return;
      answers.push(await response.text().catch(() => ''));
    });
    await signIn(page, who);
    open.push(page);
    return page;
  }
  const open: Page[] = [];
  afterEach(async (context) => {
    // A failed step leaves the screen it failed on for whoever reads the log.
    if (context.task.result?.state === 'fail')
      for (const [i, page] of open.entries())
        await page.screenshot({ path: `/tmp/jx-wecom-${i}.png`, fullPage: true }).catch(() => undefined);
    open.length = 0;
  });

  beforeAll(async () => {
    await double.start();
    double.addCorp(CORP, SECRET);
    for (const chat of CHATS) double.addChat(CORP, { chatId: chat.chatId, name: chat.name, owner: chat.owner, members: members(chat) });
    w = await startConsoleWorld({
      clock,
      env: { WECOM_API_BASE_URL: double.url, TASK_REMINDER_MINUTES: '30', TOKEN_TTL_HOURS: '720' },
    });
    await api('POST', '/api/regions', w.t.adminToken, TWIN);
    const chief = await api<{ id: string }>('POST', '/api/users', w.t.adminToken, {
      username: 'chief-tianhe',
      displayName: '孙所长',
      password: `${ADMIN_PASSWORD}-chief`,
      role: 'officer',
      regionCode: COUNTY,
      phone: '13900002000',
    });
    w.doubles.addRobot({ platform: 'wecom', key: 'notify-chief-tianhe' });
    await api('PUT', `/api/users/${chief.id}/notify-robot`, w.t.adminToken, { channel: { kind: 'wecom', key: 'notify-chief-tianhe' } });
    for (const officer of OFFICERS) {
      const user = await api<{ id: string }>('POST', '/api/users', w.t.adminToken, {
        username: `u${officer.phone}`,
        displayName: officer.name,
        password: `${ADMIN_PASSWORD}-${officer.phone}`,
        role: 'officer',
        regionCode: COUNTY,
        phone: officer.phone,
      });
      await api('PUT', `/api/users/${user.id}/wecom-userid`, w.t.adminToken, { wecomUserId: officer.owner });
      const key = `notify-${officer.owner}`;
      w.doubles.addRobot({ platform: 'wecom', key });
      await api('PUT', `/api/users/${user.id}/notify-robot`, w.t.adminToken, {
        channel: { kind: 'wecom', key },
        superiorUserId: chief.id,
      });
    }
    const notice = await api<{ id: string }>('POST', '/api/notices', w.people.editor.token, {
      category: 'anti_fraud',
      title: NOTICE,
      body: '自称“客服”说您的快递丢失、商品有质量问题要退款的，**都是诈骗**。\n\n- 不点陌生链接\n- 不开屏幕共享\n- 不向“安全账户”转账\n\n如有疑问请拨打 96110。',
      issuingUnit: '天河区公安分局',
    });
    await api('POST', `/api/notices/${notice.id}/submit`, w.people.editor.token);
    await api('POST', `/api/notices/${notice.id}/approve`, w.people.reviewer.token, {});
  }, 180_000);
  afterAll(async () => {
    await w?.close();
    await double.close();
  });

  it('the county admin sets the WeCom app, syncs the customer groups and reads the report; the groups list shows the channel', async () => {
    const page = await pageAs(w.people.admin);
    await page.goto('/groups');
    // A slow network (the whole suite's load once took this long): the county's app arrives well
    // after the dialog opens. What the admin types must not be wiped by its late answer.
    const slowApp = '**/api/regions/*/wecom-app';
    await page.route(slowApp, async (route) => {
      if (route.request().method() === 'GET') await new Promise((resolve) => setTimeout(resolve, 1_500));
      await route.continue();
    });
    const appRead = page.waitForResponse(
      (response) => response.url().endsWith('/wecom-app') && response.request().method() === 'GET',
    );
    await page.getByRole('button', { name: '企业微信客户群' }).click();
    const dialog = page.getByRole('dialog', { name: '企业微信客户群' });
    // A county admin's county is chosen already.
    await dialog.getByLabel('企业 ID').waitFor();
    await dialog.getByLabel('企业 ID').fill(CORP);
    await dialog.getByLabel('应用 Secret').fill(SECRET);
    await appRead;
    await page.unroute(slowApp);
    await dialog.getByRole('button', { name: '保存应用' }).click();
    await dialog.getByRole('status').filter({ hasText: '已保存' }).waitFor();
    expect(await dialog.getByLabel('应用 Secret').inputValue()).toBe('');
    expect(await dialog.getByLabel('应用 Secret').getAttribute('placeholder')).toBe('已设置，不修改请留空');
    await dialogShot(page, 'wecom-app');

    await dialog.getByRole('button', { name: '同步企业微信客户群' }).click();
    const report = dialog.getByTestId('wecom-sync-report');
    await report.getByText('共 7 个客户群').waitFor();
    expect(await report.textContent()).toContain('新建 5 个');
    // Placed groups by owner: the officer, how many groups, in which villages.
    const owners = tableOf(report, '按群主归属的客户群');
    await rowOf(owners, '王军').waitFor();
    expect(await rowOf(owners, '王军').textContent()).toMatch(/3(华工社区|石牌村|龙口西社区)、(华工社区|石牌村|龙口西社区)、/);
    expect(await rowOf(owners, '李红').textContent()).toContain('龙口西社区');
    expect(await rowOf(owners, 'chenli').textContent()).toContain('未对应民警');
    // Owners whose account is unknown are named with what to do.
    await report.getByText('企业微信账号 chenli 的 1 个群没有对应的民警账号', { exact: false }).waitFor();
    // Groups to place by hand: the twin and the group named after no village.
    const toPlace = tableOf(report, '待指定村的客户群');
    await rowOf(toPlace, '群名中找不到本县的村').getByText('群聊', { exact: true }).waitFor();
    const twin = rowOf(toPlace, '五山社区治安群');
    await twin.getByText('群名对应多个村').waitFor();
    await dialogShot(page, 'wecom-sync-report');
    expect(await seriousViolations(page)).toEqual([]);
    expect(await visibleText(dialog)).not.toMatch(CODE);
    // Who set the app and who synced: by name, not by login.
    expect(await visibleText(dialog)).not.toContain(w.people.admin.username);
    await choose(page, '五山社区治安群 所在的村（社区）', '五山街道 五山社区');
    await twin.getByRole('button', { name: '确定' }).click();
    await twin.waitFor({ state: 'detached' });
    await dialog.getByRole('button', { name: '关闭此对话框' }).click();
    const list = await api<{ id: string; name: string }[]>('GET', '/api/groups?channelKind=wecom_group&limit=50', w.t.adminToken);
    for (const g of list) groupIds.set(g.name, g.id);
    expect(groupIds.size).toBe(6);

    // The list: the channel, the village, the officer and the residents counted by the sync.
    await choose(page, page.locator('#g-channel'), '企业微信客户群');
    await page.getByRole('button', { name: '搜索' }).click();
    const table = tableOf(page, '群列表');
    const row = rowOf(table, '华工社区警民联系群');
    await row.waitFor();
    expect(await row.textContent()).toContain('企业微信客户群');
    expect(await row.textContent()).toContain('王军');
    expect(await row.textContent()).toContain('38');
    await rowOf(table, '五山社区治安群').waitFor();
    // A customer group takes only a campaign's task: no test message to offer.
    expect(await row.getByRole('button', { name: '发送测试消息' }).count()).toBe(0);
    // The chosen channel is read whole in the filter, not cut to 企业微信….
    const chosen = page.locator('.el-select:has(#g-channel) .el-select__placeholder').first();
    expect(await chosen.textContent()).toBe('企业微信客户群');
    expect(await chosen.evaluate((e) => e.scrollWidth <= e.clientWidth)).toBe(true);
    await shot(page, 'wecom-groups');

    if (SHOTS_DIR) {
      const phone = await pageAs(w.people.admin, 390, true);
      await phone.goto('/groups');
      await choose(phone, phone.locator('#g-channel'), '企业微信客户群');
      await phone.getByRole('button', { name: '搜索' }).click();
      await rowOf(tableOf(phone, '群列表'), '华工社区警民联系群').waitFor();
      await shot(phone, 'wecom-groups-phone');
      await phone.getByRole('button', { name: '企业微信客户群' }).click();
      await phone.getByTestId('wecom-sync-report').getByText('共 7 个客户群').waitFor();
      await dialogShot(phone, 'wecom-sync-report-phone');
      await phone.context().close();
    }
    expect(answers.join('\n')).not.toContain(SECRET);
    expect(await page.content()).not.toContain(SECRET);
    expect(w.t.logs()).not.toContain(SECRET);
    await page.context().close();
  });

  it('the receive cap is in the audience totals before approval, and the reviewer sees what the owner’s one tap posts', async () => {
    // 石牌村反诈宣传群 already had this month's sends (one a day, as WeCom counts them).
    const full = groupIds.get('石牌村反诈宣传群')!;
    const { period, limit } = capPeriod(clock.now(), 'month', 'Asia/Shanghai');
    await WecomItemModel.insertMany(
      Array.from({ length: limit }, (_, n) => ({
        _id: `history-${n}/${full}`,
        occurrenceId: `history-${n}`,
        campaignId: 'history',
        countyCode: COUNTY,
        ownerUserId: 'wangjun',
        chatId: 'wrTianhe0002',
        groupId: full,
        groupName: '石牌村反诈宣传群',
        regionPath: [],
        period,
        state: 'sent',
        createdAt: clock.now(),
      })),
    );
    // Written straight into the items, as an install from before the cap list left them: listed once at start.
    await BackfillModel.deleteOne({ _id: 'wecom-group-cap-sends' });
    await buildWecomCapSends(clock.now());
    /** The editor picks the notice and the five customer groups in the wizard. */
    const compose = async (page: Page) => {
      await page.goto('/campaigns/new');
      await page.getByLabel('已通过的通告').click();
      await page.getByLabel('已通过的通告').fill('冒充客服');
      await choose(page, '已通过的通告', new RegExp(NOTICE));
      await page.getByLabel('推送名称').fill(CAMPAIGN);
      for (const name of ['华工社区警民联系群', '石牌村反诈宣传群', '龙口西社区警民联系群', '龙口西社区平安群', '五山社区治安群']) {
        await page.getByLabel('指定群').fill(name);
        await choose(page, '指定群', new RegExp(`^${name}$`), { multiple: true });
      }
      // Done picking: the drop-down closes as the editor moves on.
      await page.getByRole('heading', { name: '2 受众' }).click();
      await page.getByRole('listbox').filter({ hasText: '五山社区治安群' }).waitFor({ state: 'hidden' });
      const aside = page.getByRole('complementary', { name: '受众合计' });
      await aside.getByTestId('total-groups').filter({ hasText: '5' }).waitFor();
      await aside.getByTestId('cap-warning').waitFor();
      return aside;
    };
    if (SHOTS_DIR) {
      const phone = await pageAs(w.people.editor, 390, true);
      await compose(phone);
      await shot(phone, 'wecom-campaign-totals-phone');
      await phone.context().close();
    }
    const editor = await pageAs(w.people.editor);
    const totals = await compose(editor);
    await totals.getByTestId('total-groups').filter({ hasText: '5' }).waitFor();
    await totals.getByText('企业微信客户群：5 个群').waitFor();
    await totals.getByTestId('cap-warning').waitFor();
    expect(await totals.getByTestId('cap-warning').textContent()).toContain('这次推送将有 1 个群超出本月接收上限');
    await shot(editor, 'wecom-campaign-totals');
    await editor.getByRole('button', { name: '提交审核' }).click();
    await editor.waitForURL(/\/campaigns\/[0-9a-f]{24}/);
    campaignId = /\/campaigns\/([0-9a-f]{24})/.exec(editor.url())![1]!;
    await editor.context().close();

    const reviewer = await pageAs(w.people.reviewer);
    await reviewer.goto('/reviews');
    await reviewer.getByRole('tab', { name: /推送/ }).click();
    const item = reviewer.getByRole('article', { name: `待审核推送：${CAMPAIGN}` });
    await item.getByTestId('audience-totals').filter({ hasText: '5 个群' }).waitFor();
    await item.getByText('企业微信客户群 5 个群').waitFor();
    await item.getByTestId('cap-warning').filter({ hasText: '这次推送将有 1 个群超出本月接收上限' }).waitFor();
    // The message each owner confirms in 群发助手: the text, then the link card.
    await item.getByRole('tab', { name: '企业微信客户群' }).click();
    const card = item.getByRole('article', { name: '企业微信客户群文字卡片', exact: true });
    const phone = card.getByTestId('phone-wecom_group');
    await phone.getByText('群主在“群发助手”确认后发出').waitFor();
    await phone.locator('.bubble').first().getByText(NOTICE).waitFor();
    await phone.locator('.link-card').getByText('都是诈骗', { exact: false }).waitFor();
    await shot(reviewer, 'wecom-review');
    expect(await seriousViolations(reviewer)).toEqual([]);
    if (SHOTS_DIR) {
      const narrow = await pageAs(w.people.reviewer, 390, true);
      await narrow.goto('/reviews');
      await narrow.getByRole('tab', { name: /推送/ }).click();
      const it = narrow.getByRole('article', { name: `待审核推送：${CAMPAIGN}` });
      await it.getByRole('tab', { name: '企业微信客户群' }).click();
      await it.getByTestId('phone-wecom_group').waitFor();
      await shot(narrow, 'wecom-review-phone');
      await narrow.context().close();
    }
    double.ownerConfirms('wangjun', 0);
    double.ownerConfirms('lihong', 'never');
    double.ownerConfirms('zhaomin', 'never');
    await item.getByRole('button', { name: '通过并立即发送' }).click();
    await reviewer.getByRole('dialog', { name: /通过并立即发送/ }).getByRole('button', { name: /通过并立即发送|确定/ }).click();
    await item.waitFor({ state: 'detached' });
    await reviewer.context().close();
  });

  it('the campaign page shows each owner’s task as WeCom reports it: sent at once, sent after a reminder, never sent', async () => {
    const page = await pageAs(w.people.admin);
    await page.goto(`/campaigns/${campaignId}`);
    const tasks = page.getByTestId('wecom-tasks');
    // The capped group is refused with the reason before any task is made.
    const until = async (done: () => Promise<boolean>, what: string) => {
      const deadline = Date.now() + 30_000;
      while (!(await done())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    await until(
      async () => (await WecomItemModel.countDocuments({ campaignId, state: 'queued' })) === 4,
      'the four groups queued for their owners',
    );
    // The owners' groups settled: one task per owner; 王军 sends at once.
    skew += MINUTE + 1_000;
    expect((await w.t.ctx.wecomGroups.tick()).created).toBe(3);
    skew += MINUTE;
    await w.t.ctx.wecomGroups.tick();
    const row = (name: string) => rowOf(tableOf(tasks, '企业微信群发任务'), name);
    await row('王军').getByText('群主已发送').waitFor();
    await row('李红').getByText('待群主确认').waitFor();
    await row('赵敏').getByText('待群主确认').waitFor();
    // Half an hour on: the digest named the task, then WeCom reminded the owners.
    await w.t.ctx.notifier.tick();
    skew += 30 * MINUTE;
    await w.t.ctx.wecomGroups.tick();
    await w.t.ctx.notifier.tick();
    await page.reload();
    await row('李红').getByText('1 次').waitFor();
    // What the two unsent owners' groups wait for is said as it is: not an officer's forwarding.
    const overall = page.locator('.bar').first();
    await overall.getByText('待群主确认 2').waitFor();
    await overall.getByText('待民警转发 0').waitFor();
    await page.getByRole('tab', { name: /失败（1）/ }).waitFor();
    // Not done while two groups wait for their owner: the figure agrees with the bar.
    const percent = Number((await page.getByTestId('overall-percent').textContent())!.match(/总体完成 (\d+)%/)![1]);
    expect(percent).toBe(Number(await overall.getByRole('progressbar').getAttribute('aria-valuenow')));
    expect(percent).toBeLessThan(100);
    // The capped group is failed with WeCom's reason in words, not the channel's code.
    const capped = page.getByRole('row').filter({ hasText: '石牌村反诈宣传群' }).first();
    await capped.getByText('达到企业微信接收上限', { exact: false }).waitFor();
    expect(await visibleText(page)).not.toMatch(CODE);
    // 导出明细 says the same in its sheet: the channel by name, the reason in words.
    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: '导出明细' }).click();
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile((await (await downloading).path())!);
    const sheet = book.worksheets[0]!;
    const header = (sheet.getRow(1).values as unknown[]).map(String);
    const cells = (column: string) =>
      Array.from({ length: sheet.rowCount - 1 }, (_, i) => sheet.getRow(i + 2).getCell(header.indexOf(column)).text);
    expect(cells('渠道')).toEqual(Array(5).fill('企业微信客户群'));
    expect(cells('最后错误').join('\n')).toContain('达到企业微信接收上限');
    expect(cells('最后错误').join('\n')).not.toMatch(CODE);
    await shot(page, 'wecom-progress');

    // 李红 sends after the reminder; the page follows without a reload.
    expect(double.confirm('lihong')).toBe(1);
    skew += MINUTE;
    await w.t.ctx.wecomGroups.tick();
    await row('李红').getByText('群主已发送').waitFor();
    // 赵敏 never sends: three days on the task is closed and the group reported unsent.
    skew += 3 * 24 * 60 * MINUTE;
    await w.t.ctx.wecomGroups.tick();
    await row('赵敏').getByText('群主未发送').waitFor();
    await row('赵敏').locator('.el-table__expand-icon').click();
    await tasks.getByText('未在企业微信群发助手确认发送', { exact: false }).first().waitFor();
    await page.getByRole('tab', { name: /失败（2）/ }).waitFor();
    // The figures and the tabs come from separate polls: wait for the figure, do not sample it.
    await page.getByTestId('overall-percent').filter({ hasText: '100%' }).waitFor();
    await shot(page, 'wecom-progress-done');
    expect(await seriousViolations(page)).toEqual([]);
    // At 390 px nothing scrolls sideways: 失败 and 民警通知 are cards, not wide tables.
    const phone = await pageAs(w.people.admin, 390, true);
    await phone.goto(`/campaigns/${campaignId}`);
    await phone.getByTestId('wecom-tasks').getByText('群主未发送').waitFor();
    await phone.getByRole('list', { name: '失败的发送' }).getByText('达到企业微信接收上限', { exact: false }).waitFor();
    await phone.getByRole('list', { name: '民警通知记录' }).getByText('任务汇总').first().waitFor();
    const wider = await phone.evaluate(() =>
      [...document.querySelectorAll('main *')]
        .filter((el) => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
        .map((el) => `${el.tagName}.${el.className}`),
    );
    expect(wider).toEqual([]);
    await shot(phone, 'wecom-progress-phone');
    await phone.context().close();
    await page.context().close();
  });

  it('the monthly table shows 发送消息数 by channel, adding up to 发送消息数, and its Excel file equals the screen', async () => {
    // Robots and an officer's task in the same month, beside the customer groups sent above.
    const officerGroup = await api<{ id: string }>('POST', '/api/groups', w.t.adminToken, {
      name: '华工社区居民微信群',
      regionCode: TREE.villageA.code,
      channel: { kind: 'manual' },
      memberCount: 120,
      officer: { name: '王军', phone: OFFICERS[0]!.phone },
    });
    const campaign = await api<{ id: string }>('POST', '/api/campaigns', w.people.editor.token, {
      title: '十二月机器人群防诈宣传',
      noticeId: (await api<{ campaignId?: string; noticeId: string }>('GET', `/api/campaigns/${campaignId}`, w.t.adminToken)).noticeId,
      audience: {
        regions: [],
        tags: [],
        groups: [w.groups[0]!.id, w.groups[1]!.id, officerGroup.id],
        excludeRegions: [],
        excludeTags: [],
        excludeGroups: [],
      },
      schedule: { kind: 'now' },
    });
    await api('POST', `/api/campaigns/${campaign.id}/submit`, w.people.editor.token);
    await api('POST', `/api/campaigns/${campaign.id}/approve`, w.people.reviewer.token);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const progress = await api<{ sent: number; awaiting: number }>('GET', `/api/campaigns/${campaign.id}/progress`, w.t.adminToken);
      if (progress.sent === 2 && progress.awaiting === 1) break;
      if (Date.now() > deadline) throw new Error(`robots not sent: ${JSON.stringify(progress)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const [task] = await api<{ link: string }[]>('GET', '/api/manual-tasks', w.t.adminToken);
    const link = new URL(task!.link);
    const confirmed = await w.t.request('POST', `${link.pathname.replace('/task/', '/api/manual-tasks/')}/confirm${link.search}`);
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    // The confirmation wakes the batch; the world's worker records it.
    await new Scheduler(engineDeps(w.t.ctx)).sweep();
    for (;;) {
      const progress = await api<{ confirmed: number }>('GET', `/api/campaigns/${campaign.id}/progress`, w.t.adminToken);
      if (progress.confirmed === 1) break;
      if (Date.now() > deadline + 60_000) throw new Error('the confirmation was not recorded');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await w.t.ctx.tracking.rollups.refreshAll('console-test');

    const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(clock.now()).slice(0, 7);
    const report = await api<{ total: { messages: number; channelMessages: number[] }; channels: { channelLabel: string }[] }>(
      'GET',
      `/api/reach/monthly?period=${month}`,
      w.t.adminToken,
    );
    expect(report.channels.map((c) => c.channelLabel)).toEqual(['企业微信', '人工转发', '企业微信客户群']);
    // Robots 2, the confirmed task 1, the customer groups their owners sent (王军 2, 李红 1).
    expect(report.total.channelMessages).toEqual([2, 1, 3]);

    const page = await pageAs(w.people.admin);
    await page.goto('/reach/monthly');
    const table = page.getByTestId('channel-table');
    await table.locator('tbody tr th').first().waitFor();
    const screen = async (locator: Locator) =>
      (await locator.locator('tr').evaluateAll((rows) => rows.map((row) => [...row.children].map((c) => (c.textContent ?? '').trim()))))
        .map((cells) => cells.map((c) => c.replace(/,/g, '')));
    const byChannel = await screen(table);
    expect(byChannel[0]).toEqual(['乡镇（街道）', '企业微信', '人工转发', '企业微信客户群', '合计']);
    expect(byChannel.at(-1)).toEqual(['合计', '2', '1', '3', '6']);
    const township = await screen(page.getByTestId('monthly-table'));
    for (const [i, row] of byChannel.slice(1).entries()) {
      expect(row.slice(1, -1).reduce((n, c) => n + Number(c), 0), row[0]).toBe(Number(row.at(-1)));
      expect(row.at(-1), row[0]).toBe(township[i + 1]![1]); // = the row's 发送消息数
    }
    const categories = await screen(page.getByTestId('category-table'));
    // The Excel file: the same three tables, in order, with the same numbers.
    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: '导出 Excel' }).click();
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile((await (await downloading).path())!);
    const sheet = book.worksheets[0]!;
    const rows: string[][] = [];
    for (let r = 1; r <= sheet.rowCount; r++) {
      const row = sheet.getRow(r);
      rows.push(Array.from({ length: row.cellCount }, (_, c) => row.getCell(c + 1).text));
    }
    expect(rows).toEqual([...township, [], ...categories, [], ['发送消息数按渠道'], ...byChannel]);
    await fontsReady(page);
    expect(await seriousViolations(page)).toEqual([]);
    await shot(page, 'reach-monthly-channels');
    const phone = await pageAs(w.people.admin, 390, true);
    await phone.goto('/reach/monthly');
    await phone.getByTestId('channel-table').locator('tbody tr th').first().waitFor();
    // At 390 px the channel table fits the page: no sideways scrolling.
    const fits = await phone
      .getByTestId('channel-table')
      .evaluate((el) => el.parentElement!.scrollWidth <= el.parentElement!.clientWidth + 1);
    expect(fits).toBe(true);
    await shot(phone, 'reach-monthly-channels-phone');
    await phone.context().close();
    await page.context().close();
  });
});

// Issue 23, must show 2: a county's first day in Chromium, as its admin does it. On 区划:
// 选择本县 (search the shipped list by name, then by code), 导入本县 and its result; then, as
// the county's admin, 群 → 导入: the file picker speaks Chinese, the dry run asks each
// township name of the fixture ledger once (with the candidates first), the answers are
// chosen in the dialog, the grouped report downloads as xlsx, and the import files the rows
// where their names say. CONSOLE_SCREENSHOTS=1 writes the screenshots docs/onboarding.md shows.
import ExcelJS from 'exceljs';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsole } from '../../scripts/build-console.mjs';
import { GroupModel } from '../../src/audience/model.js';
import { ADMIN_PASSWORD, type TestApp, startTestApp } from '../helpers/app.js';
import { BOCHENG, DONGZHUANG, FANYANG, ledgerXlsx } from '../audience/fixtures/neihuang-ledger.js';
import { CHROMIUM, CHROMIUM_ARGS, animationsDone, choose, consoleShot, signIn } from './world.js';

const shot = (page: Page, name: string) => consoleShot(page, name);

describe('a county’s first day in the console: 选择本县, 导入本县, the ledger import with reconciliation', () => {
  let t: TestApp;
  let browser: Browser;
  let baseUrl: string;
  beforeAll(async () => {
    ensureConsole({ log: () => undefined });
    t = await startTestApp({ env: { LOG_LEVEL: 'warn' } });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const page = async (width = 1440, height = 900) => {
    const context = await browser.newContext({
      baseURL: baseUrl,
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      viewport: { width, height },
      acceptDownloads: true,
    });
    context.setDefaultTimeout(20_000);
    return context.newPage();
  };

  it('picks 内黄县 from the shipped list on 区划 and imports it, showing what was created and kept', async () => {
    // The first admin of a fresh installation (national scope) picks the county.
    const p = await page();
    await signIn(p, { username: 'admin', password: ADMIN_PASSWORD });
    await p.goto('/regions');
    await p.getByRole('button', { name: '选择本县' }).click();
    const dialog = p.getByRole('dialog', { name: '选择本县' });
    await dialog.getByLabel('搜索县区').fill('内黄');
    await dialog.getByRole('cell', { name: '河南省安阳市内黄县' }).click();
    // The same county by the start of its code.
    await dialog.getByLabel('搜索县区').fill('410527');
    await dialog.getByRole('cell', { name: '河南省安阳市内黄县' }).click();
    await shot(p, 'regions-county');
    await dialog.getByRole('button', { name: '导入本县：内黄县' }).click();
    await dialog.getByText('已导入河南省安阳市内黄县：17 个乡镇（街道）、532 个村（社区）').waitFor();
    await expect(dialog.getByRole('status').textContent()).resolves.toMatch(/新建 \d+ 个区划，已有而保留 \d+ 个/);
    await shot(p, 'regions-seeded');
    await dialog.getByRole('button', { name: '关闭', exact: true }).click();
    // The tree has it now.
    await p.getByRole('tree', { name: '区划树' }).getByText('河南省').waitFor();
    await p.context().close();
  }, 120_000);

  it('imports the ledger as the county’s admin: each township name mapped once, villages listed, the report downloaded', async () => {
    const { username } = await t.userToken('admin', '410527');
    const p = await page();
    await signIn(p, { username, password: `pw-${username}-secret` });
    await p.goto('/groups');
    await p.getByRole('button', { name: '导入', exact: true }).click();
    const dialog = p.getByRole('dialog', { name: '导入群台账' });
    // The picker speaks Chinese: a 选择文件 button and 未选择文件, no native "Choose File".
    await dialog.getByRole('button', { name: '选择文件' }).waitFor();
    await dialog.getByText('未选择文件').waitFor();
    await expect(dialog.getByText(/Choose File|No file chosen/).count()).resolves.toBe(0);

    const file = await ledgerXlsx();
    await dialog.getByLabel('选择导入文件').setInputFiles({ name: '内黄县台账.xlsx', mimeType: 'application/octet-stream', buffer: file });
    await dialog.getByText('可导入 6 行，需确认 4 个乡镇名称，4 行有错误').waitFor();
    const townships = dialog.getByRole('region', { name: /乡镇名称核对/ });
    for (const name of ['城关镇', '亳城乡', '张龙乡', '东庄']) await townships.getByRole('cell', { name, exact: true }).waitFor();
    await dialog.getByRole('heading', { name: '将新建的村（社区）：2 个' }).waitFor();
    await dialog.getByRole('region', { name: /问题（按原因归类）/ }).getByText('乡镇名称不在本县名单中，需确认对应哪个乡镇').waitFor();
    await shot(p, 'ledger-import');

    // Map each township name once: the best candidate is listed first.
    const selectBox = (label: string) =>
      dialog.getByLabel(label).locator('xpath=ancestor::div[contains(@class, "el-select__wrapper")]');
    const answer = async (label: string, option: string | RegExp) => {
      await animationsDone(p); // the last drop-down has closed
      await choose(p, dialog.getByLabel(label), option);
    };
    await selectBox('「城关镇」对应到').click();
    await expect(p.getByRole('option').filter({ visible: true }).first().textContent()).resolves.toContain('繁阳街道');
    await choose(p, dialog.getByLabel('「城关镇」对应到'), `繁阳街道（${FANYANG}）`);
    await answer('「亳城乡」对应到', `亳城镇（${BOCHENG}）`);
    await answer('「张龙乡」对应到', '新建本地乡镇「张龙乡」');
    await answer('「东庄」对应到', `东庄镇（${DONGZHUANG}）`);
    await answer('「东台头新村」是哪个村', '新建村「东台头新村」');
    await answer('「前屯」是哪个村', /就是 郝村/);
    await dialog.getByRole('button', { name: '按所选重新试导入' }).click();
    await dialog.getByText('可导入 17 行，需确认 0 个乡镇名称，3 行有错误').waitFor();
    await shot(p, 'ledger-import-mapped');

    const downloading = p.waitForEvent('download');
    await dialog.getByRole('button', { name: '下载报告（Excel）' }).click();
    const saved = await (await downloading).path();
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(saved!);
    expect(String(book.getWorksheet('汇总')!.getCell('A1').value)).toBe('可导入 17 行，需确认 0 个乡镇名称，3 行有错误');

    await dialog.getByRole('button', { name: /仅导入正确的 17 行/ }).click();
    await dialog.getByText(/导入完成：新增 17，更新 0，无变化 0，新建村（社区）\d+ 个，新建本地乡镇 1 个，跳过有问题的 3 行/).waitFor();
    await shot(p, 'ledger-import-done');
    const groups = await GroupModel.find({ regionPath: '410527' }).lean();
    expect(groups).toHaveLength(17);
    expect(groups.find((g) => g.name === '东风社区平安群')?.regionPath[4]).toBe(FANYANG);
    expect(groups.find((g) => g.name === '马庄村民声群')?.regionPath[4]).toBe(BOCHENG);
    await p.context().close();
  }, 180_000);

  it('at 390 px the dialogs fit the phone: nothing wider than the screen', async () => {
    await t.request('POST', '/api/regions/seed', t.adminToken, { countyCode: '410527' }); // when run alone
    const { username } = await t.userToken('admin', '410527');
    const p = await page(390, 844);
    await signIn(p, { username, password: `pw-${username}-secret` });
    await p.goto('/regions');
    await p.getByRole('button', { name: '选择本县' }).click();
    const county = p.getByRole('dialog', { name: '选择本县' });
    await county.getByLabel('搜索县区').fill('内黄');
    await county.getByRole('cell', { name: '河南省安阳市内黄县' }).click();
    await shot(p, 'regions-county-phone');
    expect(await county.evaluate((el) => el.scrollWidth <= window.innerWidth + 1)).toBe(true);
    await county.getByRole('button', { name: '取消' }).click();
    await p.goto('/groups');
    await p.getByRole('button', { name: '导入', exact: true }).click();
    const dialog = p.getByRole('dialog', { name: '导入群台账' });
    const file = await ledgerXlsx();
    await dialog.getByLabel('选择导入文件').setInputFiles({ name: '内黄县台账.xlsx', mimeType: 'application/octet-stream', buffer: file });
    await dialog.getByText(/可导入 \d+ 行/).waitFor();
    await shot(p, 'ledger-import-phone');
    expect(await dialog.evaluate((el) => el.getBoundingClientRect().right <= window.innerWidth + 1)).toBe(true);
    await p.context().close();
  }, 120_000);
});


// 我的转发任务 in a real browser (issue 25, screens): the officer's whole history (全部记录) is
// paged on the server by the `before` cursor — 每页 20 条, 下一页 asks for the tasks after the
// page's last one — instead of one `mine=true&limit=500` read that stopped at 500 tasks; the
// open ones (待转发) come from `open=true`. At a station PC and on a 390 px phone.
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { TREE } from '../helpers/regions.js';
import { type ConsoleWorld, choose, consoleShot, fontsReady, seriousViolations, signIn, startConsoleWorld } from './world.js';

const PHONE = '13900000077';
const OFFICER = { username: 'officer-pager', password: 'officer-pager-password-1' };
const TASKS = 27;

describe('the officer tasks history pages on the server', () => {
  let w: ConsoleWorld;
  /** Task ids by their number (1 = the oldest). */
  const ids = new Map<number, string>();

  const target = (i: number, phone: string) => ({
    groupId: `pager-group-${phone}-${i}`,
    groupName: phone === PHONE ? `翻页测试群${i}` : `别人的群${i}`,
    credentials: { kind: 'manual' } as never,
    regionPath: [
      '000000',
      TREE.province.code,
      TREE.city.code,
      TREE.countyA.code,
      TREE.townshipA.code,
      TREE.villageA.code,
    ],
    officer: { name: '翻页民警', phone },
  });
  const message = (i: number) => ({
    type: 'text' as const,
    card: {
      format: 'text' as const,
      title: `防诈骗提醒第${i}期`,
      content: '请转发到群',
      url: 'https://example.cn/n/1',
      pictureUrl: null,
    },
  });

  /** The rows of the history table, first cell (the group) of each. */
  const groupsShown = (page: Page) =>
    page.locator('[aria-label="全部转发记录"] .el-table__body tr td:first-child').allInnerTexts();

  beforeAll(async () => {
    w = await startConsoleWorld();
    const created = await w.t.request('POST', '/api/users', w.t.adminToken, {
      ...OFFICER,
      displayName: '翻页民警',
      role: 'officer',
      regionCode: TREE.townshipA.code,
      phone: PHONE,
    });
    expect(created.statusCode, created.body).toBe(201);
    await w.t.activate(OFFICER.username);
    for (let i = 1; i <= TASKS; i += 1) {
      const task = await w.t.ctx.manualTasks.createTask(target(i, PHONE), message(i));
      ids.set(i, task.id);
      // Another officer's tasks in the same village never show.
      if (i % 9 === 0) await w.t.ctx.manualTasks.createTask(target(i, '13900000078'), message(i));
    }
    // Two confirmed (one on each page).
    for (const i of [3, 25])
      await ManualTaskModel.updateOne({ _id: ids.get(i) }, { $set: { confirmedAt: new Date(), linkGeneration: 1 } });
  });
  afterAll(() => w.close());

  it('at a station PC: 20 tasks a page, 下一页 asks for the tasks after the last one, 上一页 and 每页 50 条', async () => {
    const context = await w.context();
    const page = await context.newPage();
    const asked: URL[] = [];
    page.on('request', (request: Request) => {
      const url = new URL(request.url());
      if (url.pathname === '/api/manual-tasks') asked.push(url);
    });
    await signIn(page, OFFICER);
    await page.goto('/tasks');
    await page.getByRole('tab', { name: `待转发（${TASKS - 2}）` }).waitFor();
    await page.getByRole('tab', { name: '全部记录' }).click();
    const pager = page.getByRole('navigation', { name: '翻页' });
    await pager.getByText('第 1 页（本页 20 条）').waitFor();
    const newestFirst = Array.from({ length: TASKS }, (_, k) => `翻页测试群${TASKS - k}`);
    expect(await groupsShown(page)).toEqual(newestFirst.slice(0, 20));
    const table = page.locator('[aria-label="全部转发记录"] .el-table__body');
    await table.getByRole('row').filter({ hasText: '翻页测试群25' }).getByText('已确认').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await consoleShot(page, 'tasks-history');

    await pager.getByRole('button', { name: '下一页' }).click();
    await pager.getByText('第 2 页（本页 7 条）').waitFor();
    expect(await groupsShown(page)).toEqual(newestFirst.slice(20));
    await table.getByRole('row').filter({ hasText: '翻页测试群3' }).getByText('已确认').waitFor();
    expect(await pager.getByRole('button', { name: '下一页' }).isDisabled()).toBe(true);
    // The second page was asked after the first page's last task (翻页测试群8), 21 at most.
    const history = asked.filter((url) => url.searchParams.get('open') !== 'true');
    expect(history.every((url) => Number(url.searchParams.get('limit')) <= 51)).toBe(true);
    expect(history.at(-1)?.searchParams.get('before')).toBe(ids.get(8));
    // Never the whole history in one read any more.
    expect(
      asked.some((url) => url.searchParams.get('limit') === '500' && url.searchParams.get('open') !== 'true'),
    ).toBe(false);

    await pager.getByRole('button', { name: '上一页' }).click();
    await pager.getByText('第 1 页（本页 20 条）').waitFor();
    expect(await groupsShown(page)).toEqual(newestFirst.slice(0, 20));
    await choose(page, pager.getByLabel('每页'), '50 条');
    await pager.getByText('第 1 页（本页 27 条）').waitFor();
    expect(await groupsShown(page)).toEqual(newestFirst);
    expect(await pager.getByRole('button', { name: '下一页' }).isDisabled()).toBe(true);
    await context.close();
  }, 180_000);

  it('on a 390 px phone: the history as cards with the pager in reach, nothing scrolls sideways', async () => {
    const context = await w.context({ width: 390, height: 844, mobile: true });
    const page = await context.newPage();
    await signIn(page, OFFICER);
    await page.goto('/tasks');
    await page.getByRole('tab', { name: '全部记录' }).click();
    const cards = page.getByRole('list', { name: '全部转发记录' });
    await cards.getByText('翻页测试群27').waitFor();
    expect(await cards.getByRole('listitem').count()).toBe(20);
    const pager = page.getByRole('navigation', { name: '翻页' });
    await pager.getByRole('button', { name: '下一页' }).click();
    await pager.getByText('第 2 页（本页 7 条）').waitFor();
    await cards.getByText('翻页测试群7', { exact: true }).waitFor();
    await fontsReady(page);
    const next = await pager.getByRole('button', { name: '上一页' }).boundingBox();
    expect(next && next.x >= 0 && next.x + next.width <= 390).toBe(true);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await seriousViolations(page)).toEqual([]);
    await consoleShot(page, 'tasks-history-phone', { fullPage: true });
    await context.close();
  }, 180_000);
});

// 群组 and 用户 at the list baseline (issue 21.7): both filter by 创建日期 on the server (the
// shared query form of 通告 and 推送), 群组 sorts by 人数 and 群名称 on the server with keyset
// pages in that order, and on a 390 px phone the 操作 column no longer sits over the names.
import mongoose from 'mongoose';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupModel } from '../../src/audience/model.js';
import { UserModel } from '../../src/auth/model.js';
import { type ConsoleWorld, signIn, startConsoleWorld } from './world.js';

const SHOTS = process.env.CONSOLE_A_SHOTS;

/** Copies of one real document with new ids and the given creation times and fields. */
async function clones(model: typeof GroupModel | typeof UserModel, id: string, rows: { at: Date; fields: object }[]) {
  const source = await (model as typeof GroupModel).findById(id).lean();
  if (!source) throw new Error('source document missing');
  const docs = rows.map(({ at, fields }) => ({
    ...source,
    _id: mongoose.Types.ObjectId.createFromTime(Math.floor(at.getTime() / 1000)),
    createdAt: at,
    updatedAt: at,
    ...fields,
  }));
  // Groups through the model: its write log keeps the county listings the list filters and
  // sorts on (audience/listings) exact, as every service write does; users need no log.
  if (model === GroupModel) await GroupModel.insertMany(docs as never[], { timestamps: false } as never);
  else await (model as typeof UserModel).collection.insertMany(docs as never[]);
}

const row = (page: Page, text: string) => page.locator('.el-table__body-wrapper tr').filter({ hasText: text });
const names = (page: Page) => page.locator('.el-table__body-wrapper tr td:nth-child(2) > .cell > div:first-child').allTextContents();

/** The query form's 创建日期: typed as the picker shows dates, then Enter. */
async function pickRange(page: Page, from: string, to: string) {
  await page.getByPlaceholder('开始日期').fill(from);
  await page.getByPlaceholder('结束日期').fill(to);
  await page.getByPlaceholder('结束日期').press('Enter');
  await page.keyboard.press('Escape');
}

const october = (day: number, i: number) => new Date(Date.UTC(2026, 9, day, 2, 0, i));

describe('群组 and 用户: date range, sorting, phone', { timeout: 180_000 }, () => {
  let w: ConsoleWorld;
  beforeAll(async () => {
    w = await startConsoleWorld();
    const now = Date.now();
    await clones(GroupModel, w.groups[0]!.id, [
      // October: the date range's rows.
      ...[1, 2, 3].map((i) => ({ at: october(15, i), fields: { name: `十月建的群${i}`, memberCount: 40 + i } })),
      // Twenty more, so the 20-a-page list has a second page; the biggest is the newest.
      ...Array.from({ length: 20 }, (_, i) => ({ at: new Date(now + (i + 1) * 1000), fields: { name: `排序群${String(i + 1).padStart(2, '0')}`, memberCount: 60 + i } })),
      { at: new Date(now + 30_000), fields: { name: '金沙洲社区居民平安互助群', memberCount: 9999 } },
    ]);
    await clones(UserModel, w.people.viewer.id, [1, 2].map((i) => ({ at: october(20, i), fields: { username: `shiyue${i}`, displayName: `十月用户${i}` } })));
  }, 180_000);
  afterAll(() => w?.close());

  it('when the admin picks a 创建日期 range on 群组, then only the groups created in it are listed, read on the server', async () => {
    const page = await (await w.context({ width: 1280 })).newPage();
    await signIn(page, w.people.admin);
    await page.goto('/groups');
    await row(page, w.groups[0]!.name).first().waitFor();
    const asked = page.waitForRequest((r) => r.url().includes('/api/groups?') && r.url().includes('from='));
    await pickRange(page, '2026年10月1日', '2026年10月31日');
    await page.getByRole('button', { name: '搜索' }).click();
    const url = new URL((await asked).url());
    expect(url.searchParams.get('from')).toBe('2026-09-30T16:00:00.000Z');
    expect(url.searchParams.get('to')).toBe('2026-10-31T16:00:00.000Z');
    await page.getByText('第 1 页（本页 3 条）').waitFor();
    expect(await names(page)).toEqual(['十月建的群1', '十月建的群2', '十月建的群3']);
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/groups-range-1280.png`, fullPage: true });
  });

  it('when the admin sorts 群组 by 人数, then the biggest group of all pages comes first and 下一页 goes on in that order', async () => {
    const page = await (await w.context({ width: 1280 })).newPage();
    await signIn(page, w.people.admin);
    await page.goto('/groups');
    await row(page, w.groups[0]!.name).first().waitFor();
    expect(await row(page, '金沙洲社区居民平安互助群').count()).toBe(0);
    await page.locator('.el-table__header th').filter({ hasText: '人数' }).click();
    await row(page, '金沙洲社区居民平安互助群').waitFor();
    const first = await names(page);
    expect(first[0]).toBe('金沙洲社区居民平安互助群');
    await page.getByRole('button', { name: '下一页' }).click();
    await page.getByText('第 2 页').waitFor();
    const second = await names(page);
    // Page 2 goes on downwards: the three October groups (41–43) are the smallest of all.
    expect(second.slice(-3)).toEqual(['十月建的群3', '十月建的群2', '十月建的群1']);
    expect(new Set([...first, ...second]).size).toBe(first.length + second.length);
    // 群名称 ascending, from the server.
    const asked = page.waitForRequest((r) => r.url().includes('/api/groups?') && r.url().includes('sort=name'));
    await page.locator('.el-table__header th').filter({ hasText: '群名称' }).click();
    await asked;
    await page.getByText('第 1 页').waitFor();
    const byName = await names(page);
    expect(byName).toEqual([...byName].sort());
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/groups-sorted-1280.png`, fullPage: true });
  });

  it('when the admin picks a 创建日期 range on 用户, then only the users created in it are listed', async () => {
    const page = await (await w.context({ width: 1280 })).newPage();
    await signIn(page, w.people.admin);
    await page.goto('/users');
    await page.getByRole('table').getByText(w.people.editor.username).first().waitFor();
    await pickRange(page, '2026年10月1日', '2026年10月31日');
    await page.getByRole('button', { name: '搜索' }).click();
    await page.getByText('第 1 页（本页 2 条）').waitFor();
    await row(page, 'shiyue1').waitFor();
    await row(page, 'shiyue2').waitFor();
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/users-range-1280.png`, fullPage: true });
  });

  it('when the admin opens 群组 and 用户 on a 390 px phone, then no 操作 column covers the names', async () => {
    const context = await w.context({ width: 390, height: 844, mobile: true });
    const page = await context.newPage();
    await signIn(page, w.people.admin);
    for (const [path, label] of [['/groups', '群列表'], ['/users', '用户列表']] as const) {
      await page.goto(path);
      const table = page.getByRole('table', { name: label }).or(page.getByLabel(label)).first();
      await table.waitFor();
      await page.locator('.el-table__body-wrapper tr').first().waitFor();
      // Every point across each name's text is the name itself, not a cell laid over it.
      const covered = await page.evaluate(() => {
        const out: string[] = [];
        const rows = document.querySelectorAll('.el-table__body-wrapper tbody tr');
        for (const tr of Array.from(rows).slice(0, 5)) {
          const cell = tr.querySelector('td:not(.el-table-column--selection)') as HTMLElement | null;
          const text = cell?.querySelector('.cell') as HTMLElement | null;
          if (!cell || !text) continue;
          const range = document.createRange();
          range.selectNodeContents(text);
          const box = range.getBoundingClientRect();
          for (const f of [0.1, 0.5, 0.9]) {
            const x = box.left + box.width * f;
            const y = box.top + Math.min(box.height, 20) / 2;
            if (x > window.innerWidth) continue;
            const hit = document.elementFromPoint(x, y);
            if (hit && !cell.contains(hit)) out.push(`${text.textContent?.trim()} @${Math.round(x)}`);
          }
        }
        return out;
      });
      expect(covered, `${path}: names under another cell`).toEqual([]);
      const sideways = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(sideways, `${path} scrolls sideways`).toBeLessThanOrEqual(0);
      if (SHOTS) await page.screenshot({ path: `${SHOTS}${path}-390.png`, fullPage: true });
    }
  });
});

// 群组 and 用户 page on the server past the 500th row (the groups screen used to load 200 rows
// at a time and filter the officer in the page, the users screen loaded the scope's list
// capped at 5,000), and the batch actions ask first, stating their effect, then act on the
// picked rows only: 批量停用 and 改负责民警 on groups, 批量通过 in the review queue.
import mongoose from 'mongoose';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupModel } from '../../src/audience/model.js';
import { UserModel } from '../../src/auth/model.js';
import { noticeBody } from '../helpers/notices.js';
import { type ConsoleWorld, type SignedIn, choose, signIn, startConsoleWorld } from './world.js';

const MANY = 521;
const pad = (i: number) => String(i).padStart(4, '0');

/** Copies of one real document with new ids, a second apart after now (the newest is number MANY). */
async function cloneMany(model: typeof GroupModel | typeof UserModel, id: string, fields: (i: number) => object) {
  const source = await (model as typeof GroupModel).findById(id).lean();
  if (!source) throw new Error('source document missing');
  const docs = [];
  for (let i = 1; i <= MANY; i++) {
    const at = new Date(Date.now() + i * 1000);
    docs.push({ ...source, _id: mongoose.Types.ObjectId.createFromTime(at.getTime() / 1000), createdAt: at, updatedAt: at, ...fields(i) });
  }
  // Through the model: its insertMany is how an import writes groups, and it reaches the
  // audience's change log (the groups list reads its per-county listings from it).
  await (model as typeof GroupModel).insertMany(docs as never[]);
}

/** 50 a page, then 下一页 until there is none: the number of the last page. */
async function pageToTheEnd(page: Page): Promise<number> {
  await choose(page, '每页', '50 条');
  await page.getByText('第 1 页（本页 50 条）').waitFor();
  let n = 1;
  while (!(await page.getByRole('button', { name: '下一页' }).isDisabled())) {
    await page.getByRole('button', { name: '下一页' }).click();
    n += 1;
    await page.getByText(`第 ${n} 页`).waitFor();
  }
  return n;
}

const row = (page: Page, text: string) => page.locator('.el-table__body tr').filter({ hasText: text });

describe('console lists past 500 rows and batch actions', { timeout: 180_000 }, () => {
  let w: ConsoleWorld;
  /**
   * The admin's signed-in storage after the first sign-in through the form: the next tests open
   * their page signed in from it (a test run alone signs in itself). Signing in is not what
   * they check, and nothing here signs the admin out.
   */
  let adminSession: SignedIn | undefined;
  const adminPage = async () => {
    const context = await w.context(adminSession ? { signedIn: adminSession } : {});
    const page = await context.newPage();
    if (!adminSession) {
      await signIn(page, w.people.admin);
      adminSession = await context.storageState();
    }
    return page;
  };
  beforeAll(async () => {
    // Nothing here is sent: the worker looks for due work as the service's does, every 500 ms.
    w = await startConsoleWorld({ workerPollMs: 500 });
    await cloneMany(GroupModel, w.groups[0]!.id, (i) => ({ name: `批量群${pad(i)}`, officerName: i === MANY ? '孙警官' : '张警官' }));
    await cloneMany(UserModel, w.people.viewer.id, (i) => ({ username: `piliang${pad(i)}`, displayName: `批量用户${pad(i)}` }));
  }, 180_000);
  afterAll(() => w?.close());

  it('when the admin pages the groups past the 500th row, then the newest group is on the last page, and the officer filter is the API\'s', async () => {
    const page = await adminPage();
    await page.goto('/groups');
    await row(page, w.groups[0]!.name).first().waitFor();
    const last = await pageToTheEnd(page);
    expect(last).toBeGreaterThanOrEqual(11);
    await row(page, `批量群${pad(MANY)}`).waitFor();
    // The only 孙警官 group is the newest clone: the filter finds it on the first page.
    await page.getByLabel('民警', { exact: true }).fill('孙警官');
    await page.getByRole('button', { name: '搜索' }).click();
    await page.getByText('第 1 页（本页 1 条）').waitFor();
    await row(page, `批量群${pad(MANY)}`).waitFor();
    await page.context().close();
  });

  it('when the admin pages the users past the 500th row, then the newest user is on the last page', async () => {
    const page = await adminPage();
    await page.goto('/users');
    await page.getByRole('table').getByText(w.people.editor.username).first().waitFor();
    expect(await pageToTheEnd(page)).toBeGreaterThanOrEqual(11);
    await row(page, `piliang${pad(MANY)}`).waitFor();
    await page.getByLabel('搜索').fill('piliang0007');
    await page.getByRole('button', { name: '搜索' }).click();
    await page.getByText('第 1 页（本页 1 条）').waitFor();
    await page.context().close();
  });

  it('when the admin deactivates two picked groups, then the confirmation names them and only they stop', async () => {
    const page = await adminPage();
    await page.goto('/groups');
    const [a, b, c] = [w.groups[0]!, w.groups[1]!, w.groups[2]!];
    await row(page, a.name).first().waitFor();
    await row(page, a.name).first().locator('.el-checkbox').click();
    await row(page, b.name).first().locator('.el-checkbox').click();
    await page.getByText('已选 2 个群').waitFor();
    await page.getByRole('button', { name: '批量停用' }).click();
    const dialog = page.getByRole('dialog', { name: '停用 2 个群？' });
    await expect.poll(() => dialog.textContent()).toContain(`将停用「${a.name}」「${b.name}」`);
    expect(await dialog.textContent()).toContain('不再向这些群发送任何推送');
    await dialog.getByRole('button', { name: '停用 2 个群' }).click();
    await page.getByText('已完成 2 个群').waitFor();
    const active = async (id: string) => (await w.t.request('GET', `/api/groups/${id}`, w.t.adminToken)).json().active;
    expect([await active(a.id), await active(b.id), await active(c.id)]).toEqual([false, false, true]);

    // 改负责民警: the dialog says what changes before anything is sent. The success message
    // shows before the list reloads, and the reload clears the picks: pick after it.
    await page.getByText('已选 0 个群').waitFor();
    await page.locator('[aria-label="群列表"][aria-busy="false"]').waitFor();
    await row(page, c.name).first().locator('.el-checkbox').click();
    await page.getByText('已选 1 个群').waitFor();
    await page.getByRole('button', { name: '改负责民警' }).click();
    await page.getByLabel('负责民警', { exact: true }).fill('钱警官');
    await page.getByLabel('民警电话', { exact: true }).fill('13900000077');
    await expect.poll(() => page.getByTestId('batch-effect').textContent()).toContain(`将把「${c.name}」的负责民警改为“钱警官”`);
    await page.getByRole('button', { name: '确认修改 1 个群' }).click();
    await page.getByText('已完成 1 个群').waitFor();
    const group = (await w.t.request('GET', `/api/groups/${c.id}`, w.t.adminToken)).json();
    expect(group.officer).toEqual({ name: '钱警官', phone: '13900000077' });
    await page.context().close();
  });

  it('when a reviewer approves the picked notices at once, then the confirmation names them and says nothing is sent', async () => {
    const editor = w.people.editor.token;
    const titles = ['批量审核甲', '批量审核乙'];
    for (const title of titles) {
      const created = await w.t.request('POST', '/api/notices', editor, noticeBody({ title }));
      expect((await w.t.request('POST', `/api/notices/${created.json().id}/submit`, editor)).statusCode).toBe(200);
    }
    const page = await (await w.context()).newPage();
    await signIn(page, w.people.reviewer);
    await page.goto('/reviews');
    await page.getByRole('heading', { name: titles[1] }).waitFor();
    await page.getByText('全选').click();
    await page.getByRole('button', { name: '批量通过' }).click();
    const dialog = page.getByRole('dialog', { name: /批量通过 \d+ 条通告？/ });
    await dialog.waitFor();
    const text = (await dialog.textContent()) ?? '';
    for (const title of titles) expect(text).toContain(`「${title}」`);
    expect(text).toContain('不会向任何群发送');
    await dialog.getByRole('button', { name: /通过 \d+ 条/ }).click();
    await page.getByText(/已通过 \d+ 条通告/).waitFor();
    const list = (await w.t.request('GET', '/api/notices?status=approved&limit=100', editor)).json() as { title: string }[];
    for (const title of titles) expect(list.map((n) => n.title)).toContain(title);
    await page.context().close();
  });
});

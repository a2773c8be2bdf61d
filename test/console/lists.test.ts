// Lists page on the server: rows past the 500th are reachable (the notice and campaign lists
// used to load 200 / 500 rows and slice them in the page, so older rows silently vanished),
// filters and sort are the API's, a withdrawn notice shows 已撤回, campaigns show 进度 and
// 触达 and can be copied, and the lists export .xlsx with Chinese names.
import ExcelJS from 'exceljs';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL, afterWrite, beforeWrite } from '../../src/campaigns/list-index.js';
import { CampaignModel } from '../../src/campaigns/model.js';
import { NoticeModel } from '../../src/notices/model.js';
import { noticeBody } from '../helpers/notices.js';
import { TREE } from '../helpers/regions.js';
import { type ConsoleWorld, choose, signIn, startConsoleWorld } from './world.js';

const MANY = 521;

/** Copies of one real document with new ids, one a minute apart going back (the oldest is number 1). */
async function cloneMany(model: typeof NoticeModel | typeof CampaignModel, id: string, title: (i: number) => object) {
  const source = await (model as typeof NoticeModel).findById(id).lean();
  if (!source) throw new Error('source document missing');
  const start = Date.now() - MANY * 60_000;
  const docs = [];
  for (let i = 1; i <= MANY; i++) {
    const at = new Date(start + i * 60_000);
    docs.push({ ...source, _id: mongoose.Types.ObjectId.createFromTime(at.getTime() / 1000), createdAt: at, updatedAt: at, ...title(i) });
  }
  // Campaigns are written as the app's writers write them (list-index.ts): an intent, the
  // insert, a record naming the write; the scheduler's tick may have built its index already.
  const campaigns = model === (CampaignModel as unknown);
  if (campaigns) await beforeWrite(ALL);
  await (model as typeof NoticeModel).collection.insertMany(docs as never[]);
  if (campaigns) await afterWrite(ALL);
}

describe('console lists', { timeout: 120_000 }, () => {
  let w: ConsoleWorld;
  let noticeId: string;
  beforeAll(async () => {
    w = await startConsoleWorld();
    const editor = w.people.editor.token;
    const created = await w.t.request('POST', '/api/notices', editor, noticeBody({ title: '模板通告' }));
    expect(created.statusCode, created.body).toBe(201);
    noticeId = created.json().id;
    expect((await w.t.request('POST', `/api/notices/${noticeId}/submit`, editor)).statusCode).toBe(200);
    const approved = await w.t.request('POST', `/api/notices/${noticeId}/approve`, w.people.reviewer.token, {});
    expect(approved.statusCode, approved.body).toBe(200);
    const pad = (i: number) => String(i).padStart(4, '0');
    await cloneMany(NoticeModel, noticeId, (i) => ({
      content: { ...created.json().content, title: `批量通告${pad(i)}` },
      status: 'draft',
      approvedVersion: null,
    }));
    const campaign = await w.t.request('POST', '/api/campaigns', editor, {
      title: '模板推送',
      noticeId,
      audience: { regions: [TREE.villageA.code] },
      schedule: { kind: 'now' },
    });
    expect(campaign.statusCode, campaign.body).toBe(201);
    await cloneMany(CampaignModel, campaign.json().id, (i) => ({ title: `批量推送${pad(i)}` }));
  }, 180_000);
  afterAll(() => w?.close());

  it('when an editor pages the notices past the 500th row, then the oldest notice is on the last page', async () => {
    const context = await w.context();
    const page = await context.newPage();
    await signIn(page, w.people.editor);
    await page.goto('/notices');
    await page.getByRole('link', { name: '模板通告' }).waitFor();
    await choose(page, '每页', '50 条');
    await page.getByText('第 1 页（本页 50 条）').waitFor();
    for (let n = 2; n <= 11; n++) {
      await page.getByRole('button', { name: '下一页' }).click();
      await page.getByText(`第 ${n} 页`).waitFor();
    }
    // 522 notices: 10 pages of 50, then 22 with the oldest clone last.
    await page.getByText('第 11 页（本页 22 条）').waitFor();
    await page.getByRole('link', { name: '批量通告0001' }).waitFor();
    expect(await page.getByRole('button', { name: '下一页' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: '上一页' }).click();
    await page.getByRole('link', { name: '批量通告0051' }).waitFor();
    // Oldest first, by the time column: the first page starts with the oldest.
    await page.getByRole('columnheader', { name: '创建时间' }).click();
    await page.getByText('第 1 页').waitFor();
    await expect.poll(() => page.locator('.el-table__row').first().textContent(), { timeout: 20_000 }).toContain('批量通告0001');
    // A title search is the API's, across all rows.
    await page.getByLabel('标题').fill('通告0007');
    await page.getByRole('button', { name: '搜索' }).click();
    await page.getByText('第 1 页（本页 1 条）').waitFor();
    await context.close();
  });

  it('when a notice was withdrawn, then the list shows 已撤回, not 已通过', async () => {
    await NoticeModel.updateOne(
      { 'content.title': '批量通告0521' },
      { $set: { status: 'approved', approvedVersion: 1, retractedAt: new Date() } },
    );
    const context = await w.context();
    const page = await context.newPage();
    await signIn(page, w.people.editor);
    await page.goto('/notices');
    const row = page.locator('.el-table__row', { hasText: '批量通告0521' });
    await row.getByText('已撤回').waitFor();
    expect(await row.getByText('已通过').count()).toBe(0);
    await context.close();
  });

  it('when a reviewer pages the campaigns past the 500th, exports them and copies one, then every row is there', async () => {
    const context = await w.context();
    const page = await context.newPage();
    await signIn(page, w.people.editor);
    await page.goto('/campaigns');
    await page.getByRole('columnheader', { name: '进度' }).waitFor();
    await page.getByRole('columnheader', { name: '触达（受教育人次）' }).waitFor();
    await page.getByRole('columnheader', { name: '创建时间' }).click();
    await expect.poll(() => page.locator('.el-table__row').first().textContent(), { timeout: 20_000 }).toContain('批量推送0001');
    await page.getByLabel('名称').fill('推送0513');
    await page.getByRole('button', { name: '搜索' }).click();
    await page.getByText('第 1 页（本页 1 条）').waitFor();
    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: '导出 Excel' }).click();
    const file = await downloading;
    expect(file.suggestedFilename()).toMatch(/^推送列表-\d{4}-\d{2}-\d{2}\.xlsx$/);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile((await file.path()) as string);
    const sheet = book.worksheets[0] as ExcelJS.Worksheet;
    expect(sheet.getRow(1).values).toContain('名称');
    expect(sheet.rowCount).toBe(2);
    expect(String(sheet.getRow(2).getCell(1).value)).toBe('批量推送0513');
    // The whole list exports, past any page.
    const all = await w.t.request('GET', '/api/campaigns/export', w.people.editor.token);
    const whole = new ExcelJS.Workbook();
    await whole.xlsx.load(all.rawPayload as unknown as ArrayBuffer);
    expect(whole.worksheets[0]?.rowCount).toBe(MANY + 2);
    // 复制: the wizard starts from the campaign's choices.
    await page.getByRole('row', { name: /批量推送0513/ }).getByRole('button', { name: '复制' }).click();
    await page.waitForFunction(() => (document.querySelector('#w-title') as HTMLInputElement | null)?.value === '批量推送0513（副本）');
    await context.close();
  });
});

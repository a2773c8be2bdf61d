// 协查通告's 办案民警 (issue 21, "tried end to end"): the wanted form had no field for the case
// officer, so a resident's tip notified nobody (the audit log said skipped). The form now picks
// an officer of the author's scope by name (GET /api/officers) and saves it as the notice's
// contactUserId; a second officer of another county is not offered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WANTED, noticeBody } from '../helpers/notices.js';
import { TREE } from '../helpers/regions.js';
import { type ConsoleWorld, choose, signIn, startConsoleWorld } from './world.js';

const inDays = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);

describe('console: 办案民警 on a wanted notice', { timeout: 150_000 }, () => {
  let w: ConsoleWorld;
  beforeAll(async () => {
    w = await startConsoleWorld();
  }, 150_000);
  afterAll(() => w?.close());

  it('when an editor picks 办案民警 by name and saves, then the notice names that officer as its contact, and officers of other counties are not offered', async () => {
    const officer = await w.t.userToken('officer', TREE.townshipA.code);
    await w.t.request('PATCH', `/api/users/${officer.id}`, w.t.adminToken, { displayName: '办案民警孙' });
    const outside = await w.t.userToken('officer', TREE.countyB.code);
    await w.t.request('PATCH', `/api/users/${outside.id}`, w.t.adminToken, { displayName: '外县民警钱' });
    const created = await w.t.request(
      'POST',
      '/api/notices',
      w.people.editor.token,
      noticeBody({
        category: 'wanted_clue',
        title: '征集电动车盗窃案线索',
        regionCode: TREE.countyA.code,
        wanted: { ...WANTED, deadline: inDays(10) },
      }),
    );
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;

    const page = await (await w.context()).newPage();
    await signIn(page, w.people.editor);
    await page.goto(`/notices/${id}`);
    await page.getByLabel('办案民警').click();
    await page.getByRole('option', { name: /办案民警孙/ }).waitFor();
    expect(await page.getByRole('option', { name: /外县民警钱/ }).count()).toBe(0);
    await choose(page, '办案民警', /办案民警孙/);
    await page.getByRole('button', { name: '保存', exact: true }).click();
    await expect
      .poll(
        async () =>
          (await w.t.request('GET', `/api/notices/${id}`, w.people.editor.token)).json().content.wanted.contactUserId,
      )
      .toBe(officer.id);
    // Opened again, the field names the officer, not an id.
    await page.reload();
    await expect
      .poll(() => page.locator('#w-officer').evaluate((el) => el.closest('.el-select')?.textContent ?? ''))
      .toContain('办案民警孙');
    await page.context().close();
  });
});

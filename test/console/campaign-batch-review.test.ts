// 审核 批量通过 / 批量驳回 for campaigns (issue 21, Build 7): the reviewer picks several
// campaigns in the review queue and decides them together. Approving first says what happens —
// which campaigns send at once and to how many groups — and asks, like the single approval;
// rejecting asks one reason. Each campaign goes through the same lifecycle check and claim as a
// single approval (POST /api/campaigns/review-batch), and the answer is read per campaign: one
// approved by someone else meanwhile is reported by name with the reason, the rest go through.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConsoleWorld,
  type Person,
  consoleShot,
  seriousViolations,
  signIn,
  startConsoleWorld,
} from './world.js';

// With CONSOLE_SCREENSHOTS set, the screens checked here are written to docs/console/.
const shot = (page: Page, name: string) => consoleShot(page, name);

const AUDIENCE_NONE = { regions: [], tags: [], groups: [], excludeRegions: [], excludeTags: [], excludeGroups: [] };

async function api<T = Record<string, unknown>>(
  w: ConsoleWorld,
  method: 'GET' | 'POST',
  url: string,
  token: string,
  body?: unknown,
): Promise<T> {
  const response = await w.t.request(method, url, token, body);
  if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
  return response.json() as T;
}

async function pageAs(w: ConsoleWorld, who: Pick<Person, 'username' | 'password'>, mobile = false): Promise<Page> {
  const context = await w.context(mobile ? { width: 390, height: 844, mobile: true } : {});
  const page = await context.newPage();
  await signIn(page, who);
  return page;
}

describe('console: campaigns decided together in the review queue', { timeout: 150_000 }, () => {
  let w: ConsoleWorld;
  let noticeId: string;
  /** A campaign by the editor, submitted for review. */
  async function inReview(title: string, groups: string[], schedule: object = { kind: 'now' }): Promise<string> {
    const { id } = await api<{ id: string }>(w, 'POST', '/api/campaigns', w.people.editor.token, {
      title,
      noticeId,
      audience: { ...AUDIENCE_NONE, groups },
      schedule,
    });
    await api(w, 'POST', `/api/campaigns/${id}/submit`, w.people.editor.token);
    return id;
  }
  const status = async (id: string) =>
    await api<{ status: string; reviewNote: string | null }>(w, 'GET', `/api/campaigns/${id}`, w.people.admin.token);

  beforeAll(async () => {
    w = await startConsoleWorld();
    const notice = await api<{ id: string }>(w, 'POST', '/api/notices', w.people.editor.token, {
      category: 'anti_fraud',
      title: '批量审核用的防诈通告',
      body: '接到自称公检法的电话，请挂断后拨打 110 核实。',
      issuingUnit: '天河区公安分局',
    });
    noticeId = notice.id;
    await api(w, 'POST', `/api/notices/${noticeId}/submit`, w.people.editor.token);
    await api(w, 'POST', `/api/notices/${noticeId}/approve`, w.people.reviewer.token, {});
  }, 150_000);
  afterAll(() => w?.close());

  it('when a reviewer approves picked campaigns together, then the confirmation says which send at once to how many groups, and the answer names the one already decided', async () => {
    const [g1, g2, g3] = w.groups;
    const now1 = await inReview('批量立即推送甲', [g1!.id, g2!.id]);
    const now2 = await inReview('批量立即推送乙', [g3!.id]);
    const later = await inReview('批量定时推送丙', [g1!.id], {
      kind: 'once',
      at: new Date(Date.now() + 3 * 86_400_000).toISOString(),
    });
    const taken = await inReview('已被他人审核的推送', [g2!.id], {
      kind: 'once',
      at: new Date(Date.now() + 3 * 86_400_000).toISOString(),
    });

    const page = await pageAs(w, w.people.reviewer);
    await page.goto('/reviews');
    await page.getByRole('tab', { name: /推送（\d+）/ }).click();
    const pane = page.getByRole('tabpanel', { name: /推送/ });
    await pane.getByRole('heading', { name: '已被他人审核的推送' }).waitFor();
    // Someone else approves one while this reviewer reads: the batch must not decide it twice.
    await api(w, 'POST', `/api/campaigns/${taken}/approve`, w.people.admin.token);

    await pane.getByText('全选').click();
    await pane.getByText('已选 4 个推送').waitFor();
    await pane.getByRole('button', { name: '批量通过' }).click();
    const dialog = page.getByRole('dialog', { name: '批量通过 4 个推送？' });
    await dialog.waitFor();
    const text = (await dialog.textContent()) ?? '';
    expect(text).toContain('其中 2 个通过后立即发送');
    expect(text).toContain('「批量立即推送甲」到 2 个群');
    expect(text).toContain('「批量立即推送乙」到 1 个群');
    expect(text).toContain('共 3 个群次');
    expect(text).toContain('2 个按计划发送');
    expect(text).toContain('消息发出后不能收回');
    expect(await seriousViolations(page)).toEqual([]);
    await shot(page, 'review-campaign-batch');

    // 再看看 decides nothing.
    await dialog.getByRole('button', { name: '再看看' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await status(now1)).status).toBe('in_review');

    await pane.getByRole('button', { name: '批量通过' }).click();
    await dialog.getByRole('button', { name: '通过 4 个，其中 2 个立即发送' }).click();
    const result = page.getByRole('dialog', { name: '批量通过结果' });
    await result.waitFor();
    const answer = (await result.textContent()) ?? '';
    expect(answer).toContain('已通过 3 个');
    expect(answer).toContain('「已被他人审核的推送」推送当前为“已通过”，不能审核');
    await result.getByRole('button', { name: '知道了' }).click();

    expect((await status(later)).status).toBe('approved');
    expect((await status(taken)).status).toBe('approved');
    // The two sent at once go out through the engine, as a single approval's would.
    await expect
      .poll(
        async () =>
          (await api<{ sent: number }>(w, 'GET', `/api/campaigns/${now1}/progress`, w.people.editor.token)).sent,
        { timeout: 60_000 },
      )
      .toBe(2);
    await expect
      .poll(
        async () =>
          (await api<{ sent: number }>(w, 'GET', `/api/campaigns/${now2}/progress`, w.people.editor.token)).sent,
        { timeout: 60_000 },
      )
      .toBe(1);
    // The queue is empty of them now.
    await pane.getByText('没有待审核的推送').waitFor();
    await page.context().close();
  });

  it('when a reviewer on a phone rejects picked campaigns together, then one reason is asked first and each goes back to draft with it', async () => {
    const a = await inReview('批量驳回推送甲', [w.groups[0]!.id]);
    const b = await inReview('批量驳回推送乙', [w.groups[1]!.id]);
    const page = await pageAs(w, w.people.reviewer, true);
    await page.goto('/reviews');
    await page.getByRole('tab', { name: /推送（\d+）/ }).click();
    const pane = page.getByRole('tabpanel', { name: /推送/ });
    await pane.getByRole('heading', { name: '批量驳回推送乙' }).waitFor();
    // The box a finger taps (Element Plus hides the input itself), named for its campaign.
    for (const title of ['批量驳回推送甲', '批量驳回推送乙']) {
      await pane
        .getByRole('article', { name: `待审核推送：${title}` })
        .locator('.el-checkbox')
        .click();
      expect(await pane.getByRole('checkbox', { name: `选择：${title}` }).isChecked()).toBe(true);
    }
    await pane.getByText('已选 2 个推送').waitFor();
    await pane.getByRole('button', { name: '批量驳回' }).click();
    const dialog = page.getByRole('dialog', { name: '驳回：2 个推送' });
    await dialog.waitFor();
    const effect = (await dialog.textContent()) ?? '';
    for (const words of ['将驳回 2 个推送', '「批量驳回推送甲」', '「批量驳回推送乙」', '不会发送'])
      expect(effect).toContain(words);
    // No reason, no rejection.
    await dialog.getByRole('button', { name: '确认驳回' }).click();
    await dialog.getByText('请填写驳回理由').waitFor();
    expect((await status(a)).status).toBe('in_review');
    await dialog.getByLabel('驳回理由').fill('请把发送时间改到周一上午');
    await shot(page, 'review-campaign-batch-reject-phone');
    await dialog.getByRole('button', { name: '确认驳回' }).click();
    await page.getByText('已驳回 2 个推送').waitFor();
    for (const id of [a, b])
      expect(await status(id)).toMatchObject({ status: 'draft', reviewNote: '请把发送时间改到周一上午' });
    // The phone's page does not scroll sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.context().close();
  });
});

// The whole path of a campaign in the browser, and the scenarios around it (issue 10).
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TREE } from '../helpers/regions.js';
import { pngBytes } from '../helpers/channels.js';
import {
  type ConsoleWorld,
  type Person,
  choose,
  fontsReady,
  seriousViolations,
  signIn,
  startConsoleWorld,
} from './world.js';

const TITLE = '警惕冒充公检法诈骗（浏览器测试）';

async function pageAs(w: ConsoleWorld, who: Person): Promise<Page> {
  const context = await w.context();
  const page = await context.newPage();
  await signIn(page, who);
  return page;
}

async function noAxeFaults(page: Page, screen: string) {
  await fontsReady(page);
  expect(await seriousViolations(page), screen).toEqual([]);
}

describe('console: a campaign from notice to 100 %', { timeout: 120_000 }, () => {
  let w: ConsoleWorld;
  let editor: Page;
  let reviewer: Page;
  let noticeId = '';
  let campaignId = '';
  let failed = false;

  beforeAll(async () => {
    w = await startConsoleWorld();
    editor = await pageAs(w, w.people.editor);
    reviewer = await pageAs(w, w.people.reviewer);
  }, 180_000);
  afterAll(() => w?.close());
  afterEach(async (context) => {
    // The first failure's pages: the later tests build on the earlier ones and fail after it.
    if (context.task.result?.state === 'fail' && !failed) {
      failed = true;
      await editor.screenshot({ path: '/tmp/jx-fail-editor.png', fullPage: true }).catch(() => undefined);
      await reviewer.screenshot({ path: '/tmp/jx-fail-reviewer.png', fullPage: true }).catch(() => undefined);
    }
  });

  it('the editor writes a notice with a picture, sees the live previews, and submits it', async () => {
    await editor.getByRole('button', { name: '新增通告' }).click();
    await editor.waitForURL('**/notices/new');
    // A refused save shows the API's message on its field and keeps what was typed.
    await editor.getByLabel('正文').fill('公检法机关不会通过电话办案，更没有“安全账户”。');
    await editor.getByRole('button', { name: '保存' }).click();
    await editor.getByText('至少 1 个字符（不能为空）', { exact: true }).waitFor();
    expect(await editor.getByLabel('正文').inputValue()).toContain('安全账户');

    await editor.getByLabel('标题').fill(TITLE);
    await editor.getByLabel('发布单位').fill('天河区公安分局');
    await editor
      .locator('input[type=file]')
      .setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: await pngBytes(320, 200) });
    await editor.getByAltText('已上传的图片').waitFor();
    // Live previews: every channel's text card with its byte count, and the image card.
    const wecom = editor.getByRole('article', { name: '企业微信文字卡片', exact: true });
    await wecom.getByText(TITLE).first().waitFor();
    for (const channel of ['钉钉', '飞书', '自建平台', '人工转发']) {
      await editor.getByRole('tab', { name: channel, exact: true }).click();
      await editor.getByRole('article', { name: `${channel}文字卡片`, exact: true }).waitFor();
    }
    await editor.getByRole('tab', { name: '企业微信', exact: true }).click();
    expect(await editor.getByTestId('length-wecom').textContent()).toMatch(/\d+ 字 \/ 上限约 1365 字/);
    await editor.getByAltText('图片卡片预览（通用）').waitFor();
    await choose(editor, '个性化村/社区', TREE.villageA.name);
    await editor.getByAltText('图片卡片预览（个性化）').waitFor();
    await noAxeFaults(editor, 'notice form');

    // A 20,000-character paste: the form keeps answering and the preview says it was cut.
    await editor.getByLabel('正文').fill('防'.repeat(20_000));
    await editor.getByLabel('摘要').fill('不转账、不透露验证码');
    expect(await editor.getByLabel('摘要').inputValue()).toBe('不转账、不透露验证码');
    await wecom.getByText('已截断，附“详情”链接').waitFor();
    await editor.getByLabel('正文').fill('公检法机关不会通过电话办案，更没有“安全账户”。\n\n- 不转账\n- 不透露验证码');

    await editor.getByRole('button', { name: '提交审核' }).click();
    await editor.getByText('待审核 · 第 1 版').waitFor();
    noticeId = new URL(editor.url()).pathname.split('/').pop()!;
    const saved = (await w.t.request('GET', `/api/notices/${noticeId}`, w.people.editor.token)).json();
    expect(saved).toMatchObject({ status: 'in_review', content: { title: TITLE } });
    expect(saved.content.media).toHaveLength(1);
  });

  it('the reviewer approves it; a double click makes one request', async () => {
    await reviewer.goto('/reviews');
    const item = reviewer.getByRole('article', { name: `待审核通告：${TITLE}` });
    await item.getByAltText('图片卡片预览').waitFor();
    await noAxeFaults(reviewer, 'reviews');
    const approvals: string[] = [];
    reviewer.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith(`/api/notices/${noticeId}/approve`)) approvals.push(r.url());
    });
    await item.getByRole('button', { name: '通过' }).dblclick();
    await reviewer.getByText('已通过').first().waitFor();
    await reviewer.getByText('没有待审核的通告').waitFor();
    expect(approvals).toHaveLength(1);
  });

  it('the editor builds the campaign on the region tree, with totals equal to the API’s, tests it, and submits', async () => {
    // Test sends go only to groups an admin marked 试发群 (issue 26, finding 7).
    const marked = await w.t.request('PATCH', `/api/groups/${w.groups[0]!.id}`, w.t.adminToken, { forTests: true });
    expect(marked.statusCode, marked.body).toBe(200);
    await editor.goto('/campaigns/new');
    await choose(editor, '已通过的通告', new RegExp(TITLE.replace(/[()（）]/g, '.')));
    expect(await editor.getByLabel('推送名称').inputValue()).toBe(TITLE);
    // The tree loads level by level: open the county, then check one township.
    await editor
      .getByRole('treeitem', { name: TREE.countyA.name })
      .locator('.el-tree-node__expand-icon')
      .first()
      .click();
    const township = editor.getByRole('treeitem', { name: TREE.townshipA.name });
    await township.waitFor();
    await township.locator('.el-checkbox').first().click();
    // …and one village found by search.
    await editor.getByLabel('搜索区划').fill('石牌村');
    await editor.getByRole('checkbox', { name: /石牌村/ }).check();
    const spec = { regions: [TREE.townshipA.code, '440106002001'] };
    const api = (await w.t.request('POST', '/api/audience/preview', w.people.editor.token, spec)).json();
    expect(api.groupCount).toBe(6);
    await editor
      .getByTestId('total-groups')
      .filter({ hasText: String(api.groupCount) })
      .waitFor();
    expect(await editor.getByTestId('total-members').textContent()).toBe(api.memberTotal.toLocaleString('zh-CN'));
    expect(await editor.getByTestId('total-villages').textContent()).toBe(String(api.villageCount));

    // Schedule in words with the next runs, then back to "now".
    await editor.getByRole('radio', { name: '周期' }).check({ force: true });
    await editor.getByText('每周一 09:00').first().waitFor();
    await editor.getByRole('radio', { name: '立即' }).check({ force: true });

    const target = w.groups[0]!;
    const before = w.doubles.received({ platform: 'wecom', robot: target.key }).length;
    await choose(editor, '试发到', new RegExp(target.name));
    await editor.getByRole('button', { name: '试发' }).click();
    // It posts into a real group: the page says so and asks first.
    const asked = editor.getByRole('dialog', { name: '试发到群？' });
    await asked.getByText(`真的发到「${target.name}」`).waitFor();
    expect(w.doubles.received({ platform: 'wecom', robot: target.key }).length).toBe(before);
    await asked.getByRole('button', { name: '试发' }).click();
    await editor.getByText(`已发送到「${target.name}」，请在群里查看`).waitFor();
    expect(w.doubles.received({ platform: 'wecom', robot: target.key }).length).toBe(before + 1);
    await noAxeFaults(editor, 'campaign wizard');

    await editor.getByRole('button', { name: '提交审核' }).click();
    await editor.waitForURL(/\/campaigns\/[0-9a-f]{24}$/);
    campaignId = new URL(editor.url()).pathname.split('/').pop()!;
    await editor.getByTestId('campaign-status').filter({ hasText: '待审核' }).waitFor();
  });

  it('the reviewer approves the campaign and the campaign page reaches 100 % through SSE, with the API’s counts', async () => {
    await reviewer.goto('/reviews');
    await reviewer.getByRole('tab', { name: /推送/ }).click();
    const item = reviewer.getByRole('article', { name: `待审核推送：${TITLE}` });
    await item.getByRole('button', { name: '通过并立即发送' }).click();
    await reviewer.getByRole('dialog', { name: /通过并立即发送/ }).getByRole('button', { name: '通过并立即发送' }).click();
    await reviewer.getByText('没有待审核的推送').waitFor();

    // The first stream connection drops at once: the page reconnects and carries on.
    let streams = 0;
    await editor.route('**/progress/stream', async (route) => {
      streams += 1;
      if (streams === 1) await route.abort('connectionreset');
      else await route.continue();
    });
    await editor.reload();
    await editor.getByTestId('overall-percent').filter({ hasText: '总体完成 100%' }).waitFor({ timeout: 60_000 });
    await editor.getByTestId('stream-state').filter({ hasText: '已全部完成' }).waitFor();
    const progress = (await w.t.request('GET', `/api/campaigns/${campaignId}/progress`, w.people.editor.token)).json();
    expect(progress).toMatchObject({ total: 6, sent: 6, finished: true });
    expect(streams).toBeGreaterThanOrEqual(2);
    await editor.unroute('**/progress/stream');
    const overall = editor.getByRole('progressbar', { name: '总体进度' });
    expect(await overall.getAttribute('aria-valuenow')).toBe('100');
    expect(await editor.getByText(`已发送 ${progress.sent} · 失败 0`).first().isVisible()).toBe(true);
    for (const name of [TREE.townshipA.name, '石牌街道']) {
      await editor.getByRole('progressbar', { name: `${name}进度` }).waitFor();
    }
    await noAxeFaults(editor, 'campaign page');
  });

  it('a retraction mid-run from the campaign page stops what has not gone out', async () => {
    const groups = await w.busyRobotGroups(24, TREE.villageA.code);
    const created = await w.t.request('POST', '/api/campaigns', w.people.editor.token, {
      title: '共用机器人推送',
      noticeId,
      audience: {
        regions: [],
        tags: [],
        groups: groups.map((g) => g.id),
        excludeRegions: [],
        excludeTags: [],
        excludeGroups: [],
      },
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    const id = created.json().id;
    // The follow-up the groups that received it will get: an approved notice of its own.
    const followUp = await w.t.request('POST', '/api/notices', w.people.editor.token, {
      category: 'general',
      title: '此前通告已撤销',
      body: '此前发布的通告已撤销，请以最新通知为准。',
      issuingUnit: '天河区公安分局',
    });
    await w.t.request('POST', `/api/notices/${followUp.json().id}/submit`, w.people.editor.token);
    await w.t.request('POST', `/api/notices/${followUp.json().id}/approve`, w.people.reviewer.token, {});
    await w.t.request('POST', `/api/campaigns/${id}/submit`, w.people.editor.token);
    await w.t.request('POST', `/api/campaigns/${id}/approve`, w.people.reviewer.token);
    await editor.goto(`/campaigns/${id}`);
    // Four robots answer 45009 (retried after 65 s): the run is under way but not done.
    await editor
      .getByText(/已发送 (1\d|20) · /)
      .first()
      .waitFor({ timeout: 60_000 });
    await editor.getByRole('button', { name: '停止并撤回' }).click();
    await editor.getByText('停止后：尚未发出的消息立即停止发送').waitFor();
    await noAxeFaults(editor, 'retract dialog');
    await choose(editor, '更正通知（可稍后再选）', '此前通告已撤销');
    await editor.getByRole('dialog', { name: '停止并撤回' }).getByRole('button', { name: '停止并撤回' }).click();
    // The tag beside the title (the dialog's own text mentions 已撤回 too).
    await editor.getByText('已撤回', { exact: true }).waitFor();
    const campaign = (await w.t.request('GET', `/api/campaigns/${id}`, w.people.editor.token)).json();
    expect(campaign.retractedAt).not.toBeNull();
    const progress = (await w.t.request('GET', `/api/campaigns/${id}/progress`, w.people.editor.token)).json();
    expect(progress.sent).toBeLessThan(24);
  });
});

describe('console: who sees what', { timeout: 60_000 }, () => {
  let w: ConsoleWorld;
  beforeAll(async () => {
    w = await startConsoleWorld();
  }, 180_000);
  afterAll(() => w?.close());

  it('a reviewer cannot approve their own notice: the button is disabled and says why', async () => {
    const admin = w.people.admin;
    const created = await w.t.request('POST', '/api/notices', admin.token, {
      category: 'anti_theft',
      title: '自己写的通告',
      body: '夜间请锁好门窗。',
      issuingUnit: '天河区公安分局',
    });
    await w.t.request('POST', `/api/notices/${created.json().id}/submit`, admin.token);
    const page = await pageAs(w, admin);
    await page.goto('/reviews');
    const item = page.getByRole('article', { name: '待审核通告：自己写的通告' });
    await item.getByText('这是您编写的通告，须由其他审核人员审核').waitFor();
    expect(await item.getByRole('button', { name: '通过' }).isDisabled()).toBe(true);
  });

  it('a viewer sees no compose buttons, no notices and no review screen', async () => {
    const page = await pageAs(w, w.people.viewer);
    // Notices (drafts of wanted notices among them) are not the statistics viewer's: no entry, no screen.
    await page.goto('/campaigns');
    await page.getByRole('columnheader', { name: '名称' }).waitFor();
    expect(await page.getByRole('link', { name: '通告', exact: true }).count()).toBe(0);
    expect(await page.getByRole('link', { name: '审核', exact: true }).count()).toBe(0);
    await page.goto('/notices');
    await page.waitForURL((url) => url.pathname !== '/notices');
    await page.goto('/campaigns');
    await page.getByRole('columnheader', { name: '名称' }).waitFor();
    expect(await page.getByRole('button', { name: '新建推送' }).count()).toBe(0);
    await noAxeFaults(page, 'campaign list');
    await page.goto('/calendar');
    await page.getByRole('radio', { name: '列表' }).check({ force: true });
    await page.getByRole('columnheader', { name: '发送时间' }).waitFor();
    await noAxeFaults(page, 'calendar');
    // The review screen is not theirs: the guard sends them home.
    await page.goto('/reviews');
    await page.waitForURL((url) => url.pathname !== '/reviews');
  });
});

// The console for daily use (issue 21, items 1–5): the workbench of every role, the editor's
// toolbar and previews without markup, the review screen, the month as reported upward, and
// the confirmations before anything reaches residents. One service, one browser.
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TREE } from '../helpers/regions.js';
import {
  type ConsoleWorld,
  type Person,
  SHOTS_DIR,
  choose,
  consoleShot,
  fontsReady,
  seriousViolations,
  signIn,
  startConsoleWorld,
} from './world.js';

// With CONSOLE_SCREENSHOTS set, the screens checked here are written to docs/console/.
const shot = (page: Page, name: string) => consoleShot(page, name, { fullPage: true });

const OFFICER_PHONE = '13900001111';
const UNIT = '天河区公安分局';

async function pageAs(w: ConsoleWorld, who: Pick<Person, 'username' | 'password'>, mobile = false): Promise<Page> {
  const context = await w.context(mobile ? { width: 390, height: 844, mobile: true } : {});
  const page = await context.newPage();
  await signIn(page, who);
  return page;
}

async function api<T = Record<string, unknown>>(
  w: ConsoleWorld,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT',
  url: string,
  token: string,
  body?: unknown,
): Promise<T> {
  const response = await w.t.request(method, url, token, body);
  if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
  return response.json() as T;
}

async function approvedNotice(w: ConsoleWorld, title: string, body = '夜间请锁好门窗。'): Promise<string> {
  const { id } = await api<{ id: string }>(w, 'POST', '/api/notices', w.people.editor.token, {
    category: 'anti_theft',
    title,
    body,
    issuingUnit: UNIT,
  });
  await api(w, 'POST', `/api/notices/${id}/submit`, w.people.editor.token);
  await api(w, 'POST', `/api/notices/${id}/approve`, w.people.reviewer.token, {});
  return id;
}

const AUDIENCE_NONE = { regions: [], tags: [], groups: [], excludeRegions: [], excludeTags: [], excludeGroups: [] };

describe('console for daily use', { timeout: 120_000 }, () => {
  let w: ConsoleWorld;
  let officer: Person;
  const pages: Page[] = [];

  beforeAll(async () => {
    w = await startConsoleWorld();
    const created = await w.t.userToken('officer', TREE.townshipA.code);
    await api(w, 'PATCH', `/api/users/${created.id}`, w.t.adminToken, { phone: OFFICER_PHONE, displayName: '王警官' });
    officer = { ...created, password: `pw-${created.username}-secret` };
  }, 180_000);
  afterAll(() => w?.close());
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') {
      for (const [i, page] of pages.entries()) {
        await page.screenshot({ path: `/tmp/jx-daily-${i}.png`, fullPage: true }).catch(() => undefined);
      }
    }
  });

  it('every role lands on its workbench, whose 待办 counts and navigation badges equal the API’s', async () => {
    // Work that waits: a notice and a campaign in review, and manual forwarding tasks open.
    const { id: pending } = await api<{ id: string }>(w, 'POST', '/api/notices', w.people.editor.token, {
      category: 'anti_fraud',
      title: '待审核的通告',
      body: '不转账，不透露验证码。',
      issuingUnit: UNIT,
    });
    await api(w, 'POST', `/api/notices/${pending}/submit`, w.people.editor.token);
    const manual = await api<{ id: string }>(w, 'POST', '/api/groups', w.t.adminToken, {
      name: '华工社区居民微信群',
      regionCode: TREE.villageA.code,
      channel: { kind: 'manual' },
      memberCount: 320,
      officer: { name: '王警官', phone: OFFICER_PHONE },
    });
    const noticeId = await approvedNotice(w, '人工转发的通告');
    const sent = await api<{ id: string }>(w, 'POST', '/api/campaigns', w.people.editor.token, {
      title: '人工转发的推送',
      noticeId,
      audience: { ...AUDIENCE_NONE, groups: [manual.id] },
      schedule: { kind: 'now' },
    });
    await api(w, 'POST', `/api/campaigns/${sent.id}/submit`, w.people.editor.token);
    await api(w, 'POST', `/api/campaigns/${sent.id}/approve`, w.people.reviewer.token);
    const inReview = await api<{ id: string }>(w, 'POST', '/api/campaigns', w.people.editor.token, {
      title: '待审核的推送',
      noticeId,
      audience: { ...AUDIENCE_NONE, groups: [w.groups[0]!.id] },
      schedule: { kind: 'now' },
    });
    await api(w, 'POST', `/api/campaigns/${inReview.id}/submit`, w.people.editor.token);
    // The run makes the manual task.
    for (let i = 0; i < 200; i++) {
      const progress = await api<{ awaiting: number }>(w, 'GET', `/api/campaigns/${sent.id}/progress`, w.people.editor.token);
      if (progress.awaiting === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const people: [string, Pick<Person, 'username' | 'password' | 'token'>][] = [
      ['admin', w.people.admin],
      ['editor', w.people.editor],
      ['reviewer', w.people.reviewer],
      ['officer', officer],
      ['viewer', w.people.viewer],
    ];
    const tiles: Record<string, string> = {
      noticesInReview: 'todo-notices',
      campaignsInReview: 'todo-campaigns',
      failed: 'todo-failed',
      uncertain: 'todo-uncertain',
      awaitingTasks: 'todo-awaiting',
      myTasks: 'todo-mine',
      casesToHandle: 'todo-cases',
      newTips: 'todo-tips',
    };
    for (const [role, who] of people) {
      const counts = await api<Record<string, number | null>>(w, 'GET', '/api/workbench/counts', who.token);
      const page = await pageAs(w, who);
      pages.push(page);
      expect(new URL(page.url()).pathname, role).toBe('/');
      await page.getByRole('heading', { name: '待办' }).waitFor();
      await page.getByTestId('todo-tips').waitFor();
      for (const [key, testId] of Object.entries(tiles)) {
        const tile = page.getByTestId(testId);
        if (counts[key] === null) expect(await tile.count(), `${role} ${key}`).toBe(0);
        else expect(await tile.locator('.todo-count').textContent(), `${role} ${key}`).toBe(String(counts[key]));
      }
      if (role === 'reviewer') {
        expect(counts).toMatchObject({ noticesInReview: 1, campaignsInReview: 1 });
        await page.getByRole('link', { name: /审核\s*2 件待处理/ }).waitFor();
      }
      if (role === 'officer') {
        expect(counts.myTasks).toBe(1);
        await page.getByRole('link', { name: /我的转发任务\s*1 件待处理/ }).waitFor();
      }
      if (role === 'editor') {
        expect(counts.awaitingTasks).toBe(1);
        await page.getByRole('row', { name: /王警官\s*1 个群/ }).getByRole('link', { name: `电话催办 ${OFFICER_PHONE}` }).waitFor();
      }
      if (role === 'admin') {
        // Groups, robots, accounts and a notice exist in the test county: the first-day steps are done.
        expect((counts as unknown as { setup: { done: boolean }[] }).setup.every((s) => s.done)).toBe(true);
      }
      await fontsReady(page);
      expect(await seriousViolations(page), role).toEqual([]);
      await shot(page, `home-${role}`);
      await page.context().close();
    }
    if (SHOTS_DIR) {
      const phone = await pageAs(w, officer, true);
      await phone.getByTestId('todo-mine').waitFor();
      await phone.getByTestId('month-messages').waitFor();
      await shot(phone, 'home-officer-phone');
      const editorPhone = await pageAs(w, w.people.editor, true);
      await editorPhone.getByRole('heading', { name: '最近推送' }).waitFor();
      await editorPhone.getByRole('progressbar').first().waitFor();
      await shot(editorPhone, 'home-editor-phone');
    }
  });

  it('a fresh county shows its admin the first-day steps with what is done', async () => {
    await api(w, 'POST', '/api/regions', w.t.adminToken, { code: '440199', name: '新开县', parentCode: TREE.city.code });
    const created = await w.t.userToken('admin', '440199');
    const page = await pageAs(w, { username: created.username, password: `pw-${created.username}-secret` });
    pages.push(page);
    const steps = page.getByRole('region', { name: /开通步骤/ });
    await steps.waitFor();
    const counts = await api<{ setup: { label: string; done: boolean }[] }>(w, 'GET', '/api/workbench/counts', created.token);
    expect(counts.setup.map((s) => s.done)).toEqual([true, false, false, false, false]);
    for (const step of counts.setup) {
      await steps.getByRole('listitem').filter({ hasText: step.label }).getByText(step.done ? '已完成' : '未完成').waitFor();
    }
    await shot(page, 'home-admin-first-day');
    await page.context().close();
  });

  it('a notice written with the toolbar and pasted from Word shows no markup characters in any channel’s preview', async () => {
    const page = await pageAs(w, w.people.editor);
    pages.push(page);
    await page.goto('/notices/new');
    await page.getByLabel('标题').fill('冒充客服退款诈骗提醒');
    await page.getByLabel('发布单位').fill(UNIT);
    const body = page.getByLabel('正文');
    await body.fill('提醒：陌生来电要警惕\n不转账\n不透露验证码');
    const select = (from: string, to?: string) =>
      body.evaluate(
        (el, [a, b]) => {
          const area = el as HTMLTextAreaElement;
          const start = area.value.indexOf(a!);
          const end = b ? area.value.indexOf(b) + b.length : start + a!.length;
          area.focus();
          area.setSelectionRange(start, end);
        },
        [from, to],
      );
    await select('陌生来电要警惕');
    await page.getByRole('button', { name: '加粗' }).click();
    await select('不转账', '不透露验证码');
    await page.getByRole('button', { name: '• 列表' }).click();
    expect(await body.inputValue()).toBe('提醒：**陌生来电要警惕**\n\n- 不转账\n- 不透露验证码');
    // A paste from Word arrives as the light markup, not as Word's styling.
    await body.evaluate((el) => {
      const area = el as HTMLTextAreaElement;
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
      const data = new DataTransfer();
      data.setData(
        'text/html',
        '<html><body><!--StartFragment--><p class=MsoNormal><b><span style="font-size:16pt">重要提示</span></b></p>' +
          '<p class=MsoListParagraph style="mso-list:l0 level1 lfo1">·&nbsp;&nbsp;不点陌生链接</p>' +
          '<ol><li>挂断电话</li><li>拨打 <span style="font-weight:bold">96110</span></li></ol><!--EndFragment--></body></html>',
      );
      data.setData('text/plain', '重要提示 不点陌生链接 挂断电话 拨打 96110');
      area.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    });
    await expect.poll(() => body.inputValue()).toContain('**重要提示**\n\n- 不点陌生链接\n\n1. 挂断电话\n2. 拨打 **96110**');

    for (const style of ['图文链接', '纯文字']) {
      await page.getByRole('radio', { name: style }).check({ force: true });
      for (const channel of ['企业微信', '钉钉', '飞书', '自建平台', '人工转发']) {
        await page.getByRole('tab', { name: channel, exact: true }).click();
        const card = page.getByRole('article', { name: `${channel}文字卡片`, exact: true });
        await card.getByText(/冒充客服退款诈骗提醒/).first().waitFor();
        const shown = (await card.textContent()) ?? '';
        expect(shown, `${style} ${channel}`).not.toMatch(/\*\*|###|\]\(|&lt;|\\/);
        expect(shown, `${style} ${channel}`).toMatch(/\d+ 字 \/ 上限约 \d+ 字/);
      }
    }
    // 图文链接 on WeCom: bold as bold, the list as a list, the source one click away.
    await page.getByRole('radio', { name: '图文链接' }).check({ force: true });
    await page.getByRole('tab', { name: '企业微信', exact: true }).click();
    const wecom = page.getByRole('article', { name: '企业微信文字卡片', exact: true });
    await wecom.locator('strong', { hasText: '陌生来电要警惕' }).waitFor();
    await wecom.locator('.line-bullet', { hasText: '不转账' }).waitFor();
    await wecom.getByRole('button', { name: '查看原文' }).click();
    expect(await wecom.getByLabel('企业微信消息原文').textContent()).toContain('**陌生来电要警惕**');
    await fontsReady(page);
    expect(await seriousViolations(page)).toEqual([]);
    await shot(page, 'notice-editor');

    // Saved, then copied into a new notice.
    await page.getByRole('button', { name: '保存', exact: true }).click();
    await page.waitForURL(/\/notices\/[0-9a-f]{24}$/);
    await page.getByRole('button', { name: '复制通告' }).click();
    await page.waitForURL(/\/notices\/new\?copy=/);
    await expect.poll(() => page.getByLabel('标题').inputValue()).toBe('冒充客服退款诈骗提醒（副本）');
    expect(await page.getByLabel('正文').inputValue()).toContain('- 不转账');
    if (SHOTS_DIR) {
      const phone = await pageAs(w, w.people.editor, true);
      await phone.goto('/notices/new?copy=' + new URL(page.url()).searchParams.get('copy'));
      await phone.getByRole('article', { name: '企业微信文字卡片', exact: true }).getByText('陌生来电要警惕').waitFor();
      await shot(phone, 'notice-editor-phone');
      await phone.context().close();
    }
    await page.context().close();
  });

  it('a review shows who submitted, the changes against the approved version, the campaign’s audience, and asks before an immediate send', async () => {
    const noticeId = await approvedNotice(w, '防盗提醒（第二版测试）', '夜间请锁好门窗。\n\n外出时关好煤气。');
    await api(w, 'PATCH', `/api/notices/${noticeId}`, w.people.editor.token, {
      category: 'anti_theft',
      title: '防盗提醒（第二版测试）',
      body: '夜间请锁好门窗，贵重物品不要放在车内。\n\n外出时关好煤气。',
      issuingUnit: UNIT,
    });
    await api(w, 'POST', `/api/notices/${noticeId}/submit`, w.people.editor.token);
    const reviewer = await pageAs(w, w.people.reviewer);
    pages.push(reviewer);
    await reviewer.goto('/reviews');
    const item = reviewer.getByRole('article', { name: '待审核通告：防盗提醒（第二版测试）' });
    await item.getByTestId('people').getByText('测试editor（天河区）').first().waitFor();
    expect(await item.getByTestId('people').textContent()).toMatch(/提交测试editor（天河区），\d{4}/);
    const changes = item.getByRole('region', { name: '与已通过的第 1 版相比' });
    await changes.locator('ins', { hasText: '，贵重物品不要放在车内' }).waitFor();
    // Only the added words are marked; the unchanged paragraph is not.
    expect(await changes.locator('del').count()).toBe(0);
    expect(await changes.locator('.diff-same', { hasText: '外出时关好煤气。' }).count()).toBe(1);
    // The card at full size, rendered as the chat shows it.
    const card = item.getByRole('article', { name: '企业微信文字卡片', exact: true });
    await card.getByText('贵重物品不要放在车内', { exact: false }).first().waitFor();
    expect((await card.boundingBox())!.width).toBeGreaterThan(340);
    await api(w, 'POST', `/api/notices/${noticeId}/approve`, w.people.admin.token, {});

    // A campaign sent at once, to a township and a manual group whose officer has no account.
    const manual = await api<{ id: string }>(w, 'POST', '/api/groups', w.t.adminToken, {
      name: '石牌村人工转发群',
      regionCode: '440106002001',
      channel: { kind: 'manual' },
      memberCount: 250,
      officer: { name: '李警官', phone: '13700002222' },
    });
    const campaign = await api<{ id: string }>(w, 'POST', '/api/campaigns', w.people.editor.token, {
      title: '防盗提醒立即推送',
      noticeId,
      audience: { ...AUDIENCE_NONE, regions: [TREE.townshipA.code], groups: [manual.id] },
      schedule: { kind: 'now' },
    });
    await api(w, 'POST', `/api/campaigns/${campaign.id}/submit`, w.people.editor.token);
    const facts = await api<{
      audience: { groupCount: number; memberTotal: number; villageCount: number; samples: { id: string; name: string; channel: string }[] };
    }>(
      w,
      'GET',
      `/api/campaigns/${campaign.id}/review-facts`,
      w.people.reviewer.token,
    );
    await reviewer.reload();
    await reviewer.getByRole('tab', { name: /推送/ }).click();
    const pending = reviewer.getByRole('article', { name: '待审核推送：防盗提醒立即推送' });
    await pending.getByTestId('audience-totals').filter({ hasText: `${facts.audience.groupCount} 个群` }).waitFor();
    expect(await pending.getByTestId('audience-totals').textContent()).toContain(
      `${facts.audience.memberTotal.toLocaleString('zh-CN')} 名成员`,
    );
    await pending.getByRole('cell', { name: TREE.townshipA.name }).waitFor();
    await pending.getByRole('cell', { name: '石牌街道' }).waitFor();
    await pending.getByTestId('missing-officers').getByText('李警官 13700002222：1 个群').waitFor();
    await pending.getByText('审核通过后立即发送').waitFor();
    // The officer's text as it goes to one of the audience's manual groups: its officer signs it.
    await pending.getByRole('tab', { name: '人工转发' }).click();
    const sample = facts.audience.samples.find((s) => s.channel === 'manual')!;
    const forSample = await api<{ content: string }>(w, 'POST', `/api/notices/${noticeId}/preview/text`, w.people.reviewer.token, {
      channel: 'manual',
      format: 'link',
      version: 2,
      groupId: sample.id,
    });
    const place = forSample.content.match(/^【[^】]+】/)![0];
    const manualPane = pending.getByRole('tabpanel', { name: '人工转发' });
    await manualPane.getByTestId('preview-sample').getByText(`以「${sample.name}」为例`, { exact: false }).waitFor();
    await manualPane.getByText(place, { exact: false }).first().waitFor();
    await pending.getByText(`图片卡片（原尺寸）：发给「${sample.name}」`).waitFor();
    await fontsReady(reviewer);
    expect(await seriousViolations(reviewer)).toEqual([]);
    await shot(reviewer, 'review-campaign');
    if (SHOTS_DIR) {
      const phone = await pageAs(w, w.people.reviewer, true);
      await phone.goto('/reviews');
      await phone.getByRole('tab', { name: /推送/ }).click();
      await phone.getByTestId('audience-totals').first().waitFor();
      await shot(phone, 'review-campaign-phone');
      await phone.context().close();
    }
    await pending.getByRole('button', { name: '通过并立即发送' }).click();
    const asked = reviewer.getByRole('dialog', { name: /通过并立即发送/ });
    await asked.getByText(`通过后将立即发送到 ${facts.audience.groupCount} 个群（约 ${facts.audience.memberTotal.toLocaleString('zh-CN')} 人）`).waitFor();
    await asked.getByRole('button', { name: '再看看' }).click();
    expect((await api<{ status: string }>(w, 'GET', `/api/campaigns/${campaign.id}`, w.people.editor.token)).status).toBe('in_review');
    await pending.getByRole('button', { name: '通过并立即发送' }).click();
    await reviewer.getByRole('dialog', { name: /通过并立即发送/ }).getByRole('button', { name: '通过并立即发送' }).click();
    await pending.waitFor({ state: 'detached' });
    expect((await api<{ status: string }>(w, 'GET', `/api/campaigns/${campaign.id}`, w.people.editor.token)).status).not.toBe('in_review');
    await reviewer.context().close();
  });

  it('the monthly table shows the glossary’s words with 合计 and a category breakdown, and its export equals the screen', async () => {
    const page = await pageAs(w, w.people.viewer);
    pages.push(page);
    await page.goto('/reach/monthly');
    const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date()).slice(0, 7);
    // What the scheduler process's roll-up refresher does every few seconds: this month's
    // deliveries (the tests before this one sent some) reach the statistics.
    await w.t.ctx.tracking.rollups.refreshAll('console-test');
    expect((await api<{ rows: unknown[] }>(w, 'GET', `/api/reach/monthly?period=${month}`, w.people.viewer.token)).rows.length).toBeGreaterThan(0);
    await page.getByRole('button', { name: '查询' }).click();
    const table = page.getByTestId('monthly-table');
    await table.locator('tbody tr th').first().waitFor();
    const screen = async (locator: typeof table) =>
      (await locator.locator('tr').evaluateAll((rows) => rows.map((row) => [...row.children].map((c) => (c.textContent ?? '').trim()))))
        .map((cells) => cells.map((c) => c.replace(/,/g, '')));
    const township = await screen(table);
    expect(township.at(-1)![0]).toBe('合计');
    const categories = await screen(page.getByTestId('category-table'));
    const channels = await screen(page.getByTestId('channel-table'));
    // 发送消息数 by channel: each row's channels add up to its 合计, which is its 发送消息数.
    for (const [i, row] of channels.slice(1).entries()) {
      expect(row.slice(1, -1).reduce((n, c) => n + Number(c), 0)).toBe(Number(row.at(-1)));
      expect(row.at(-1)).toBe(township[i + 1]![1]);
    }
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: '导出 CSV' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe(`月度统计表-天河区-${Number(month.slice(0, 4))}年${Number(month.slice(5))}月.csv`);
    const { readFile } = await import('node:fs/promises');
    const csv = (await readFile((await file.path())!, 'utf8')).replace(/^\uFEFF/, '').trim().split('\r\n').map((l) => l.split(','));
    expect(csv).toEqual([...township, [''], ...categories, [''], ['发送消息数按渠道'], ...channels]);
    // A quarter and a year read the same way.
    await page.getByRole('radio', { name: '季度' }).check({ force: true });
    await page.getByRole('button', { name: '查询' }).click();
    await page.getByRole('heading', { name: /第\d季度/ }).waitFor();
    await page.getByRole('radio', { name: '年' }).check({ force: true });
    await page.getByRole('button', { name: '查询' }).click();
    await page.getByRole('heading', { name: new RegExp(`（${month.slice(0, 4)}年）`) }).waitFor();
    await fontsReady(page);
    expect(await seriousViolations(page)).toEqual([]);
    await shot(page, 'reach-monthly-year');
    if (SHOTS_DIR) {
      const phone = await pageAs(w, w.people.viewer, true);
      await phone.goto('/reach/monthly');
      await phone.getByTestId('monthly-table').locator('tbody tr th').first().waitFor();
      await shot(phone, 'reach-monthly-phone');
      await phone.goto('/reach');
      await phone.getByTestId('compare-messages').waitFor();
      await shot(phone, 'reach-phone');
      await phone.context().close();
    }
    await page.context().close();
  });

  it('every action that reaches residents or stops a send says what it does and asks first', async () => {
    const page = await pageAs(w, w.people.admin);
    pages.push(page);
    const target = w.groups[1]!;
    const received = () => w.doubles.received({ platform: 'wecom', robot: target.key }).length;
    // 发送测试消息 on a group row.
    await page.goto('/groups');
    const row = page.getByRole('row', { name: new RegExp(target.name) });
    const before = received();
    await row.getByRole('button', { name: '发送测试消息' }).click();
    const testDialog = page.getByRole('dialog', { name: '发送测试消息？' });
    await testDialog.getByText(`将向「${target.name}」发送一条测试消息`).waitFor();
    await testDialog.getByRole('button', { name: '不发送' }).click();
    expect(received()).toBe(before);
    await row.getByRole('button', { name: '发送测试消息' }).click();
    await page.getByRole('dialog', { name: '发送测试消息？' }).getByRole('button', { name: '发送测试消息' }).click();
    await expect.poll(received).toBe(before + 1);

    // 归档 a notice.
    const noticeId = await approvedNotice(w, '将被归档的通告');
    await page.goto(`/notices/${noticeId}`);
    await page.getByRole('button', { name: '归档' }).click();
    const archive = page.getByRole('dialog', { name: '归档「将被归档的通告」？' });
    await archive.getByText('已经发出的消息不会撤回').waitFor();
    await archive.getByRole('button', { name: '不归档' }).click();
    expect((await api<{ status: string }>(w, 'GET', `/api/notices/${noticeId}`, w.people.admin.token)).status).toBe('approved');

    // The wizard: 取消 asks before throwing away, and 保存草稿 keeps it.
    await page.goto('/campaigns/new');
    await choose(page, '已通过的通告', /将被归档的通告/);
    await page.getByRole('button', { name: '取消', exact: true }).click();
    const discard = page.getByRole('dialog', { name: '放弃这次填写？' });
    await discard.getByText('要保留，请点“保存草稿”').waitFor();
    await discard.getByRole('button', { name: 'Close this dialog' }).or(discard.getByLabel('关闭此对话框')).first().click();
    expect(new URL(page.url()).pathname).toBe('/campaigns/new');
    expect(await page.getByLabel('推送名称').inputValue()).toBe('将被归档的通告');

    // 取消 on a campaign page, and 停止并撤回 then the correction as a second step.
    const campaign = await api<{ id: string }>(w, 'POST', '/api/campaigns', w.people.editor.token, {
      title: '将被取消的推送',
      noticeId,
      audience: { ...AUDIENCE_NONE, groups: [target.id] },
      schedule: { kind: 'once', at: new Date(Date.now() + 86_400_000).toISOString() },
    });
    await page.goto(`/campaigns/${campaign.id}`);
    await page.getByRole('button', { name: '取消', exact: true }).click();
    const cancel = page.getByRole('dialog', { name: '确认取消' });
    await cancel.getByText('取消后尚未发出的消息不再发送').waitFor();
    await cancel.getByRole('button', { name: '返回' }).click();
    expect((await api<{ status: string }>(w, 'GET', `/api/campaigns/${campaign.id}`, w.people.admin.token)).status).toBe('draft');
    await page.context().close();
  });
});

// Short tracked links and counted clicks, through a real campaign: the engine gives every
// card (text or image) its group's own short link, kept in the database; opening it counts a
// click for the group's township, which the monthly table shows; an officer's task text is
// plain, with one prefix, and no link longer than 40 characters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickModel } from '../../src/tracking/clicks.js';
import { encodeTrackedCode } from '../../src/tracking/links.js';
import { ShortLinkModel } from '../../src/tracking/short-links.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  audienceOf,
  approvedNotice,
  manualGroup as manualGroupOf,
  runUntilIdle,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';
import { pageText } from '../helpers/html.js';

const BASE = 'https://jx.example.cn';
const SHORT = /^https:\/\/jx\.example\.cn\/t\/[0-9A-Za-z]{8}$/;

interface Task {
  groupId: string;
  title: string;
  text: string | null;
  url: string | null;
}

describe('short tracked links through a campaign', () => {
  let w: DeliveryWorld;
  let month: string;

  beforeAll(async () => {
    w = await startDeliveryWorld({ env: { PUBLIC_BASE_URL: BASE } });
  });
  afterAll(() => w.close());

  const manualGroup = (name: string) => manualGroupOf(w, name, { memberCount: 300 });

  async function sendTo(groupId: string, cardStyle: 'text' | 'rich' | 'image', title: string) {
    const noticeId = await approvedNotice(w, { title });
    const campaignId = await approvedCampaign(w, {
      title,
      noticeId,
      cardStyle,
      audience: audienceOf([], [groupId]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await runUntilIdle(w);
    const tasks = (await w.t.request('GET', '/api/manual-tasks', w.t.adminToken)).json() as Task[];
    const task = tasks.find((x) => x.groupId === groupId && x.title.includes(title));
    expect(task, 'the officer has a task').toBeDefined();
    return { noticeId, campaignId, task: task! };
  }

  const open = (url: string, ip: string) =>
    w.t.app.inject({
      method: 'GET',
      url: new URL(url).pathname,
      remoteAddress: ip,
      headers: { 'user-agent': 'WeChat' },
    });

  it('when a card’s QR code is opened four times, then the four clicks show in its township’s monthly figures', async () => {
    const groupId = await manualGroup('华工社区居民群');
    const { noticeId, campaignId, task } = await sendTo(groupId, 'image', '夏季防溺水提醒');
    // The image card's QR code and the task's link are the group's own short link.
    expect(task.url).toMatch(SHORT);
    const stored = await ShortLinkModel.findById(new URL(task.url!).pathname.slice(3)).lean();
    expect(stored).toMatchObject({ campaignId, groupId, noticeId, villageCode: TREE.villageA.code });

    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1']) {
      const answer = await open(task.url!, ip);
      expect(answer.statusCode).toBe(302);
      expect(answer.headers.location).toBe(`${BASE}/n/${noticeId}`);
    }
    const clicks = await ClickModel.find({ campaignId }).lean();
    expect(clicks).toHaveLength(4);
    expect(new Set(clicks.map((c) => c.townshipCode))).toEqual(new Set([TREE.townshipA.code]));
    month = clicks[0]!.month;
    const counts = await w.t.ctx.tracking.clicks.perTownship(month, [TREE.townshipA.code]);
    expect(counts.get(TREE.townshipA.code)).toEqual({ clicks: 4, uniqueClicks: 3 });
    const table = (await w.t.request('GET', `/api/reach/monthly?month=${month}`, w.t.adminToken)).json() as {
      rows: { townshipCode: string; clicks: number }[];
    };
    const row = table.rows.find((r) => r.townshipCode === TREE.townshipA.code);
    expect(row?.clicks, JSON.stringify(table.rows)).toBe(4);
  });

  it('gives an officer a plain text with one prefix and the short link last, no link longer than 40 characters', async () => {
    const groupId = await manualGroup('五山村民群');
    const { task } = await sendTo(groupId, 'rich', '警惕冒充公检法诈骗');
    const text = task.text!;
    expect(text.match(/【/g), text).toHaveLength(1);
    expect(text.startsWith('【防诈骗】')).toBe(true);
    for (const markup of ['**', '###', '](', '> ']) expect(text).not.toContain(markup);
    const links = text.match(/https?:\/\/\S+/g) ?? [];
    expect(links).toHaveLength(1);
    for (const link of links) expect(link.length).toBeLessThanOrEqual(40);
    expect(text.trimEnd().endsWith(links[0]!)).toBe(true);
    expect(links[0]).toMatch(SHORT);
  });

  it('when a county chooses texts without a link, then its officers’ task texts carry no link at all', async () => {
    const url = `/api/regions/${TREE.countyA.code}/officer-text`;
    expect((await w.t.request('GET', url, w.t.adminToken)).json()).toMatchObject({ withoutLink: false });
    const editor = await w.t.userToken('editor', TREE.countyA.code);
    expect((await w.t.request('PUT', url, editor.token, { withoutLink: true })).statusCode).toBe(403);
    const township = await w.t.request('PUT', `/api/regions/${TREE.townshipA.code}/officer-text`, w.t.adminToken, {
      withoutLink: true,
    });
    expect(township.statusCode).toBe(400);
    expect(township.json().message).toContain('区县');
    const set = await w.t.request('PUT', url, w.t.adminToken, { withoutLink: true });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json()).toMatchObject({ countyCode: TREE.countyA.code, withoutLink: true, updatedBy: 'admin' });
    try {
      const groupId = await manualGroup('石牌村民群');
      const { task } = await sendTo(groupId, 'rich', '警惕刷单返利诈骗');
      expect(task.text).toContain('【防诈骗】警惕刷单返利诈骗');
      expect(task.text).not.toMatch(/https?:|\/t\//);
      expect(task.text).not.toContain('详情');
    } finally {
      await w.t.request('PUT', url, w.t.adminToken, { withoutLink: false });
    }
    const groupId = await manualGroup('岑村村民群');
    const { task } = await sendTo(groupId, 'rich', '警惕虚假投资理财');
    expect(task.text).toMatch(/https:\/\/jx\.example\.cn\/t\/[0-9A-Za-z]{8}\s*$/);
  });

  it('makes the same short link again for the same group (a retried send), without a second document', async () => {
    const target = { campaignId: 'c'.repeat(24), groupId: 'd'.repeat(24), noticeId: 'e'.repeat(24), villageCode: '1' };
    const first = await w.t.ctx.tracking.link(target);
    const second = await w.t.ctx.tracking.link(target);
    expect(second).toBe(first);
    expect(await ShortLinkModel.countDocuments({ campaignId: target.campaignId })).toBe(1);
    const other = await w.t.ctx.tracking.link({ ...target, groupId: 'f'.repeat(24) });
    expect(other).not.toBe(first);
  });

  it('still opens long signed links already sent, and refuses unknown short codes with the friendly page', async () => {
    const noticeId = await approvedNotice(w, { title: '旧链接' });
    const target = { campaignId: 'a'.repeat(24), groupId: 'b'.repeat(24), noticeId, villageCode: TREE.villageA.code };
    const long = encodeTrackedCode(target, w.t.ctx.tracking.secret.get());
    const answer = await w.t.app.inject({ method: 'GET', url: `/t/${long}`, remoteAddress: '10.3.3.3' });
    expect(answer.statusCode).toBe(302);
    const unknown = await w.t.app.inject({ method: 'GET', url: '/t/Zz9Zz9Zz', remoteAddress: '10.3.3.4' });
    expect(unknown.statusCode).toBe(404);
    expect(pageText(unknown.body)).toContain('链接无效');
  });
});

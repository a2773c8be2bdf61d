// Reach statistics against a ledger written the way the engine writes it, every figure
// compared with a count made independently from the raw delivery items.
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { type FixtureItem, createCampaign, writeBatch } from './ledger.js';
import { countRaw } from './raw.js';

const pathA = ['000000', TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code];
const pathB = ['000000', TREE.province.code, TREE.city.code, TREE.countyB.code, TREE.townshipB.code];
const gid = (n: number) => n.toString(16).padStart(24, '0');
const vA = (n: number) => `${TREE.townshipA.code}${String(n).padStart(3, '0')}`;

describe('reach statistics', () => {
  let t: TestApp;
  let viewerA: string;
  let campaign1: string;
  let campaign2: string;
  let campaignB: string;

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    viewerA = (await t.userToken('viewer', TREE.countyA.code)).token;
    campaign1 = await createCampaign(pathA.slice(0, 4), '三月反诈');
    campaign2 = await createCampaign(pathA.slice(0, 4), '防盗宣传');
    campaignB = await createCampaign(pathB.slice(0, 4), '白云反诈');

    const items = (statuses: FixtureItem['status'][], offset = 0): FixtureItem[] =>
      statuses.map((status, i) => ({
        groupId: gid(offset + i + 1),
        villageCode: vA((i % 3) + 1),
        memberCount: 100 + i * 7,
        status,
      }));

    // Run 1 of campaign 1: planned (all pending), then rewritten after sends and a retry
    // (pending → sent), then after a worker take-over (sending → uncertain).
    const first = {
      id: `${campaign1}@r1|${TREE.townshipA.code}|0`,
      campaignId: campaign1,
      category: 'anti_fraud',
      day: '2024-03-05',
      regionPath: pathA,
    };
    await writeBatch(t.ctx, { ...first, items: items(['pending', 'pending', 'pending', 'pending', 'pending']) });
    await t.ctx.tracking.rollups.refreshAll('test');
    await writeBatch(t.ctx, { ...first, items: items(['sent', 'pending', 'sending', 'failed', 'pending']) });
    await writeBatch(t.ctx, { ...first, items: items(['sent', 'sent', 'uncertain', 'failed', 'skipped']) });
    // Run 2 of campaign 1 reaches the same groups again (distinct groups stay 2+…).
    await writeBatch(t.ctx, {
      id: `${campaign1}@r2|${TREE.townshipA.code}|0`,
      campaignId: campaign1,
      category: 'anti_fraud',
      day: '2024-03-20',
      regionPath: pathA,
      items: items(['sent', 'sent', 'sent', 'awaiting', 'confirmed']),
    });
    // Campaign 2, April, manual channel confirmations.
    await writeBatch(t.ctx, {
      id: `${campaign2}@r1|${TREE.townshipA.code}|0`,
      campaignId: campaign2,
      category: 'anti_theft',
      day: '2024-04-02',
      regionPath: pathA,
      items: items(['confirmed', 'awaiting', 'sent'], 10),
    });
    // County B: outside viewer A's scope.
    await writeBatch(t.ctx, {
      id: `${campaignB}@r1|${TREE.townshipB.code}|0`,
      campaignId: campaignB,
      category: 'anti_fraud',
      day: '2024-03-05',
      regionPath: pathB,
      items: [{ groupId: gid(99), villageCode: TREE.villageB.code, memberCount: 5000, status: 'sent' }],
    });
    // The same marker processed twice (a retried refresh) must not count twice.
    await t.ctx.tracking.rollups.batchesWritten([first.id, first.id]);
    await t.ctx.tracking.rollups.refreshAll('test');
    await t.ctx.tracking.rollups.refreshAll('test');
  });
  afterAll(() => t.close());

  const get = (url: string, token = t.adminToken) => t.request('GET', url, token);

  it('matches counts made from the raw items after retries and a take-over', async () => {
    const response = await get('/api/reach?from=2024-01&to=2024-12');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().totals).toEqual(await countRaw(() => true));
  });

  it('breaks down by month, township and category exactly', async () => {
    const body = (await get('/api/reach?from=2024-03&to=2024-04&groupBy=month,township,category')).json();
    expect(body.rows.length).toBe(3);
    for (const row of body.rows) {
      const { month, townshipCode, category, ...figures } = row;
      expect(figures).toEqual(
        await countRaw(
          (b) => b.day.startsWith(month) && b.regionPath.at(-1) === townshipCode && b.category === category,
        ),
      );
    }
  });

  it('breaks down by day and campaign over a day range', async () => {
    const body = (await get('/api/reach?from=2024-03-01&to=2024-03-31&groupBy=day,campaign')).json();
    expect(body.rows.map((r: { day: string }) => r.day)).toEqual(['2024-03-05', '2024-03-05', '2024-03-20']);
    for (const { day, campaignId, ...figures } of body.rows) {
      expect(figures).toEqual(await countRaw((b) => b.day === day && b.campaignId === campaignId));
    }
  });

  it('rolls regions up one level below the region asked about', async () => {
    const body = (await get(`/api/reach?from=2024-01&to=2024-12&groupBy=region&regionCode=${TREE.city.code}`)).json();
    expect(body.rows.map((r: { regionCode: string; regionName: string }) => [r.regionCode, r.regionName])).toEqual([
      [TREE.countyA.code, TREE.countyA.name],
      [TREE.countyB.code, TREE.countyB.name],
    ]);
    const [a, b] = body.rows;
    const { regionCode: _a, regionName: _an, ...figuresA } = a;
    const { regionCode: _b, regionName: _bn, ...figuresB } = b;
    expect(figuresA).toEqual(await countRaw((x) => x.regionPath.includes(TREE.countyA.code)));
    expect(figuresB).toEqual(await countRaw((x) => x.regionPath.includes(TREE.countyB.code)));
  });

  it('filters by campaign and category', async () => {
    const byCampaign = (await get(`/api/reach?from=2024-01&to=2024-12&campaignId=${campaign1}`)).json();
    expect(byCampaign.totals).toEqual(await countRaw((b) => b.campaignId === campaign1));
    const byCategory = (await get('/api/reach?from=2024-01&to=2024-12&category=anti_theft')).json();
    expect(byCategory.totals).toEqual(await countRaw((b) => b.category === 'anti_theft'));
  });

  it('shows a county viewer only their county', async () => {
    const body = (await get('/api/reach?from=2024-01&to=2024-12', viewerA)).json();
    expect(body.totals).toEqual(await countRaw((b) => b.regionPath.includes(TREE.countyA.code)));
    expect(JSON.stringify(body)).not.toContain(TREE.countyB.code);
  });

  it('refuses regions outside the scope, unknown campaigns and bad ranges with clear 4xx', async () => {
    const cases: Array<[string, number, RegExp]> = [
      [`/api/reach?from=2024-01&to=2024-12&regionCode=${TREE.countyB.code}`, 404, /不在您的管辖范围/],
      ['/api/reach?from=2024-01&to=2024-12&campaignId=0123456789abcdef0123ffff', 404, /推送/],
      [`/api/reach?from=2024-01&to=2024-12&campaignId=${campaignB}`, 404, /推送/],
      ['/api/reach?from=2024-05&to=2024-03', 400, /早于/],
      ['/api/reach?from=2024-01', 400, /to/],
      ['/api/reach?from=2024-01-01&to=2024-12', 400, /同一格式/],
      ['/api/reach?from=2023-01-01&to=2024-12-31', 400, /366/],
      ['/api/reach?from=2024-02-3x&to=2024-03-01', 400, /YYYY-MM/],
      ['/api/reach?from=2024-02-30x&to=2024-03-01', 400, /最多 10 个字符/],
      ['/api/reach?from=2024-01&to=2024-02&groupBy=week', 400, /groupBy/],
      ['/api/reach?from=2024-01&to=2024-02&extra=1', 400, /extra/],
    ];
    for (const [url, status, message] of cases) {
      const response = await get(url, viewerA);
      expect(response.statusCode, url).toBe(status);
      expect(response.json().message, url).toMatch(message);
    }
  });

  it('exports the monthly table as xlsx that reads back equal to the statistics', async () => {
    const table = (await get('/api/reach/monthly?month=2024-03')).json();
    const stats = (await get('/api/reach?from=2024-03&to=2024-03&groupBy=township')).json();
    expect(table.rows.map((r: { messages: number }) => r.messages)).toEqual(
      stats.rows.map((r: { messages: number }) => r.messages),
    );

    const response = await t.app.inject({
      method: 'GET',
      url: '/api/reach/monthly/export?month=2024-03&format=xlsx',
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    expect(response.statusCode).toBe(200);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(response.rawPayload as unknown as ArrayBuffer);
    const sheet = workbook.worksheets[0]!;
    expect((sheet.getRow(1).values as unknown[]).slice(1)).toEqual([
      '乡镇（街道）',
      '发送消息数',
      '触达群数',
      '触达村数',
      '受教育人次',
      '待民警转发',
      '点击次数',
      '独立访客',
    ]);
    const read = [];
    for (let r = 2; r <= stats.rows.length + 2; r++) {
      const v = sheet.getRow(r).values as unknown[];
      read.push({ township: v[1], messages: v[2], groupsReached: v[3], villagesReached: v[4], personTimes: v[5] });
    }
    const figures = (r: Record<string, unknown>) => ({
      messages: r.messages,
      groupsReached: r.groupsReached,
      villagesReached: r.villagesReached,
      personTimes: r.personTimes,
    });
    expect(read).toEqual([
      ...table.rows.map((r: Record<string, unknown>) => ({ township: r.townshipName, ...figures(r) })),
      { township: '合计', ...figures(stats.totals) },
    ]);
    expect(decodeURIComponent(response.headers['content-disposition'] as string)).toContain('月度统计表-');
    const audit = (await get('/api/audit?action=reach.export_monthly')).json();
    expect(JSON.stringify(audit)).toContain('reach.export_monthly');
  });

  it('exports a campaign’s deliveries as csv with Chinese headers and formulas neutralised', async () => {
    await writeBatch(t.ctx, {
      id: `${campaign2}@r9|${TREE.townshipA.code}|0`,
      campaignId: campaign2,
      category: 'anti_theft',
      day: '2024-04-09',
      regionPath: pathA,
      items: [
        { groupId: gid(77), villageCode: vA(1), memberCount: 3, status: 'sent', groupName: '=HYPERLINK("http://x")' },
      ],
    });
    const response = await get(`/api/campaigns/${campaign2}/deliveries/export?format=csv`);
    expect(response.statusCode).toBe(200);
    const lines = response.body
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).toContain('群名称');
    expect(lines).toHaveLength(1 + 3 + 1);
    expect(response.body).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(response.body).not.toMatch(/,=HYPERLINK/);
  });

  it('reports live progress as JSON and as a Server-Sent Events stream that ends when the work is done', async () => {
    const json = (await get(`/api/campaigns/${campaign1}/progress`)).json();
    const raw = await countRaw((b) => b.campaignId === campaign1);
    expect(json).toMatchObject({
      total: raw.deliveries,
      sent: raw.sent,
      queued: raw.pending,
      uncertain: raw.uncertain,
      finished: true,
    });
    expect(json.counties).toHaveLength(1);
    const stream = await get(`/api/campaigns/${campaign1}/progress/stream`);
    expect(stream.headers['content-type']).toMatch(/text\/event-stream/);
    const data = /event: progress\ndata: (.+)\n/.exec(stream.body)![1]!;
    expect(JSON.parse(data)).toEqual(json);
    expect(stream.body).toContain('event: end');
    expect((await get(`/api/campaigns/${campaignB}/progress`, viewerA)).statusCode).toBe(404);
    expect((await get('/api/campaigns/0123456789abcdef0123ffff/progress/stream')).statusCode).toBe(404);
  });
});

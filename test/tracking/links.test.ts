// Tracked links: signed codes, click counting (total and unique, no raw addresses), the
// redirect to the notice page, and friendly 404s for anything forged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickModel, MAX_PER_VISITOR } from '../../src/tracking/clicks.js';
import { decodeTrackedCode, encodeTrackedCode } from '../../src/tracking/links.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { noticeBody } from '../helpers/notices.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { createCampaign } from './ledger.js';
import { pageText } from '../helpers/html.js';

const secret = Buffer.from('s'.repeat(32));

describe('tracked link codes', () => {
  const target = {
    campaignId: '65f0a1b2c3d4e5f6a7b8c9d0',
    groupId: '65f0a1b2c3d4e5f6a7b8c9d1',
    noticeId: '65f0a1b2c3d4e5f6a7b8c9d2',
    villageCode: '440106001001',
  };

  it('round-trips the ids, including non-hex group ids and leading zeros', () => {
    expect(decodeTrackedCode(encodeTrackedCode(target, secret), secret)).toEqual(target);
    const odd = { ...target, groupId: 'group-北京-1', villageCode: '000123' };
    expect(decodeTrackedCode(encodeTrackedCode(odd, secret), secret)).toEqual(odd);
    // The engine's campaign-wide QR link names no group and no village.
    const shared = { campaignId: target.campaignId, groupId: null, noticeId: target.noticeId };
    expect(decodeTrackedCode(encodeTrackedCode(shared, secret), secret)).toEqual({ ...shared, villageCode: null });
  });

  it('refuses a code with any character changed, or signed with another secret', () => {
    const code = encodeTrackedCode(target, secret);
    for (let i = 0; i < code.length; i++) {
      const swapped = code[i] === 'A' ? 'B' : 'A';
      expect(decodeTrackedCode(code.slice(0, i) + swapped + code.slice(i + 1), secret)).toBeNull();
    }
    expect(decodeTrackedCode(code, Buffer.from('t'.repeat(32)))).toBeNull();
    expect(decodeTrackedCode('not a code', secret)).toBeNull();
  });
});

describe('clicks on tracked links', () => {
  let t: TestApp;
  let noticeId: string;
  let campaignId: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { PUBLIC_BASE_URL: 'https://jx.example.cn' } });
    await createRegionTree(t);
    const created = await t.request(
      'POST',
      '/api/notices',
      t.adminToken,
      noticeBody({ regionCode: TREE.countyA.code }),
    );
    noticeId = created.json().id;
    expect((await t.request('POST', `/api/notices/${noticeId}/submit`, t.adminToken)).statusCode).toBe(200);
    const reviewer = await t.userToken('reviewer', TREE.countyA.code);
    const approved = await t.request('POST', `/api/notices/${noticeId}/approve`, reviewer.token, {});
    expect(approved.statusCode, approved.body).toBe(200);
    campaignId = await createCampaign(['000000', TREE.province.code, TREE.city.code, TREE.countyA.code]);
  });
  afterAll(() => t.close());

  const click = (url: string, ip: string, ua = 'WeChat/8.0') =>
    t.app.inject({ method: 'GET', url, remoteAddress: ip, headers: { 'user-agent': ua } });

  it('redirects to the notice page and counts total and unique clicks per township, storing no address', async () => {
    const link = await t.ctx.tracking.link({
      campaignId,
      groupId: 'a'.repeat(24),
      noticeId,
      villageCode: TREE.villageA.code,
    });
    expect(link).toMatch(/^https:\/\/jx\.example\.cn\/t\/[0-9A-Za-z]{8}$/);
    const path = new URL(link).pathname;
    const first = await click(path, '10.0.0.1');
    expect(first.statusCode).toBe(302);
    expect(first.headers.location).toBe(`https://jx.example.cn/n/${noticeId}`);
    await click(path, '10.0.0.1');
    await click(path, '10.0.0.2');
    const stored = await ClickModel.find({}).lean();
    expect(stored).toHaveLength(3);
    expect(JSON.stringify(stored)).not.toContain('10.0.0');

    const month = stored[0]!.month;
    const table = (await t.request('GET', `/api/reach/monthly?month=${month}`, t.adminToken)).json();
    // No deliveries counted in this township yet: its clicks show all the same (they were hidden before).
    expect(table.rows).toEqual([
      expect.objectContaining({ townshipCode: TREE.townshipA.code, messages: 0, clicks: 3, uniqueClicks: 2 }),
    ]);
    const counts = await t.ctx.tracking.clicks.perTownship(month, [TREE.townshipA.code]);
    expect(counts.get(TREE.townshipA.code)).toEqual({ clicks: 3, uniqueClicks: 2 });
  });

  it('keeps a click storm from one visitor bounded and the counts exact', async () => {
    const link = await t.ctx.tracking.link({
      campaignId,
      groupId: 'b'.repeat(24),
      noticeId,
      villageCode: TREE.villageA.code,
    });
    const path = new URL(link).pathname;
    const before = await ClickModel.countDocuments({ groupId: 'b'.repeat(24) });
    const answers = await Promise.all(Array.from({ length: 40 }, () => click(path, '10.9.9.9', 'storm')));
    expect(answers.every((a) => a.statusCode === 302 || a.statusCode === 429)).toBe(true);
    const after = await ClickModel.find({ groupId: 'b'.repeat(24) }).lean();
    expect(after.length - before).toBe(MAX_PER_VISITOR);
    expect(after.filter((c) => c.first)).toHaveLength(1);
  });

  it('rate-limits one address', async () => {
    const link = await t.ctx.tracking.link({
      campaignId,
      groupId: 'c'.repeat(24),
      noticeId,
      villageCode: TREE.villageA.code,
    });
    const path = new URL(link).pathname;
    let limited = 0;
    for (let i = 0; i < 70; i++) if ((await click(path, '10.7.7.7')).statusCode === 429) limited += 1;
    expect(limited).toBeGreaterThan(0);
  });

  it('answers a forged or unknown code with a friendly Chinese 404 page and counts nothing', async () => {
    const before = await ClickModel.countDocuments();
    for (const code of ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'x', '%3Cscript%3E']) {
      const response = await click(`/t/${code}`, '10.1.1.1');
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toMatch(/text\/html/);
      expect(pageText(response.body)).toContain('链接无效');
      expect(response.body).not.toContain('<script>');
    }
    expect(await ClickModel.countDocuments()).toBe(before);
  });
});

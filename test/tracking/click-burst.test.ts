// A burst of residents' clicks on tracked links (`GET /t/:code`) after a province push: the
// request writes the intent and the click and redirects, the tallies are applied per process
// in batches (tracking/click-flusher.ts, click-tally.ts). Checked: the commands of a click's
// request (none on the claims or the tallies), a burst over HTTP counted exactly (the monthly
// table equals counts made from the raw clicks) with one `ids` entry per batch, not per click,
// and a process killed with clicks pending, or a flusher that stalls past the stale time and
// resumes after the repair, counting nothing twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { ClickTallyFlusher } from '../../src/tracking/click-flusher.js';
import {
  ClickTallyIntentModel,
  ClickTallyModel,
  IDS_KEPT_MS,
  INTENT_STALE_MS,
} from '../../src/tracking/click-tally.js';
import { ClickModel, ClickService } from '../../src/tracking/clicks.js';
import type { LinkTarget } from '../../src/tracking/links.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

const clock = fixedClock('2026-06-25T04:00:00.000Z');
const MONTH = '2026-06';

interface Row {
  townshipCode: string;
  clicks: number;
  uniqueClicks: number;
}

describe('a burst of clicks on tracked links', () => {
  let t: TestApp;
  let admin: string;
  const codes = new Map<string, string>();
  const targets = new Map<string, LinkTarget>();

  beforeAll(async () => {
    t = await startTestApp({ clock });
    await createRegionTree(t);
    admin = (await t.userToken('admin', TREE.province.code)).token;
    for (const village of [TREE.villageA.code, TREE.villageB.code, null]) {
      const target: LinkTarget = {
        campaignId: 'c'.repeat(24),
        groupId: village ? `g${village}`.padEnd(24, '0') : null,
        noticeId: 'n'.repeat(24),
        villageCode: village,
      };
      const url = await t.ctx.tracking.link(target);
      codes.set(village ?? 'none', url.slice(url.lastIndexOf('/') + 1));
      targets.set(village ?? 'none', target);
    }
  });
  afterAll(() => t.close(), 120_000);

  const click = async (village: string, from: string) => {
    const response = await t.app.inject({
      method: 'GET',
      url: `/t/${codes.get(village)}`,
      remoteAddress: from,
      headers: { 'user-agent': 'WeChat/8.0' },
    });
    expect(response.statusCode, response.body).toBe(302);
  };

  /** The province admin's table: the click figures per township with clicks, and the totals. */
  const table = async () => {
    const response = await t.request('GET', `/api/reach/monthly?period=${MONTH}`, admin);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json() as { rows: Row[]; total: { clicks: number; uniqueClicks: number } };
    const rows = body.rows
      .filter((row) => row.clicks > 0 || row.uniqueClicks > 0)
      .map((row) => ({ townshipCode: row.townshipCode, clicks: row.clicks, uniqueClicks: row.uniqueClicks }))
      .sort((a, b) => a.townshipCode.localeCompare(b.townshipCode));
    return { rows, total: body.total.clicks, unique: body.total.uniqueClicks };
  };

  /** The same from the raw clicks. */
  const raw = async () => {
    const all = await ClickModel.find({ month: MONTH }).lean();
    const rows: Row[] = [];
    for (const code of [TREE.townshipA.code, TREE.townshipB.code]) {
      const mine = all.filter((c) => c.townshipCode === code);
      if (mine.length > 0)
        rows.push({ townshipCode: code, clicks: mine.length, uniqueClicks: mine.filter((c) => c.first).length });
    }
    return {
      rows,
      total: rows.reduce((n, r) => n + r.clicks, 0),
      unique: rows.reduce((n, r) => n + r.uniqueClicks, 0),
    };
  };

  it('writes the intent and the click on the request path, nothing on the claims or the tallies', async () => {
    // A first click warms what a process reads once (the link's region directory, …).
    await click(TREE.villageA.code, '10.7.0.1');
    const perClick: number[] = [];
    for (let i = 0; i < 6; i++) {
      // New visitors, and a visitor's second click (this process keeps its next click number).
      const from = `10.7.1.${i % 3}`;
      const commands = await commandsDuring(() => click(TREE.villageA.code, from));
      expect(commands.filter((c) => c.collection === 'claims' || c.collection === 'clicktallies')).toEqual([]);
      perClick.push(commands.length);
      // Applied between requests, so that no batch's commands fall inside the next request.
      await t.ctx.tracking.clicks.inRegion([MONTH], TREE.province.code);
    }
    // The link (1), the intent (1), the click (1): today's code spent ~12 (a claim, every
    // tally document read and written, the intent deleted) before the redirect.
    expect(Math.max(...perClick)).toBeLessThanOrEqual(3);
    expect(await table()).toEqual(await raw());
  });

  it('counts a burst of 500 clicks from 58 visitors exactly, one id per batch in the tallies', {
    timeout: 120_000,
  }, async () => {
    const jobs: [string, string][] = [];
    for (let v = 0; v < 58; v++) {
      const from = `10.8.${v >> 8}.${v & 255}`;
      // Some visitors past their daily cap of 10 on a link; some on the link naming no village.
      const village = v % 10 === 9 ? 'none' : v % 2 === 0 ? TREE.villageA.code : TREE.villageB.code;
      for (let n = 0; n < (v % 7 === 0 ? 12 : 8); n++) jobs.push([village, from]);
    }
    expect(jobs).toHaveLength(500);
    const before = await ClickModel.countDocuments({});
    // 50 at a time, interleaved.
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < jobs.length) {
          const [village, from] = jobs[next++]!;
          await click(village, from);
        }
      }),
    );
    const written = (await ClickModel.countDocuments({})) - before;
    // Every click over the caps was refused (9 visitors clicked 12 times: 2 each).
    expect(written).toBe(500 - 9 * 2);
    expect(await table()).toEqual(await raw());
    expect(await ClickTallyIntentModel.countDocuments({})).toBe(0);
    // One id per batch, not one per click (today's code: 500 in the province's document).
    const docs = await ClickTallyModel.find({}, { ids: 1 }).lean<{ _id: string; ids?: string[] }[]>();
    const province = docs.find((doc) => doc._id === `${MONTH}|${TREE.province.code}`);
    expect(province?.ids?.length ?? 0).toBeGreaterThan(0);
    expect(province!.ids!.length).toBeLessThan(60);
  });

  it('repairs the clicks of a process killed with tallies pending, and a stalled flusher resuming counts nothing twice', {
    timeout: 120_000,
  }, async () => {
    // Two other processes: their flushers never run by themselves (a day apart).
    const processes = [0, 1].map(
      () =>
        new ClickService(
          clock,
          'Asia/Shanghai',
          () => t.ctx.tracking.secret.get(),
          async () => null,
          new ClickTallyFlusher(86_400_000),
        ),
    );
    const [killed, stalled] = processes as [ClickService, ClickService];
    // 120 clicks: more statements than FerretDB 1.24 takes in one update command (db/bulk.ts).
    for (let v = 0; v < 20; v++) {
      const village = v % 2 === 0 ? TREE.villageA.code : TREE.villageB.code;
      for (const service of processes) {
        for (let n = 0; n < 3; n++)
          await service.record(targets.get(village)!, `10.6.${v}.1`, `phone-${service === killed}`);
      }
    }
    // Pending in both: missing from the table (never more than the clicks).
    expect(await ClickTallyIntentModel.countDocuments({})).toBe(120);
    expect((await table()).total).toBe((await raw()).total - 120);
    // Not stale yet: left for their writers.
    const service = t.ctx.tracking.clicks;
    expect(await service.repairTallies(clock.now(), true)).toBe(0);
    // The killed process never flushes; the repair finishes both processes' intents once stale.
    expect(await service.repairTallies(new Date(clock.now().getTime() + INTENT_STALE_MS + 1_000), true)).toBe(120);
    expect(await ClickTallyIntentModel.countDocuments({})).toBe(0);
    expect(await table()).toEqual(await raw());
    // The stalled process resumes: its batch finds its intents gone and counts nothing.
    await stalled.flushTallies();
    expect(await table()).toEqual(await raw());
    // A repair run again (another holder, a retry) finds nothing.
    expect(await service.repairTallies(new Date(clock.now().getTime() + INTENT_STALE_MS + 1_000), true)).toBe(0);

    // A flusher that applied its batch and stalled before deleting the intents: the repair
    // finds them marked with the batch the documents list, and only deletes them.
    const slow = new ClickService(
      clock,
      'Asia/Shanghai',
      () => t.ctx.tracking.secret.get(),
      async () => null,
      new ClickTallyFlusher(86_400_000),
    );
    for (let v = 0; v < 5; v++) await slow.record(targets.get(TREE.villageA.code)!, `10.5.${v}.1`, 'slow');
    const intents = await ClickTallyIntentModel.find({}).lean();
    expect(intents).toHaveLength(5);
    const deletes = await commandsDuring(() => slow.flushTallies());
    expect(deletes.filter((c) => c.collection === 'clicktallyintents' && c.name === 'delete')).toHaveLength(1);
    await ClickTallyIntentModel.insertMany(intents.map((intent) => ({ ...intent, batches: undefined })));
    const marked = await commandsDuring(async () => {
      // As left between the documents' write and the intents' delete: with their marks.
      const applied = await ClickTallyModel.findById(`${MONTH}|${TREE.province.code}`).lean<{ ids: string[] }>();
      const batch = applied!.ids.at(-1)!.split('@')[0]!;
      await ClickTallyIntentModel.updateMany({}, { $set: { batches: [batch] } });
    });
    expect(marked.length).toBeGreaterThan(0);
    expect(await service.repairTallies(new Date(clock.now().getTime() + INTENT_STALE_MS + 1_000), true)).toBe(5);
    expect(await ClickTallyIntentModel.countDocuments({})).toBe(0);
    expect(await table()).toEqual(await raw());
  });

  it('drops old ids from a tally document only once no intent carries them', async () => {
    const id = `${MONTH}|${TREE.city.code}`;
    const long = Date.now() - IDS_KEPT_MS - 60_000;
    const ids = Array.from({ length: 40 }, (_, i) => `old-batch-${i}@${long}`);
    // An intent marked with old batch 3 and an intent of an older writer listed by its own id.
    ids.push(`old-intent@${long}`);
    await ClickTallyModel.updateOne({ _id: id }, { $set: { ids } }, { upsert: true });
    const at = clock.now();
    await ClickTallyIntentModel.insertMany([
      {
        _id: 'carrier',
        visitor: 'v-carrier',
        month: MONTH,
        township: TREE.townshipA.code,
        at,
        batches: ['old-batch-3'],
      },
      { _id: 'old-intent', visitor: 'v-old', month: MONTH, township: TREE.townshipA.code, at },
    ]);
    await click(TREE.villageA.code, '10.4.0.1');
    await t.ctx.tracking.clicks.flushTallies();
    const after = (await ClickTallyModel.findById(id).lean<{ ids: string[] }>())!.ids.map((entry) =>
      entry.slice(0, entry.lastIndexOf('@')),
    );
    expect(after.filter((entry) => entry.startsWith('old'))).toEqual(['old-batch-3', 'old-intent']);
    expect(after).toHaveLength(3);
    await ClickTallyIntentModel.deleteMany({ _id: { $in: ['carrier', 'old-intent'] } });
    expect(await table()).toEqual(await raw());
  });
});

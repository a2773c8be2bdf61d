// A campaign's progress, summaries, deliveries, export and runs read its batches by `_id`
// from the run lists the planner writes (tracking/run-batches.ts), never by scanning the
// ledger by campaign, and stay exactly a full recount of the ledger after plans, sends, an
// officer's confirmation, a cancellation and a retraction; a database written before the
// lists existed is listed once at start with the same figures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRunLists } from '../../src/engine/runs.js';
import { fixedClock } from '../../src/lib/clock.js';
import { countDelivery, zeroCounts } from '../../src/tracking/counts.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { RunBatchListModel, batchIdsOf } from '../../src/tracking/run-batches.js';
import { driverCallsDuring } from '../helpers/commands.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

const start = new Date();
start.setUTCHours(6, 0, 0, 0);
const clock = fixedClock(start);

describe('campaign figures from batches read by _id', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  let groupsA: string[];
  let groupsB: string[];
  let manualGroup: string;
  const campaigns: string[] = [];

  /** The ledger counted by a full scan of the batch collection: the truth the figures must equal. */
  async function recount(campaignId: string, regionCode: string | null = null) {
    const batches = await DeliveryBatchModel.find({ campaignId }).lean();
    const counts = zeroCounts();
    const byStatus = new Map<string, string[]>();
    for (const batch of batches) {
      if (regionCode && !batch.regionPath.includes(regionCode)) continue;
      for (const item of batch.items) {
        countDelivery(counts, item);
        const status = item.status ?? 'pending';
        byStatus.set(status, [...(byStatus.get(status) ?? []), item.groupId]);
      }
    }
    return { counts, byStatus, batchIds: batches.map((b) => String(b._id)).sort() };
  }

  /** Every operation on the ledger and the runs while `read` runs, with its filter. */
  async function readsOf(read: () => Promise<unknown>) {
    return (await driverCallsDuring(read))
      .filter((op) => op.collection === 'deliverybatches' || op.collection === 'occurrences')
      .map(({ collection, method, args }) => ({ collection, method, filter: args[0] }));
  }

  async function get(url: string, token = w.t.adminToken) {
    const response = await w.t.request('GET', url, token);
    expect(response.statusCode, `${url} ${response.body}`).toBe(200);
    return response;
  }

  /** Every figure of every campaign equals the recount, for the admin and for a county editor. */
  async function expectExact() {
    const summaries = (await get(`/api/campaigns/summaries?ids=${campaigns.join(',')}`)).json() as Array<
      Record<string, number | string>
    >;
    for (const campaignId of campaigns) {
      const truth = await recount(campaignId);
      // Every batch that exists is listed on its run.
      const listed = await batchIdsOf(campaignId);
      for (const id of truth.batchIds) expect(listed).toContain(id);
      const progress = (await get(`/api/campaigns/${campaignId}/progress`)).json();
      const expected = {
        total: truth.counts.total,
        queued: truth.counts.pending,
        sent: truth.counts.sent,
        failed: truth.counts.failed,
        uncertain: truth.counts.uncertain,
        awaiting: truth.counts.awaiting,
        confirmed: truth.counts.confirmed,
        skipped: truth.counts.skipped,
        personTimes: truth.counts.reachedMembers,
      };
      expect(progress).toMatchObject(expected);
      expect(summaries.find((s) => s.campaignId === campaignId)).toEqual({ campaignId, ...expected });
      for (const status of ['failed', 'sent', 'awaiting', 'confirmed', 'skipped', 'pending'] as const) {
        const rows = (await get(`/api/campaigns/${campaignId}/deliveries?status=${status}&limit=1000`)).json() as {
          groupId: string;
        }[];
        expect(rows.map((r) => r.groupId).sort(), status).toEqual([...(truth.byStatus.get(status) ?? [])].sort());
      }
      const csv = (await get(`/api/campaigns/${campaignId}/deliveries/export?format=csv`)).body;
      expect(csv.trim().split('\n').length - 1).toBe(truth.counts.total);
      // The county editor of countyA sees countyA's part only.
      const county = await recount(campaignId, TREE.countyA.code);
      const scoped = (await get(`/api/campaigns/${campaignId}/progress`, w.editor)).json();
      expect(scoped.total).toBe(county.counts.total);
      expect(scoped.sent).toBe(county.counts.sent);
    }
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    noticeId = await approvedNotice(w, { title: '防诈骗提醒：按编号读取' });
    groupsA = (await wecomGroups(w, 3, TREE.villageA.code)).map((g) => g.id);
    groupsB = (await wecomGroups(w, 2, TREE.villageB.code)).map((g) => g.id);
    const failing = await w.t.request('POST', '/api/groups', w.t.adminToken, {
      name: '失效机器人群',
      regionCode: TREE.villageA.code,
      channel: { kind: 'wecom', key: 'removed-robot-key' },
      memberCount: 30,
    });
    const manual = await w.t.request('POST', '/api/groups', w.t.adminToken, {
      name: '人工转发群',
      regionCode: TREE.villageA.code,
      channel: { kind: 'manual' },
      memberCount: 480,
      officer: { name: '王警官', phone: '13900000000' },
    });
    manualGroup = manual.json().id as string;
    // The editor's campaign in countyA: sent, failed and an officer's task.
    campaigns.push(
      await approvedCampaign(w, {
        title: '县内推送',
        noticeId,
        audience: audienceOf([], [...groupsA, failing.json().id as string, manualGroup]),
        schedule: { kind: 'now' },
        priority: 'urgent',
      }),
    );
  }, 120_000);
  afterAll(() => w.close());

  it('reads a campaign’s batches by _id only', async () => {
    await runUntilIdle(w);
    const campaignId = campaigns[0]!;
    const reads = await readsOf(async () => {
      await get(`/api/campaigns/${campaignId}/progress`);
      await get(`/api/campaigns/summaries?ids=${campaignId}`);
      await get(`/api/campaigns/${campaignId}/deliveries?status=sent`);
      await get(`/api/campaigns/${campaignId}/deliveries/export?format=csv`);
      await get(`/api/campaigns/${campaignId}/runs`);
    });
    expect(reads.length).toBeGreaterThan(0);
    for (const op of reads) {
      const keys = Object.keys((op.filter ?? {}) as object);
      expect(keys, `${op.collection}.${op.method} ${JSON.stringify(op.filter)}`).toEqual(['_id']);
      expect(typeof (op.filter as { _id: unknown })._id, JSON.stringify(op.filter)).toBe('string');
    }
    await expectExact();
  });

  it('stays exact through an officer’s confirmation, a cancellation and a retraction', async () => {
    const tasks = (await get('/api/manual-tasks')).json() as Array<{ groupId: string; link: string }>;
    const link = new URL(tasks.find((t) => t.groupId === manualGroup)!.link);
    const confirm = await w.t.app.inject({
      method: 'POST',
      url: `${link.pathname.replace(/^\/task\//, '/api/manual-tasks/')}/confirm${link.search}`,
    });
    expect(confirm.statusCode, confirm.body).toBe(200);
    await runUntilIdle(w);
    await expectExact();

    // A city-wide campaign over both counties, cancelled while planned and not yet sent.
    const cityNotice = await approvedNotice(w, { title: '全市提醒' });
    const admin = (await w.t.userToken('editor', TREE.city.code)).token;
    const cityReviewer = (await w.t.userToken('reviewer', TREE.city.code)).token;
    const created = await w.t.request('POST', '/api/campaigns', admin, {
      title: '全市推送',
      noticeId: cityNotice,
      audience: audienceOf([], [...groupsA, ...groupsB]),
      schedule: { kind: 'now' },
      priority: 'normal',
    });
    expect(created.statusCode, created.body).toBe(201);
    const cityId = created.json().id as string;
    await w.t.request('POST', `/api/campaigns/${cityId}/submit`, admin);
    expect((await w.t.request('POST', `/api/campaigns/${cityId}/approve`, cityReviewer)).statusCode).toBe(200);
    campaigns.push(cityId);
    await w.scheduler.tick(); // planned: every delivery pending
    await expectExact();
    expect((await w.t.request('POST', `/api/campaigns/${cityId}/cancel`, admin)).statusCode).toBe(200);
    await runUntilIdle(w);
    await expectExact();

    // A retraction with its follow-up to the notice's recipients (a campaign of its own).
    const followUpNotice = await approvedNotice(w, { title: '撤回说明' });
    const retract = await w.t.request('POST', `/api/campaigns/${campaigns[0]}/retract`, w.editor, {
      followUpNoticeId: followUpNotice,
    });
    expect(retract.statusCode, retract.body).toBe(200);
    const followUp = retract.json().followUp.id as string;
    await w.t.request('POST', `/api/campaigns/${followUp}/approve`, w.reviewer);
    campaigns.push(followUp);
    await runUntilIdle(w);
    await expectExact();
  });

  it('lists a database written before the lists existed once at start, with the same figures', async () => {
    await RunBatchListModel.deleteMany({});
    for (const campaignId of campaigns) expect(await batchIdsOf(campaignId)).toEqual([]);
    await buildRunLists();
    await expectExact();
    const runs = (await get(`/api/campaigns/${campaigns[0]}/runs`)).json();
    expect(runs).toHaveLength(1);
    // Marked built: a second start reads the marker only.
    const reads = await readsOf(() => buildRunLists());
    expect(reads).toEqual([]);
  });
});

// The cases list (协查案件, `GET /api/cases`, the badge) keeps each case's reach under the
// generation of every run (src/cases/kept.ts `GenerationKept`, tracking/run-generation.ts): a
// repeated call reads no run list, run generation, summary or batch, and sends as many
// commands when the wanted notice went out in four runs as in one. The reach stays what the
// ledger gives (groups and villages that received the notice, a group counted once) after new
// runs, after a write to a settled batch, and while a run is still sending.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { listBatches, listNoticeRun, listRun } from '../../src/tracking/run-batches.js';
import { runWriteDone, runWriteStarting } from '../../src/tracking/run-generation.js';
import { receivedIt, summarizeRun } from '../../src/tracking/run-summaries.js';
import { commandsDuring } from '../helpers/commands.js';
import { TREE } from '../helpers/regions.js';
import { startWantedWorld, type WantedWorld } from '../residents/world.js';

const REACH = ['runbatchlists', 'rungenerations', 'runsummaries', 'deliverybatches'];
const PATH = ['000000', TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code];

describe('the cases list keeps each case’s reach under the runs’ generation', () => {
  let w: WantedWorld;
  beforeAll(async () => {
    w = await startWantedWorld();
  }, 180_000);
  afterAll(() => w.close());

  const list = async () => {
    const response = await w.t.request('GET', '/api/cases', w.t.adminToken);
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as { cases: { noticeId: string; reached: { groupCount: number; villageCount: number } }[] };
  };

  /** The notice's reach from its batches: every group and village that received it, once. */
  async function fromLedger() {
    const groups = new Set<string>();
    const villages = new Set<string>();
    const batches = await DeliveryBatchModel.find({ noticeId: w.noticeId }).lean<
      { items: { groupId: string; channel: string; status?: string; villageCode: string }[] }[]
    >();
    for (const batch of batches)
      for (const item of batch.items)
        if (receivedIt(item)) {
          groups.add(item.groupId);
          villages.add(item.villageCode);
        }
    return { groupCount: groups.size, villageCount: villages.size };
  }

  async function expectExact() {
    const served = (await list()).cases.find((c) => c.noticeId === w.noticeId);
    expect(served?.reached).toEqual(await fromLedger());
  }

  /** A run of the notice through a campaign of its own, as the planner leaves it. */
  async function writeRun(
    day: number,
    statuses: string[],
    campaignId = new mongoose.Types.ObjectId().toHexString(),
    channel = 'wecom',
  ) {
    const occurrenceId = `${campaignId}@2025-07-${String(10 + day).padStart(2, '0')}T02:00:00.000Z`;
    const items = statuses.map((status, i) => ({
      groupId: new mongoose.Types.ObjectId().toHexString(),
      groupName: `群${day}-${i}`,
      channel,
      memberCount: 10,
      villageCode: i % 2 ? TREE.villageA.code : `${TREE.townshipA.code}9${day}${i}`,
      villageName: '',
      townshipName: '',
      status,
      attempts: status === 'pending' ? 0 : 1,
      lastError: null,
      sentAt: null,
    }));
    const counts: Record<string, number> = { total: items.length, pending: 0, sent: 0, failed: 0 };
    for (const item of items) counts[item.status] = (counts[item.status] ?? 0) + 1;
    const batchId = `${occurrenceId}|${PATH[4]}|1`;
    await listRun(campaignId, occurrenceId);
    await listNoticeRun(w.noticeId, occurrenceId);
    await listBatches(campaignId, occurrenceId, [batchId]);
    await DeliveryBatchModel.collection.insertOne({
      _id: batchId,
      occurrenceId,
      campaignId,
      noticeId: w.noticeId,
      category: 'wanted_clue',
      priority: 'urgent',
      cardStyle: 'text',
      regionPath: PATH,
      countyCode: PATH[3],
      townshipCode: PATH[4],
      day: `2025-07-${String(10 + day).padStart(2, '0')}`,
      month: '2025-07',
      items,
      dueAt: (counts.pending ?? 0) > 0 ? new Date(START_MS) : null,
      lease: { epoch: 0, until: null, owner: null },
      counts,
      createdAt: new Date(START_MS),
      updatedAt: new Date(START_MS),
    } as never);
    return { occurrenceId, batchId };
  }
  const START_MS = Date.parse('2025-07-10T02:00:00Z');

  /** The collections one call reads; the generation of every run (one `_id` read) apart. */
  const commandsOfList = async () =>
    (await commandsDuring(list)).map((c) =>
      c.collection === 'rungenerations' && c.filter?._id === 'campaign|*' ? 'the runs’ generation' : c.collection,
    );

  it('when the notice went out in four runs instead of one, then a repeated call sends as many commands and reads no run', async () => {
    await expectExact();
    const one = await commandsOfList();
    expect(one.filter((c) => REACH.includes(c))).toEqual([]);
    for (let day = 1; day <= 3; day += 1) {
      const run = await writeRun(day, ['sent', 'sent', 'failed', day === 2 ? 'uncertain' : 'sent']);
      await summarizeRun(run.occurrenceId, new Date());
    }
    await expectExact();
    const four = await commandsOfList();
    expect(four.filter((c) => REACH.includes(c))).toEqual([]);
    expect(four.length).toBe(one.length);
  }, 300_000);

  it('when a settled batch is written, or a run is still sending, then the reach is the ledger’s', async () => {
    const settled = await writeRun(5, ['sent', 'sent', 'sent']);
    await summarizeRun(settled.occurrenceId, new Date());
    await expectExact();
    await list();
    // A late report: one sent delivery failed after all (the writer's bumps around it).
    const until = new Date(Date.now() + 60_000);
    await runWriteStarting(settled.occurrenceId, until);
    await DeliveryBatchModel.updateOne(
      { _id: settled.batchId },
      { $set: { 'items.0.status': 'failed', 'counts.sent': 2, 'counts.failed': 1 } },
    );
    await runWriteDone(settled.occurrenceId, until);
    await expectExact();
    // A run still sending: its deliveries land without a bump, and each call shows them.
    const sending = await writeRun(6, ['pending', 'pending', 'sent']);
    await expectExact();
    await DeliveryBatchModel.updateOne({ _id: sending.batchId }, { $set: { 'items.0.status': 'sent' } });
    await expectExact();
    await DeliveryBatchModel.updateOne(
      { _id: sending.batchId },
      { $set: { 'items.1.status': 'sent', 'counts.pending': 0, 'counts.sent': 3, dueAt: null } },
    );
    await expectExact();
    // Settled and summarized: kept again.
    await summarizeRun(sending.occurrenceId, new Date());
    await list();
    expect((await commandsOfList()).filter((c) => REACH.includes(c))).toEqual([]);
    await expectExact();
  }, 300_000);

  it('when a follow-up waits for its officers, then the count is the ledger’s and a repeated call reads none of it', async () => {
    const solved = await w.t.request('POST', `/api/cases/${w.noticeId}/solve`, w.editor, { kind: 'caught' });
    expect(solved.statusCode, solved.body).toBe(200);
    const followUp = (
      solved.json() as { outcomes: { kind: string; followUpCampaignId: string | null }[] }
    ).outcomes.find((o) => o.kind === 'caught')!.followUpCampaignId!;
    // Its run, sent to officers (manual): three awaiting, one confirmed (day 9: the tasks are still chased).
    const run = await writeRun(9, ['awaiting', 'awaiting', 'confirmed', 'awaiting'], followUp, 'manual');
    await summarizeRun(run.occurrenceId, new Date());
    const awaitingOf = async () => {
      const served = (await list()) as unknown as {
        cases: {
          noticeId: string;
          outcomes: { followUpCampaignId: string | null; followUpAwaitingOfficers: number }[];
        }[];
      };
      return served.cases
        .find((c) => c.noticeId === w.noticeId)!
        .outcomes.find((o) => o.followUpCampaignId === followUp)!.followUpAwaitingOfficers;
    };
    const fromBatches = async () =>
      (await DeliveryBatchModel.find({ campaignId: followUp }).lean<{ items: { status: string }[] }[]>())
        .flatMap((batch) => batch.items)
        .filter((item) => item.status === 'awaiting').length;
    expect(await awaitingOf()).toBe(3);
    expect(await awaitingOf()).toBe(await fromBatches());
    const repeated = await commandsOfList();
    expect(repeated.filter((c) => [...REACH, 'campaigns', 'notices'].includes(c))).toEqual([]);
    // An officer confirms one (the holder's bumps around its write).
    const until = new Date(Date.now() + 60_000);
    await runWriteStarting(run.occurrenceId, until);
    await DeliveryBatchModel.updateOne({ _id: run.batchId }, { $set: { 'items.0.status': 'confirmed' } });
    await runWriteDone(run.occurrenceId, until);
    expect(await awaitingOf()).toBe(2);
    expect(await awaitingOf()).toBe(await fromBatches());
    await expectExact();
  }, 300_000);
});

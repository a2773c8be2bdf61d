// A campaign's deliveries page (投递明细) against the ledger, for the tracking tests: the rows
// of a status recounted from the batches by a full scan, the page as the API lists it, and the
// two compared for the province admin and county A's editor.
import mongoose from 'mongoose';
import { expect } from 'vitest';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { listBatches, listRun } from '../../src/tracking/run-batches.js';
import type { TestApp } from './app.js';
import { TREE } from './regions.js';

export interface PageRow {
  groupId: string;
  status: string;
  lastError: string | null;
}

type LedgerBatch = {
  _id: string;
  regionPath: string[];
  items: { groupId: string; status?: string; lastError: string | null }[];
};

/** The campaign's batches by a full scan, in `_id` order. */
function readLedger(campaignId: string): Promise<LedgerBatch[]> {
  return DeliveryBatchModel.find({ campaignId }).sort({ _id: 1 }).lean<LedgerBatch[]>();
}

/** The rows of a status among the scanned batches, inside a county or not. */
function rowsOf(batches: LedgerBatch[], status: string, county: string | null): (PageRow & { batch: string })[] {
  const rows: (PageRow & { batch: string })[] = [];
  for (const batch of batches) {
    if (county && !batch.regionPath.includes(county)) continue;
    for (const item of batch.items)
      if ((item.status ?? 'pending') === status)
        rows.push({ groupId: item.groupId, status, lastError: item.lastError, batch: batch._id });
  }
  return rows;
}

/** The ledger's rows of a status by a full scan, in batch `_id` order, inside a county or not. */
export async function recountDeliveries(
  campaignId: string,
  status: string,
  county: string | null,
): Promise<(PageRow & { batch: string })[]> {
  return rowsOf(await readLedger(campaignId), status, county);
}

/** One page of the campaign's deliveries of a status, as the API lists it. */
export async function listDeliveries(
  t: TestApp,
  campaignId: string,
  status: string,
  limit: number,
  token = t.adminToken,
): Promise<PageRow[]> {
  const response = await t.request(
    'GET',
    `/api/campaigns/${campaignId}/deliveries?status=${status}&limit=${limit}`,
    token,
  );
  expect(response.statusCode, response.body).toBe(200);
  return (response.json() as PageRow[]).map((row) => ({
    groupId: row.groupId,
    status: row.status,
    lastError: row.lastError,
  }));
}

/**
 * Each status and page size, `rounds` times in a row, for the admin and county A's editor, equal
 * the recount. The ledger is scanned once per call and every status's rows taken from that scan:
 * nothing writes in between, so each is the same recount as a scan of its own (which read the
 * whole campaign ten to fourteen times per call, most of these files' database time).
 */
export async function expectPagesExact(
  t: TestApp,
  editorA: string,
  campaignId: string,
  statuses: readonly string[],
  limits: readonly number[],
  rounds = 1,
): Promise<void> {
  const batches = await readLedger(campaignId);
  for (const [token, county] of [
    [t.adminToken, null],
    [editorA, TREE.countyA.code],
  ] as const) {
    for (const status of statuses) {
      const all = rowsOf(batches, status, county).map(({ batch: _, ...row }) => row);
      for (const limit of limits)
        for (let round = 0; round < rounds; round += 1)
          expect(
            await listDeliveries(t, campaignId, status, limit, token),
            `${status} ${limit} ${county} ${round}`,
          ).toEqual(all.slice(0, limit));
    }
  }
}

export const PATH_A = ['000000', TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code];
export const PATH_B = ['000000', TREE.province.code, TREE.city.code, TREE.countyB.code, TREE.townshipB.code];

/**
 * One run's batches of five groups as the engine leaves them, written directly: the run listed,
 * its batches listed, then inserted (run-batches.ts' order). `inB` puts a batch in county B.
 */
export async function writeRunBatches(run: {
  campaignId: string;
  occurrenceId: string;
  noticeId: string;
  at: Date;
  batches: number;
  statusOf: (batch: number, item: number) => string;
  inB: (batch: number) => boolean;
  /** Group names: `<label><batch>-<item>`. */
  label: string;
  /** A batch with pending items is due at `at` (a run still sending); otherwise none is due. */
  dueWhenPending?: boolean;
  epoch?: number;
}): Promise<string[]> {
  const docs = [];
  for (let b = 0; b < run.batches; b += 1) {
    const path = run.inB(b) ? PATH_B : PATH_A;
    const items = Array.from({ length: 5 }, (_, i) => {
      const status = run.statusOf(b, i);
      return {
        groupId: new mongoose.Types.ObjectId().toHexString(),
        groupName: `${run.label}${b}-${i}`,
        channel: 'wecom',
        memberCount: 10 + i,
        villageCode: path === PATH_A ? TREE.villageA.code : TREE.villageB.code,
        villageName: path === PATH_A ? TREE.villageA.name : TREE.villageB.name,
        townshipName: path === PATH_A ? TREE.townshipA.name : TREE.townshipB.name,
        status,
        attempts: status === 'skipped' || status === 'pending' ? 0 : 1,
        lastError: status === 'failed' ? `机器人已被移除 ${run.label}${b}-${i}` : null,
        sentAt: status === 'sent' ? new Date(run.at.getTime() + 60_000) : null,
      };
    });
    const counts: Record<string, number> = {
      total: 5,
      pending: 0,
      sent: 0,
      failed: 0,
      uncertain: 0,
      awaiting: 0,
      confirmed: 0,
      skipped: 0,
    };
    for (const item of items) counts[item.status] = (counts[item.status] ?? 0) + 1;
    docs.push({
      _id: `${run.occurrenceId}|${path[4]}|${String(b + 1).padStart(3, '0')}`,
      occurrenceId: run.occurrenceId,
      campaignId: run.campaignId,
      noticeId: run.noticeId,
      category: 'anti_fraud',
      priority: 'normal',
      cardStyle: 'rich',
      regionPath: path,
      countyCode: path[3],
      townshipCode: path[4],
      day: run.at.toISOString().slice(0, 10),
      month: run.at.toISOString().slice(0, 7),
      items,
      dueAt: run.dueWhenPending && (counts.pending ?? 0) > 0 ? run.at : null,
      lease: { epoch: run.epoch ?? 0, until: null, owner: null },
      counts,
      createdAt: run.at,
      updatedAt: run.at,
    });
  }
  await listRun(run.campaignId, run.occurrenceId);
  await listBatches(
    run.campaignId,
    run.occurrenceId,
    docs.map((doc) => doc._id),
  );
  await DeliveryBatchModel.collection.insertMany(docs as never[]);
  return docs.map((doc) => doc._id);
}

// A campaign's deliveries page (投递明细) against the ledger, for the tracking tests: the rows
// of a status recounted from the batches by a full scan, the page as the API lists it, and the
// two compared for the province admin and county A's editor.
import { expect } from 'vitest';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import type { TestApp } from './app.js';
import { TREE } from './regions.js';

export interface PageRow {
  groupId: string;
  status: string;
  lastError: string | null;
}

/** The ledger's rows of a status by a full scan, in batch `_id` order, inside a county or not. */
export async function recountDeliveries(
  campaignId: string,
  status: string,
  county: string | null,
): Promise<(PageRow & { batch: string })[]> {
  const batches = await DeliveryBatchModel.find({ campaignId })
    .sort({ _id: 1 })
    .lean<{ _id: string; regionPath: string[]; items: { groupId: string; status?: string; lastError: string | null }[] }[]>();
  const rows: (PageRow & { batch: string })[] = [];
  for (const batch of batches) {
    if (county && !batch.regionPath.includes(county)) continue;
    for (const item of batch.items)
      if ((item.status ?? 'pending') === status)
        rows.push({ groupId: item.groupId, status, lastError: item.lastError, batch: batch._id });
  }
  return rows;
}

/** One page of the campaign's deliveries of a status, as the API lists it. */
export async function listDeliveries(
  t: TestApp,
  campaignId: string,
  status: string,
  limit: number,
  token = t.adminToken,
): Promise<PageRow[]> {
  const response = await t.request('GET', `/api/campaigns/${campaignId}/deliveries?status=${status}&limit=${limit}`, token);
  expect(response.statusCode, response.body).toBe(200);
  return (response.json() as PageRow[]).map((row) => ({ groupId: row.groupId, status: row.status, lastError: row.lastError }));
}

/** Each status and page size, `rounds` times in a row, for the admin and county A's editor, equal the recount. */
export async function expectPagesExact(
  t: TestApp,
  editorA: string,
  campaignId: string,
  statuses: readonly string[],
  limits: readonly number[],
  rounds = 1,
): Promise<void> {
  for (const [token, county] of [
    [t.adminToken, null],
    [editorA, TREE.countyA.code],
  ] as const) {
    for (const status of statuses) {
      const all = (await recountDeliveries(campaignId, status, county)).map(({ batch: _, ...row }) => row);
      for (const limit of limits)
        for (let round = 0; round < rounds; round += 1)
          expect(await listDeliveries(t, campaignId, status, limit, token), `${status} ${limit} ${county} ${round}`).toEqual(
            all.slice(0, limit),
          );
    }
  }
}

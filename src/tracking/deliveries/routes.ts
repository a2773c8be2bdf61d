// The deliveries of a campaign in given states (the campaign page's 失败 and 不确定 tables),
// with the reason each one gave. Read from the batches the engine writes, by `_id`, only those
// a page shows where the run's status lists name them (issue 25); scope-filtered. A page of a
// campaign whose runs are all settled is kept under the campaign's generation (kept-pages.ts):
// a repeated call reads the campaign and its generation, whatever the campaign's size.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ANY_ROLE } from '../../auth/roles.js';
import { OccurrenceModel } from '../../engine/model.js';
import { allow, principal } from '../../http/access.js';
import { DateTime, IdParams, Nullable } from '../../lib/schemas.js';
import type { Scope } from '../../regions/scope.js';
import type { RegionService } from '../../regions/service.js';
import { withFixedItems } from '../batch-fixed.js';
import { visibleCampaign } from '../campaign-lookup.js';
import { type BatchItem, DeliveryBatchModel } from '../model.js';
import { batchIdsOfRun, mapLimited, runIdsOf } from '../run-batches.js';
import { campaignGeneration } from '../run-generation.js';
import { LISTED_STATUSES, type ListedStatus, statusBatches } from '../run-summaries.js';
import { type BuiltPage, KeptDeliveryPages } from './kept-pages.js';

const LISTED = LISTED_STATUSES;

interface ListedBatch {
  regionPath: string[];
  items: BatchItem[];
  day: string;
  counts?: Record<string, number>;
  fixedId?: string | null;
}
const PROJECTION = { regionPath: 1, items: 1, day: 1, counts: 1, fixedId: 1 } as const;

interface DeliveryRowValue {
  groupId: string;
  groupName: string;
  channel: string;
  townshipName: string;
  villageName: string;
  memberCount: number;
  status: string;
  attempts: number;
  lastError: string | null;
  sentAt: Date | null;
  runDay: string;
}

export const DeliveryListQuery = Type.Object(
  {
    status: Type.Union(
      LISTED.map((s) => Type.Literal(s)),
      { description: '发送状态', default: 'failed' },
    ),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  },
  { additionalProperties: false },
);

const DeliveryRow = Type.Object({
  groupId: Type.String(),
  groupName: Type.String(),
  channel: Type.String(),
  townshipName: Type.String(),
  villageName: Type.String(),
  memberCount: Type.Integer(),
  status: Type.String(),
  attempts: Type.Integer(),
  lastError: Nullable(Type.String()),
  sentAt: Nullable(DateTime),
  runDay: Type.String(),
});

/** A batch a page may read: with its count of the status when its run's status list knows it. */
interface Candidate {
  id: string;
  /** null: the run has no current status list (still sending, or never listed): read to know. */
  count: number | null;
}

/** Concurrent `_id` reads of a page's batches. */
const READ_LANES = 8;

/** Occurrence states after which a run with no batch listed never gets one. */
const NO_MORE_BATCHES = new Set(['skipped', 'planned']);

/** The pages kept by this process (kept-pages.ts). */
const kept = new KeptDeliveryPages<DeliveryRowValue>();

/**
 * The campaign's deliveries in `status`, in batch `_id` order, `limit` at most: kept while the
 * campaign's generation is unchanged and every run was settled when read (kept-pages.ts).
 */
export async function listDeliveries(
  regions: RegionService,
  scope: Scope,
  campaignId: string,
  status: ListedStatus,
  limit: number,
): Promise<DeliveryRowValue[]> {
  // Started before anything the page is read from (the contract of kept-pages.ts).
  const generation = campaignGeneration(campaignId);
  await visibleCampaign(regions, scope, campaignId);
  return kept.page(
    { campaignId, status, scopeCode: scope.regionCode, limit },
    () => readDeliveries(scope, campaignId, status, limit),
    generation,
  );
}

/**
 * The page read from the ledger. Settled runs name the batches holding the status and how many
 * (run-summaries.ts `statusBatches`), so a page reads only the batches whose rows it shows; a
 * run still sending (or not yet listed) is read batch by batch from its batch list, as before,
 * until the page is full, and makes the page not keepable.
 */
async function readDeliveries(
  scope: Scope,
  campaignId: string,
  status: ListedStatus,
  limit: number,
): Promise<BuiltPage<DeliveryRowValue>> {
  const inside = (path: readonly string[]) => scope.contains(path);
  let keepable = true;
  const perRun = await mapLimited(await runIdsOf(campaignId), READ_LANES, async (run): Promise<Candidate[]> => {
    const known = await statusBatches(run, status);
    if (known) return known.filter((batch) => inside(batch.regionPath)).map(({ id, count }) => ({ id, count }));
    const listed = await batchIdsOfRun(run);
    // A run with no batch that can get none any more (skipped, or planned empty) adds nothing.
    if (listed.length > 0) keepable = false;
    else {
      const occurrence = await OccurrenceModel.findById(run, { status: 1 }).lean<{ status?: string }>();
      if (!NO_MORE_BATCHES.has(occurrence?.status ?? '')) keepable = false;
    }
    return listed.map((id) => ({ id, count: null }));
  });
  const candidates = perRun.flat().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const rows: DeliveryRowValue[] = [];
  for (let at = 0; at < candidates.length && rows.length < limit; ) {
    // A window of reads, no more than the page still needs where the counts are known.
    const window: Candidate[] = [];
    let expected = rows.length;
    while (at < candidates.length && window.length < READ_LANES && expected < limit) {
      const candidate = candidates[at++]!;
      window.push(candidate);
      expected += candidate.count ?? 0;
    }
    const read = await Promise.all(
      window.map((candidate) => DeliveryBatchModel.findById(candidate.id, PROJECTION).lean<ListedBatch>()),
    );
    for (const doc of read) {
      if (!doc || !inside(doc.regionPath ?? [])) continue;
      // `sending` counts as pending.
      if (status !== 'pending' && !((doc.counts?.[status] ?? 0) > 0)) continue;
      if (!doc.items.some((item) => (item.status ?? 'pending') === status)) continue;
      // Names of the packed layout are in the batch's packed part (tracking/batch-fixed.ts).
      const batch = await withFixedItems(doc);
      for (const item of batch.items) {
        if ((item.status ?? 'pending') !== status) continue;
        rows.push({
          groupId: item.groupId,
          groupName: item.groupName,
          channel: item.channel,
          townshipName: item.townshipName ?? '',
          villageName: item.villageName ?? '',
          memberCount: item.memberCount,
          status: item.status ?? 'pending',
          attempts: item.attempts ?? 0,
          lastError: item.lastError ?? null,
          sentAt: item.sentAt ?? null,
          runDay: batch.day,
        });
        if (rows.length >= limit) return { rows, keepable };
      }
    }
  }
  return { rows, keepable };
}

export const deliveryListRoutes: FastifyPluginAsyncTypebox<{ regions: RegionService }> = async (app, { regions }) => {
  app.get(
    '/api/campaigns/:id/deliveries',
    {
      config: allow(ANY_ROLE, 'campaign'),
      schema: {
        tags: ['tracking'],
        summary: '推送某一状态的发送明细（如失败、不确定，含原因）',
        params: IdParams,
        querystring: DeliveryListQuery,
        response: { 200: Type.Array(DeliveryRow) },
      },
    },
    async (request) =>
      listDeliveries(regions, principal(request).scope, request.params.id, request.query.status, request.query.limit),
  );
};

// The deliveries of a campaign in given states (the campaign page's 失败 and 不确定 tables),
// with the reason each one gave. Read from the batches the engine writes; scope-filtered.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ANY_ROLE } from '../../auth/roles.js';
import { allow, principal } from '../../http/access.js';
import { DateTime, IdParams, Nullable } from '../../lib/schemas.js';
import type { Scope } from '../../regions/scope.js';
import type { RegionService } from '../../regions/service.js';
import { visibleCampaign } from '../campaign-lookup.js';
import { withFixedItems } from '../batch-fixed.js';
import type { BatchItem } from '../model.js';
import { eachBatchOf } from '../run-batches.js';

const LISTED = ['failed', 'uncertain', 'skipped', 'pending', 'sent', 'awaiting', 'confirmed'] as const;

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

export async function listDeliveries(
  regions: RegionService,
  scope: Scope,
  campaignId: string,
  status: (typeof LISTED)[number],
  limit: number,
) {
  await visibleCampaign(regions, scope, campaignId);
  const rows = [];
  // The campaign's own batches by `_id`, in `_id` order (tracking/run-batches.ts); batches keep
  // per-state counts, so those without the state are passed over.
  const batches = eachBatchOf<{
    regionPath: string[];
    items: BatchItem[];
    day: string;
    counts?: Record<string, number>;
    fixedId?: string | null;
  }>(campaignId, { regionPath: 1, items: 1, day: 1, counts: 1, fixedId: 1 }, (path) => scope.contains(path));
  for await (const read of batches) {
    // `sending` counts as pending.
    if (status !== 'pending' && !((read.counts?.[status] ?? 0) > 0)) continue;
    if (!read.items.some((item) => (item.status ?? 'pending') === status)) continue;
    // Names of the packed layout are in the batch's packed part (tracking/batch-fixed.ts).
    const batch = await withFixedItems(read);
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
      if (rows.length >= limit) return rows;
    }
  }
  return rows;
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

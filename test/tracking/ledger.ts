// Builds ledger fixtures the way the engine writes them: a whole batch document (items and
// the counts derived from them) per write, followed by the change marker.
import { CampaignModel } from '../../src/campaigns/model.js';
import type { Context } from '../../src/context.js';
import { countItems } from '../../src/tracking/counts.js';
import { type BatchItem, DeliveryBatchModel } from '../../src/tracking/model.js';
import { listBatches, listRun } from '../../src/tracking/run-batches.js';

export interface FixtureItem {
  groupId: string;
  villageCode: string;
  memberCount: number;
  status: BatchItem['status'];
  groupName?: string;
}

export interface FixtureBatch {
  id: string;
  campaignId: string;
  category: string;
  day: string;
  regionPath: string[];
  items: FixtureItem[];
}

export async function createCampaign(regionPath: string[], title = '反诈宣传'): Promise<string> {
  const doc = await CampaignModel.create({
    title,
    noticeId: '0123456789abcdef01234567',
    audience: { regionCodes: [regionPath.at(-1)!] },
    schedule: { kind: 'now' },
    authorId: 'author',
    authorName: '作者',
    regionCode: regionPath.at(-1)!,
    regionPath,
    status: 'approved',
  });
  return String(doc._id);
}

export async function writeBatch(ctx: Context, batch: FixtureBatch): Promise<void> {
  const items = batch.items.map((item) => ({
    groupId: item.groupId,
    groupName: item.groupName ?? `群${item.groupId.slice(-4)}`,
    channel: 'wecom',
    robotKey: `robot-${item.groupId}`,
    memberCount: item.memberCount,
    villageCode: item.villageCode,
    villageName: `村${item.villageCode.slice(-3)}`,
    townshipName: '五山街道',
    status: item.status,
    attempts: item.status === 'pending' ? 0 : 1,
    sentAt: item.status === 'sent' ? new Date(`${batch.day}T02:00:00Z`) : null,
  }));
  const townshipCode = batch.regionPath.at(-1)!;
  // Listed on its run first, as the planner does (tracking/run-batches.ts).
  const occurrenceId = batch.id.split('|')[0]!;
  await listRun(batch.campaignId, occurrenceId);
  await listBatches(batch.campaignId, occurrenceId, [batch.id]);
  await DeliveryBatchModel.replaceOne(
    { _id: batch.id },
    {
      _id: batch.id,
      occurrenceId,
      campaignId: batch.campaignId,
      noticeId: '0123456789abcdef01234567',
      category: batch.category,
      priority: 'normal',
      cardStyle: 'rich',
      regionPath: batch.regionPath,
      countyCode: batch.regionPath.at(-2)!,
      townshipCode,
      day: batch.day,
      month: batch.day.slice(0, 7),
      items,
      dueAt: null,
      counts: countItems(items as never),
    },
    { upsert: true },
  );
  await ctx.tracking.rollups.batchesWritten([batch.id]);
}

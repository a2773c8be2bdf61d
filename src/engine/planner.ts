// The planner: an occurrence becomes delivery batches, one township at a time, at most
// BATCH_SIZE groups each. Batch keys are (occurrence, township, part) and are inserted,
// never updated, so a planner that dies half-way is simply run again by the next one.
import type { AudienceSpec } from '../campaigns/ports.js';
import type { CampaignService } from '../campaigns/service.js';
import { type QuietHours, localDay } from '../campaigns/schedule.js';
import { acquireLease } from '../db/claims.js';
import type { RegionService } from '../regions/service.js';
import { countItems } from '../tracking/counts.js';
import { groupsThatReceivedNotice, noticeStillSending } from '../tracking/recipients.js';
import { BATCH_SIZE, type BatchItem, DeliveryBatchModel } from '../tracking/model.js';
import { OccurrenceModel, type OccurrenceDoc, QueueEntryModel } from './model.js';
import type { EnginePorts } from './ports.js';

export interface PlannerDeps {
  campaigns: CampaignService;
  regions: RegionService;
  ports: EnginePorts;
  timeZone: string;
  quietHours: QuietHours;
}

const PLANNING_LEASE_MS = 5 * 60_000;

/**
 * Chat robots, each of which lives in one group chat (reference §1–3): two groups with one
 * robot are one chat (issue 20, defect 15), so a run posts there once. Not the generic
 * webhook (a county platform may serve many groups at one URL, the group named in the body),
 * nor manual and WeCom customer groups (a robotKey per group).
 */
const SHARED_ROBOT_CHANNELS = new Set(['wecom', 'dingtalk', 'feishu']);

/** The delivery a later group of the same robot follows. */
interface Via {
  batchId: string;
  groupId: string;
  groupName: string;
}

type PlanOutcome = 'planned' | 'skipped' | 'deferred' | 'busy';

function isDuplicateOnly(error: unknown): boolean {
  const writeErrors = (error as { writeErrors?: { code?: number; err?: { code?: number } }[] }).writeErrors;
  return Array.isArray(writeErrors) && writeErrors.every((e) => (e.code ?? e.err?.code) === 11000);
}

async function insertIgnoringDuplicates(insert: () => Promise<unknown>): Promise<void> {
  try {
    await insert();
  } catch (error) {
    if (!isDuplicateOnly(error)) throw error;
  }
}

/** What an earlier, interrupted planning of the occurrence already wrote. */
async function plannedSoFar(occurrenceId: string) {
  const batches = await DeliveryBatchModel.find(
    { occurrenceId },
    {
      townshipCode: 1,
      'items.groupId': 1,
      'items.groupName': 1,
      'items.memberCount': 1,
      'items.channel': 1,
      'items.robotKey': 1,
      'items.via': 1,
    },
  ).lean<
    {
      _id: string;
      townshipCode: string;
      items: { groupId: string; groupName: string; memberCount: number; channel: string; robotKey: string; via?: Via | null }[];
    }[]
  >();
  const groups = new Set<string>();
  const parts = new Map<string, number>();
  const robots = new Map<string, Via>();
  let members = 0;
  for (const batch of batches) {
    const part = Number(batch._id.slice(batch._id.lastIndexOf('|') + 1));
    parts.set(batch.townshipCode, Math.max(parts.get(batch.townshipCode) ?? 0, part));
    for (const item of batch.items) {
      groups.add(item.groupId);
      members += item.memberCount;
      if (SHARED_ROBOT_CHANNELS.has(item.channel) && !item.via)
        robots.set(item.robotKey, { batchId: batch._id, groupId: item.groupId, groupName: item.groupName });
    }
  }
  return { groups, parts, members, batches: batches.length, robots };
}

export class Planner {
  constructor(private readonly deps: PlannerDeps) {}

  /** Plans every occurrence waiting for it; returns how many were planned or skipped now. */
  async planPending(owner: string, now: Date): Promise<number> {
    const waiting = await OccurrenceModel.find({ status: 'planning' }).lean<OccurrenceDoc[]>();
    let done = 0;
    for (const occurrence of waiting) {
      const outcome = await this.plan(occurrence, owner, now);
      if (outcome === 'planned' || outcome === 'skipped') done += 1;
    }
    return done;
  }

  private async skip(id: string, reason: string): Promise<PlanOutcome> {
    await OccurrenceModel.updateOne({ _id: id }, { $set: { status: 'skipped', skipReason: reason } });
    return 'skipped';
  }

  /** The notice whose recipients a follow-up goes to (older follow-ups name a campaign). */
  private async followedUpNotice(audience: AudienceSpec): Promise<string | null> {
    if (audience.recipientsOfNotice) return audience.recipientsOfNotice;
    if (!audience.recipientsOf) return null;
    return (await this.deps.campaigns.findForEngine(audience.recipientsOf))?.noticeId ?? null;
  }

  async plan(occurrence: OccurrenceDoc, owner: string, now: Date): Promise<PlanOutcome> {
    const id = occurrence._id as string;
    const current = occurrence.lease?.until ? { epoch: occurrence.lease.epoch, until: occurrence.lease.until } : null;
    const lease = await acquireLease(`occurrence:${id}`, current, owner, now, PLANNING_LEASE_MS);
    if (!lease) return 'busy';
    await OccurrenceModel.updateOne({ _id: id }, { $set: { lease: { ...lease, owner } } });

    const campaign = await this.deps.campaigns.findForEngine(occurrence.campaignId);
    if (!campaign) return this.skip(id, '活动不存在');
    if (campaign.status === 'cancelled') return this.skip(id, '活动已取消');
    // What was approved for this run (copied by the tick), not the campaign as edited since.
    const noticeId = occurrence.noticeId;
    const audience = (occurrence.audience as AudienceSpec | null) ?? campaign.audience;
    const sendable = await this.deps.ports.noticeSendable(noticeId);
    if (!sendable.ok) return this.skip(id, sendable.reason);
    const followedUp = await this.followedUpNotice(audience);
    if (followedUp && (await noticeStillSending(followedUp))) {
      // Let every delivery of the notice settle (the holders see it withdrawn and stop), so
      // the recipients are exact: planned on a later tick.
      await OccurrenceModel.updateOne({ _id: id }, { $set: { 'lease.until': now } });
      return 'deferred';
    }

    const category = await this.deps.ports.noticeCategory(noticeId);
    const scope = await this.deps.regions.scopeOf(campaign.regionCode);
    const source = followedUp
      ? groupsThatReceivedNotice(followedUp)
      : this.deps.ports.selectGroups(scope, audience);
    const day = localDay(occurrence.runAt, this.deps.timeZone);
    const base = {
      occurrenceId: id,
      campaignId: campaign.id,
      noticeId,
      category,
      priority: occurrence.priority,
      cardStyle: occurrence.cardStyle,
      day,
      month: day.slice(0, 7),
      dueAt: occurrence.dueAt,
    };

    // Township buffers: a batch is written as soon as one fills, the rest at the end.
    const buffers = new Map<string, { path: string[]; county: string; parts: number; items: BatchItem[] }>();
    // A re-plan (a planner died part-way): groups already in a batch stay there, and new
    // parts are numbered after the existing ones, so no group is lost in an inserted part or
    // lands in two batches, however the selection changed meanwhile.
    const earlier =
      lease.epoch > 1
        ? await plannedSoFar(id)
        : { groups: new Set<string>(), parts: new Map(), members: 0, batches: 0, robots: new Map<string, Via>() };
    const robots = earlier.robots;
    let batchCount = earlier.batches;
    let deliveryCount = earlier.groups.size;
    let memberTotal = earlier.members;
    const flush = async (township: string) => {
      const buffer = buffers.get(township)!;
      if (buffer.items.length === 0) return;
      buffer.parts += 1;
      const batchId = `${id}|${township}|${buffer.parts}`;
      const items = buffer.items;
      buffer.items = [];
      await insertIgnoringDuplicates(() =>
        DeliveryBatchModel.insertMany(
          [
            {
              _id: batchId,
              ...base,
              regionPath: buffer.path,
              countyCode: buffer.county,
              townshipCode: township,
              items,
              counts: countItems(items),
            },
          ],
          { ordered: false },
        ),
      );
      await insertIgnoringDuplicates(() =>
        QueueEntryModel.insertMany(
          [
            {
              _id: batchId,
              dueAt: occurrence.dueAt,
              rank: occurrence.priority === 'urgent' ? 0 : 1,
              campaignId: campaign.id,
            },
          ],
          { ordered: false },
        ),
      );
      await this.deps.ports.batchesWritten([batchId]);
      batchCount += 1;
    };

    // The source comes in a stable order (group id), so a re-plan cuts the same parts.
    for await (const groups of source) {
      for (const group of groups) {
        if (earlier.groups.has(group.groupId)) continue;
        let buffer = buffers.get(group.townshipCode);
        if (!buffer) {
          const parts = earlier.parts.get(group.townshipCode) ?? 0;
          buffer = { path: group.townshipPath, county: group.countyCode, parts, items: [] };
          buffers.set(group.townshipCode, buffer);
        }
        // One post per robot per run: a later group of the same robot follows the first.
        const via = SHARED_ROBOT_CHANNELS.has(group.channel) ? robots.get(group.robotKey) : undefined;
        if (SHARED_ROBOT_CHANNELS.has(group.channel) && !via)
          robots.set(group.robotKey, {
            batchId: `${id}|${group.townshipCode}|${buffer.parts + 1}`,
            groupId: group.groupId,
            groupName: group.groupName,
          });
        buffer.items.push({
          groupId: group.groupId,
          groupName: group.groupName,
          channel: group.channel,
          robotKey: group.robotKey,
          credentialsSealed: group.credentialsSealed,
          memberCount: group.memberCount,
          villageCode: group.villageCode,
          villageName: group.villageName,
          townshipName: group.townshipName,
          officerName: group.officerName,
          officerPhone: group.officerPhone,
          status: 'pending',
          attempts: 0,
          nextAt: occurrence.dueAt,
          lastError: null,
          sentAt: null,
          via: via ?? null,
        });
        deliveryCount += 1;
        memberTotal += group.memberCount;
        if (buffer.items.length === BATCH_SIZE) await flush(group.townshipCode);
      }
    }
    for (const township of buffers.keys()) await flush(township);

    if (deliveryCount === 0) return this.skip(id, '受众为空：没有可发送的群');
    await OccurrenceModel.updateOne(
      { _id: id },
      { $set: { status: 'planned', batchCount, deliveryCount, memberTotal, plannedAt: now, 'lease.until': now } },
    );
    return 'planned';
  }
}

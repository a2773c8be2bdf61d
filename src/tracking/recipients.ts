// Who received a notice, through any campaign: the audience of a follow-up (retraction,
// "solved", "expired"). A group counts when a delivery of the notice may have reached it:
// sent, uncertain, awaiting (an officer has the task) or confirmed; a WeCom customer group
// only once WeCom reported it sent. Read from the ledger,
// so it is exact once no delivery of the notice is still in flight.
//
// Every read here is of the notice's own batches, by `_id`, from the notice's list of runs
// and each run's list of batches (tracking/run-batches.ts): on FerretDB 1.24 a filter on
// `noticeId` read the whole batch collection, which grows with every run of every campaign.
import { GroupModel } from '../audience/model.js';
import { withFixedItems } from './batch-fixed.js';
import type { BatchDoc, BatchItem } from './model.js';
import { eachBatchOfNotice, mapLimited, runIdsOfNotice, runsOfNotice } from './run-batches.js';
import { noticeReach, receivedIt as receivedByRule, runFigures } from './run-summaries.js';

/** Statuses of a delivery that may have put the notice in front of the group. */
export const RECEIVED_STATUSES: readonly string[] = ['sent', 'uncertain', 'awaiting', 'confirmed'];

/**
 * WeCom customer groups are known exactly: WeCom reports each group sent, so one still
 * awaiting its owner's confirmation has not received the notice (a stop cancels its task).
 * The rule lives with the run summaries, which count the same (tracking/run-summaries.ts).
 */
function receivedIt(item: BatchItem): boolean {
  return receivedByRule(item);
}

/** One group as a delivery snapshots it at planning (what a send needs, no group lookup). */
export interface GroupSnapshot {
  groupId: string;
  groupName: string;
  channel: string;
  robotKey: string;
  credentialsSealed: string;
  memberCount: number;
  villageCode: string;
  villageName: string;
  countyCode: string;
  townshipCode: string;
  townshipName: string;
  townshipPath: string[];
  officerName: string | null;
  officerPhone: string | null;
}

function received(batch: BatchDoc, item: BatchItem): GroupSnapshot {
  return {
    groupId: item.groupId,
    groupName: item.groupName,
    channel: item.channel,
    robotKey: item.robotKey,
    credentialsSealed: item.credentialsSealed,
    memberCount: item.memberCount,
    villageCode: item.villageCode,
    villageName: item.villageName ?? '',
    countyCode: batch.countyCode,
    townshipCode: batch.townshipCode,
    townshipName: item.townshipName ?? '',
    townshipPath: batch.regionPath,
    officerName: item.officerName ?? null,
    officerPhone: item.officerPhone ?? null,
  };
}

/**
 * Every group that received `noticeId` through any campaign, once each, in group-id order
 * (so a re-plan of the follow-up cuts the same batches), in chunks of `chunk`.
 */
export async function* groupsThatReceivedNotice(noticeId: string, chunk = 500): AsyncIterable<GroupSnapshot[]> {
  const byGroup = new Map<string, GroupSnapshot>();
  for await (const read of eachBatchOfNotice<BatchDoc>(noticeId, {})) {
    // Names, robot and credentials of the packed layout are in the batch's packed part.
    const batch = read.items.some(receivedIt) ? await withFixedItems(read) : read;
    for (const item of batch.items) {
      if (receivedIt(item)) byGroup.set(item.groupId, received(batch, item));
    }
  }
  await fillCompactedCredentials(byGroup);
  const ordered = [...byGroup.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  for (let i = 0; i < ordered.length; i += chunk) yield ordered.slice(i, i + chunk);
}

/** Whether a recipient lies in the region `code` (its township path or its village). */
export function recipientIn(group: Pick<GroupSnapshot, 'townshipPath' | 'villageCode'>, code: string): boolean {
  return group.villageCode === code || group.townshipPath.includes(code);
}

/**
 * The recipients of a notice that a follow-up at `regionCode` may reach: those inside that
 * region, minus `excluded` regions (issue 26, finding 10: a follow-up stays inside its
 * campaign's scope; recipients elsewhere get a follow-up of their own county, reviewed there).
 */
export async function* recipientsWithin(
  noticeId: string,
  regionCode: string,
  excluded: readonly string[] = [],
): AsyncIterable<GroupSnapshot[]> {
  for await (const chunk of groupsThatReceivedNotice(noticeId)) {
    const kept = chunk.filter((g) => recipientIn(g, regionCode) && !excluded.some((code) => recipientIn(g, code)));
    if (kept.length > 0) yield kept;
  }
}

/**
 * Deliveries of batches compacted by retention no longer carry the group's credentials: the
 * group's current ones are read from the directory (same sealing). A group deleted since
 * cannot be reached and is left out.
 */
async function fillCompactedCredentials(byGroup: Map<string, GroupSnapshot>): Promise<void> {
  const missing = [...byGroup.values()].filter((g) => !g.credentialsSealed).map((g) => g.groupId);
  for (let i = 0; i < missing.length; i += 500) {
    const ids = missing.slice(i, i + 500);
    const found = new Map(
      (
        await GroupModel.find({ _id: { $in: ids } }, { credentialsSealed: 1 }).lean<
          { _id: unknown; credentialsSealed: string }[]
        >()
      ).map((g) => [String(g._id), g.credentialsSealed] as const),
    );
    for (const id of ids) {
      const sealed = found.get(id);
      if (sealed) byGroup.get(id)!.credentialsSealed = sealed;
      else byGroup.delete(id);
    }
  }
}

/**
 * Whether any delivery of the notice is not yet final (queued, held or in flight). A run with
 * a current summary has nothing pending and no WeCom customer group awaiting when its figures
 * say so; other runs are read from their batches.
 */
export async function noticeStillSending(noticeId: string, now: Date = new Date()): Promise<boolean> {
  for (const run of await runsOfNotice(noticeId)) {
    const figures = await runFigures(run.occurrenceId, now);
    if (figures.pending) return true;
    if (figures.townships.some((row) => row.awaitingWecom > 0)) return true;
  }
  return false;
}

/** Whether the notice was ever planned for delivery (something may have gone out). */
export async function noticeWasPlanned(noticeId: string, now: Date = new Date()): Promise<boolean> {
  for (const run of await runIdsOfNotice(noticeId)) {
    if ((await runFigures(run, now)).townships.length > 0) return true;
  }
  return false;
}

/** How many groups and villages received the notice through any campaign (a case's reach). */
export async function receivedCounts(
  noticeId: string,
  now: Date = new Date(),
): Promise<{ groupCount: number; villageCount: number }> {
  return noticeReach(noticeId, now);
}

/**
 * How many groups and villages received each of these notices through any campaign (the case
 * list): each notice's from its runs' summaries (one `_id` read of the notice's stored reach
 * and one per run) once they have nothing pending, else from its own batches by `_id`. Same
 * rules as `groupsThatReceivedNotice`; a notice never planned gets zeros.
 */
export async function receivedCountsOf(
  noticeIds: readonly string[],
  now: Date = new Date(),
): Promise<Map<string, { groupCount: number; villageCount: number }>> {
  const wanted = [...new Set(noticeIds)];
  const reached = await mapLimited(wanted, 4, (id) => noticeReach(id, now));
  return new Map(wanted.map((id, k) => [id, reached[k]!]));
}

/** Campaigns that have deliveries of the notice (to wake when the notice is withdrawn). */
export async function campaignsWithNotice(noticeId: string): Promise<string[]> {
  const runs = await runsOfNotice(noticeId);
  const ids = runs
    .filter((run) => run.batchIds.length > 0)
    .map((run) => run.campaignId ?? campaignOfRun(run.occurrenceId));
  return [...new Set(ids)].sort();
}

/** The campaign of a run id (`<campaignId>@<runAt>`). */
function campaignOfRun(occurrenceId: string): string {
  const at = occurrenceId.lastIndexOf('@');
  return at < 0 ? occurrenceId : occurrenceId.slice(0, at);
}

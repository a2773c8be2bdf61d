// The planner: an occurrence becomes delivery batches, one township at a time, at most
// BATCH_SIZE groups each. Batch keys are (occurrence, township, part) and are inserted,
// never updated, so a planner that dies half-way is simply run again by the next one.
// Planning is exclusive: the planner holds the occurrence's lease, renews it as it writes
// and checks it before every write, so two schedulers never plan one run at once. A write
// still in flight when its planner lost the lease lands at the batch id the next holder
// writes next for that township (ids are deterministic), so exactly one of the two lands
// and the other planner drops the winner's groups from everything it has yet to write.
import type { AudienceSpec } from '../campaigns/ports.js';
import type { CampaignService } from '../campaigns/service.js';
import { type QuietHours, localDay } from '../campaigns/schedule.js';
import { backfillOnce } from '../db/backfills.js';
import { ClaimModel, type Lease, acquireLease, leaseTakenOver } from '../db/claims.js';
import type { Clock } from '../lib/clock.js';
import type { Log } from '../lib/log.js';
import { regionKnown } from '../audience/region-names.js';
import { Scope } from '../regions/scope.js';
import type { RegionService } from '../regions/service.js';
import { countItems } from '../tracking/counts.js';
import { noticeStillSending, recipientsWithin } from '../tracking/recipients.js';
import { hotItems, packFixed, storeFixed, withFixedItemsAll } from '../tracking/batch-fixed.js';
import { BATCH_SIZE, type BatchItem, DeliveryBatchModel } from '../tracking/model.js';
import { batchIdsOfRun, listBatches, listNoticeRun, listRun, mapLimited } from '../tracking/run-batches.js';
import { runWriteDone } from '../tracking/run-generation.js';
import { OccurrenceModel, type OccurrenceDoc, PlanningQueueModel, QueueEntryModel } from './model.js';
import { openRun } from './open-runs.js';
import type { EnginePorts } from './ports.js';
import { approvedNoticeVersion } from './tick.js';

export interface PlannerDeps {
  campaigns: CampaignService;
  regions: RegionService;
  ports: EnginePorts;
  timeZone: string;
  quietHours: QuietHours;
  clock: Clock;
  /** The service's log (one info line per urgent run: where its first write spent its time). */
  log?: Log;
  /** How long a planner holds a run; renewed while it writes (tests shorten it). */
  planningLeaseMs?: number;
}

export const PLANNING_LEASE_MS = 5 * 60_000;
/**
 * A planner writes only while its lease has at least this much left: another scheduler may
 * take the run over once the lease has lapsed by its own clock, so this covers the clocks'
 * difference and the time a write takes to land.
 */
const PLANNING_WRITE_MARGIN_MS = 30_000;
/** A run whose planning throws this often is recorded skipped with the error. */
export const MAX_PLAN_FAILURES = 5;
/** After a failed planning the run is tried again after this, doubling each time. */
const PLAN_RETRY_BASE_MS = 30_000;

/**
 * Chat robots, each of which lives in one group chat (reference §1–3): two groups with one
 * robot are one chat (issue 20, defect 15), so a run posts there once. Not the generic
 * webhook (a county platform may serve many groups at one URL, the group named in the body),
 * nor manual and WeCom customer groups (a robotKey per group).
 */
const SHARED_ROBOT_CHANNELS = new Set(['wecom', 'dingtalk', 'feishu']);

/**
 * Early batches: after the first chunk of the selection and every EARLY_WRITE_EVERY_MS of
 * planning after, each township buffer holding at least EARLY_WRITE_MIN groups is written
 * (townships hold ~35 groups in a province, so waiting for BATCH_SIZE wrote nearly every
 * batch at the end, and the workers had nothing to send until planning was done).
 */
export const EARLY_WRITE_MIN = 20;
const EARLY_WRITE_EVERY_MS = 2_000;
/** A buffer no group joined in the last this many chunks is written at the next early write, however small. */
const STALE_CHUNKS = 1;
/**
 * The groups of an urgent run's first chunk (later chunks: 500), all written as soon as they
 * are read: the first post of an urgent province push within 5 s of approval (issue 25).
 */
export const URGENT_FIRST_CHUNK = 100;
/** Batches per insert command. */
const WRITE_CHUNK = 25;

/** Groups of one township not written yet, and the last part number used there. */
interface TownshipBuffer {
  path: string[];
  county: string;
  parts: number;
  items: BatchItem[];
  /** The chunk of the selection that last added a group here. */
  touched: number;
}

/** The delivery a later group of the same robot follows. */
interface Via {
  batchId: string;
  groupId: string;
  groupName: string;
}

type PlanOutcome = 'planned' | 'skipped' | 'deferred' | 'busy' | 'yielded';

/** The planner's lease lapsed or was taken over: it writes nothing more. */
export class PlanningLeaseLost extends Error {
  constructor(occurrenceId: string) {
    super(`planning lease of ${occurrenceId} lost`);
  }
}

/**
 * The lease a planner holds on one run. `hold` is called before every write: it renews the
 * lease when half of it is used (the claim and the run's record, which is what a second
 * scheduler reads) and throws PlanningLeaseLost when the lease may have lapsed or a later
 * epoch exists. So no write of a planner starts unless it is the only planner of the run.
 */
class PlanningLease {
  constructor(
    private readonly occurrenceId: string,
    private lease: Lease,
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  get epoch(): number {
    return this.lease.epoch;
  }

  private get key(): string {
    return `occurrence:${this.occurrenceId}#${this.lease.epoch}`;
  }

  async hold(): Promise<void> {
    const now = this.clock.now().getTime();
    const left = this.lease.until.getTime() - now;
    const margin = Math.min(PLANNING_WRITE_MARGIN_MS, this.ttlMs / 4);
    if (left < margin) throw new PlanningLeaseLost(this.occurrenceId);
    if (left >= this.ttlMs / 2) return;
    if (await leaseTakenOver(`occurrence:${this.occurrenceId}`, this.lease.epoch))
      throw new PlanningLeaseLost(this.occurrenceId);
    const until = new Date(now + this.ttlMs);
    await ClaimModel.updateOne({ _id: this.key }, { $set: { until } });
    await OccurrenceModel.updateOne(
      { _id: this.occurrenceId, 'lease.epoch': this.lease.epoch },
      { $set: { 'lease.until': until } },
    );
    this.lease = { epoch: this.lease.epoch, until };
  }

  /** Hands the run back (to be planned on a later tick, or at once). */
  async release(until: Date): Promise<void> {
    await ClaimModel.updateOne({ _id: this.key }, { $set: { until } });
    await OccurrenceModel.updateOne(
      { _id: this.occurrenceId, 'lease.epoch': this.lease.epoch },
      { $set: { 'lease.until': until } },
    );
  }
}

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

/**
 * Inserts batches in one command; returns the indexes of those whose id was taken already
 * (another planner's part of that number, or a write of ours that landed before a retry).
 */
async function insertBatches(docs: Record<string, unknown>[]): Promise<Set<number>> {
  try {
    // Through the driver: the documents are cast already (newBatchDocument).
    await DeliveryBatchModel.collection.insertMany(docs, { ordered: false });
    return new Set();
  } catch (error) {
    if (!isDuplicateOnly(error)) throw error;
    const writeErrors = (error as { writeErrors: { index?: number; err?: { index?: number } }[] }).writeErrors;
    const taken = new Set<number>();
    for (const failure of writeErrors) {
      const index = failure.index ?? failure.err?.index;
      // Without an index every part is looked at again: its groups found there stay there.
      if (index === undefined) return new Set(docs.map((_, i) => i));
      taken.add(index);
    }
    return taken;
  }
}

/** What the planner knows of a new batch; the rest are the schema's defaults. */
export interface NewBatch {
  _id: string;
  occurrenceId: string;
  campaignId: string;
  noticeId: string;
  noticeVersion: number | null;
  category: string;
  priority: string;
  cardStyle: string;
  day: string;
  month: string;
  dueAt: Date;
  runDueAt: Date;
  regionPath: string[];
  countyCode: string;
  townshipCode: string;
  /** Hot items (tracking/batch-fixed.ts `hotItems`): the fixed fields are in the packed part. */
  items: Partial<BatchItem>[];
  fixedId: string;
  counts: ReturnType<typeof countItems>;
}

/**
 * A new batch document as mongoose casts it from `batch` (tracking/model.ts: every default
 * and both timestamps filled in), built directly and inserted through the driver. Casting
 * each batch's up to 100 item subdocuments through mongoose (each one marks itself modified
 * on its parent array, a linear search of that array) was about 80 % of the scheduler's CPU
 * while planning (bench/plan-cost.ts, ninth session). test/engine/batch-document.test.ts
 * holds it equal to mongoose's cast.
 */
export function newBatchDocument(batch: NewBatch, now: Date): Record<string, unknown> {
  return {
    _id: batch._id,
    occurrenceId: batch.occurrenceId,
    campaignId: batch.campaignId,
    noticeId: batch.noticeId,
    noticeVersion: batch.noticeVersion ?? null,
    category: batch.category,
    priority: batch.priority,
    cardStyle: batch.cardStyle,
    regionPath: [...batch.regionPath],
    countyCode: batch.countyCode,
    townshipCode: batch.townshipCode,
    day: batch.day,
    month: batch.month,
    items: batch.items.map((item) => ({
      groupId: item.groupId,
      channel: item.channel,
      memberCount: item.memberCount,
      villageCode: item.villageCode,
      status: item.status ?? 'pending',
      attempts: item.attempts ?? 0,
      nextAt: item.nextAt ?? null,
      lastError: item.lastError ?? null,
      sentAt: item.sentAt ?? null,
    })),
    fixedId: batch.fixedId,
    runDueAt: batch.runDueAt,
    heldSince: null,
    dueAt: batch.dueAt,
    lease: { epoch: 0, until: null, owner: null },
    counts: { ...batch.counts },
    compactedAt: null,
    createdAt: now,
    updatedAt: now,
  };
}

async function groupsOfBatches(batchIds: string[]): Promise<Map<string, Set<string>>> {
  const batches = await DeliveryBatchModel.find({ _id: { $in: batchIds } }, { 'items.groupId': 1 }).lean<
    { _id: string; items: { groupId: string }[] }[]
  >();
  return new Map(batches.map((batch) => [batch._id, new Set(batch.items.map((item) => item.groupId))]));
}

/** What an earlier planning of the occurrence (interrupted, or yielded) already wrote. */
async function plannedSoFar(occurrenceId: string) {
  // The run's own batches by `_id` from its list (tracking/run-batches.ts), not a scan of the
  // ledger by `occurrenceId`: every batch that exists was listed before it was inserted.
  const ids = await batchIdsOfRun(occurrenceId);
  const found = await mapLimited(ids, 8, (batchId) =>
    DeliveryBatchModel.findById(batchId, {
      townshipCode: 1,
      fixedId: 1,
      'items.groupId': 1,
      'items.groupName': 1,
      'items.memberCount': 1,
      'items.channel': 1,
      'items.robotKey': 1,
      'items.via': 1,
    }).lean<{
      _id: string;
      townshipCode: string;
      fixedId?: string | null;
      items: {
        groupId: string;
        groupName: string;
        memberCount: number;
        channel: string;
        robotKey: string;
        via?: Via | null;
      }[];
    }>(),
  );
  // Names, robots and followed groups of the packed layout are in the batches' packed parts.
  const batches = await withFixedItemsAll(found.filter((batch) => batch != null));
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

/** Urgent runs first, then by due time. */
function planningOrder(a: { priority: string; dueAt: Date }, b: { priority: string; dueAt: Date }): number {
  const rank = (p: string) => (p === 'urgent' ? 0 : 1);
  return rank(a.priority) - rank(b.priority) || a.dueAt.getTime() - b.dueAt.getTime();
}

export class Planner {
  constructor(private readonly deps: PlannerDeps) {}

  private get leaseMs(): number {
    return this.deps.planningLeaseMs ?? PLANNING_LEASE_MS;
  }

  /** The planning this planner is doing now (one at a time), or null. */
  private current: { id: string; priority: string } | null = null;
  /** Settles when the current planPending call ends. */
  private slot: Promise<unknown> | null = null;
  /** Set when an urgent run waits while a normal run plans: it yields at its next chunk boundary. */
  private yieldWanted = false;
  /** Runs found `planning` by the one scan a process makes (runs of older code, before the queue). */

  /** The run being planned now, if any (tests and the scheduler's urgent lane). */
  get planning(): { id: string; priority: string } | null {
    return this.current;
  }

  /**
   * Asks the normal run being planned (if any) to yield at its next chunk boundary: its
   * buffers are written as batches (kept durably), its lease handed back, and the planning
   * loop plans the waiting urgent runs first and then resumes it as a re-plan. True when a
   * normal run was asked.
   */
  requestYield(): boolean {
    if (!this.current || this.current.priority === 'urgent') return false;
    this.yieldWanted = true;
    return true;
  }

  /**
   * Whether an urgent run waits that no live planner holds (read from the planning queue and
   * each urgent entry's run by `_id`).
   */
  async urgentWaiting(): Promise<boolean> {
    const now = this.deps.clock.now();
    const urgent = await PlanningQueueModel.find({ priority: 'urgent' }, { _id: 1 }).lean<{ _id: string }[]>();
    for (const { _id } of urgent) {
      if (_id === this.current?.id) continue;
      const run = await OccurrenceModel.findById(_id, { status: 1, lease: 1 }).lean<OccurrenceDoc>();
      if (run?.status === 'planning' && !(run.lease?.until && run.lease.until > now)) return true;
    }
    return false;
  }

  /** The runs on the planning queue, urgent first, then by due time. */
  private async waitingRuns(): Promise<{ _id: string; priority: string; dueAt: Date }[]> {
    const waiting = await PlanningQueueModel.find({}, { _id: 1, priority: 1, dueAt: 1 }).lean<
      { _id: string; priority: string; dueAt: Date }[]
    >();
    return waiting.sort(planningOrder);
  }

  /**
   * Plans every run waiting for it, one at a time, urgent ones first (then by due time);
   * returns how many were planned or skipped now. A planner holds one plan in memory at a
   * time: a call made while another runs waits for it, except the urgent lane
   * (`onlyUrgent`), which asks a normal run being planned to yield (`requestYield`) and
   * returns, so the running loop plans the urgent runs next and then resumes the normal one.
   * A run whose planning throws does not stop the others: its failure is counted on it, it
   * is tried again after a back-off, and after MAX_PLAN_FAILURES it is recorded skipped with
   * the error.
   */
  async planPending(owner: string, { onlyUrgent = false } = {}): Promise<number> {
    if (this.slot) {
      if (onlyUrgent) {
        if (this.current?.priority !== 'urgent' && (await this.urgentWaiting())) this.requestYield();
        return 0;
      }
      while (this.slot) await this.slot.catch(() => undefined);
    }
    const run = this.planWaiting(owner, onlyUrgent);
    this.slot = run;
    try {
      return await run;
    } finally {
      this.slot = null;
      this.current = null;
      this.yieldWanted = false;
    }
  }

  private async planWaiting(owner: string, onlyUrgent: boolean): Promise<number> {
    let done = 0;
    let failure: unknown = null;
    const tried = new Set<string>();
    let yields = 0;
    for (;;) {
      const waiting = (await this.waitingRuns()).filter(
        (run) => !tried.has(run._id) && (!onlyUrgent || run.priority === 'urgent'),
      );
      const next = waiting[0];
      if (!next) break;
      tried.add(next._id);
      // Read now, not at the tick's start: the lease and state are another planner's too.
      const occurrence = await OccurrenceModel.findById(next._id).lean<OccurrenceDoc>();
      if (occurrence?.status !== 'planning') {
        await PlanningQueueModel.deleteOne({ _id: next._id });
        continue;
      }
      this.current = { id: next._id, priority: occurrence.priority };
      this.yieldWanted = false;
      try {
        const outcome = await this.plan(occurrence, owner);
        if (outcome === 'planned' || outcome === 'skipped') done += 1;
        // Yielded to an urgent run: tried again after the urgent ones (bounded, should
        // urgent runs keep coming).
        if (outcome === 'yielded' && ++yields <= 20) tried.delete(next._id);
      } catch (error) {
        if (error instanceof PlanningLeaseLost) continue; // another planner has the run
        failure ??= error;
        if (await this.failed(occurrence, error)) done += 1;
      } finally {
        this.current = null;
      }
    }
    if (failure) {
      const message = failure instanceof Error ? failure.message : String(failure);
      if (this.deps.log) this.deps.log.warn({ error: message }, `planner: ${message}`);
      else process.stderr.write(`[planner] ${message}\n`);
    }
    return done;
  }

  /** Counts a failed planning; the run is skipped after MAX_PLAN_FAILURES. True when it was skipped. */
  private async failed(occurrence: OccurrenceDoc, error: unknown): Promise<boolean> {
    const id = occurrence._id as string;
    const message = error instanceof Error ? error.message : String(error);
    const failures = (occurrence.planFailures ?? 0) + 1;
    if (failures >= MAX_PLAN_FAILURES) {
      await this.skip(id, `计划失败 ${failures} 次，本次不再发送：${message}`, { planFailures: failures });
      return true;
    }
    const retryAt = new Date(this.deps.clock.now().getTime() + PLAN_RETRY_BASE_MS * 2 ** (failures - 1));
    await OccurrenceModel.updateOne(
      { _id: id, status: 'planning' },
      { $set: { planFailures: failures, planError: message, 'lease.until': retryAt } },
    );
    return false;
  }

  private async skip(id: string, reason: string, extra: Record<string, unknown> = {}): Promise<PlanOutcome> {
    await OccurrenceModel.updateOne(
      { _id: id, status: 'planning' },
      { $set: { status: 'skipped', skipReason: reason, ...extra } },
    );
    await PlanningQueueModel.deleteOne({ _id: id });
    return 'skipped';
  }

  /** The notice whose recipients a follow-up goes to (older follow-ups name a campaign). */
  private async followedUpNotice(audience: AudienceSpec): Promise<string | null> {
    if (audience.recipientsOfNotice) return audience.recipientsOfNotice;
    if (!audience.recipientsOf) return null;
    return (await this.deps.campaigns.findForEngine(audience.recipientsOf))?.noticeId ?? null;
  }

  /**
   * Plans one run under its lease. Throws PlanningLeaseLost when the lease lapsed or was
   * taken over part-way (nothing more was written; the holder finishes the run).
   */
  async plan(seen: OccurrenceDoc, owner: string): Promise<PlanOutcome> {
    const id = seen._id as string;
    const occurrence = (await OccurrenceModel.findById(id).lean<OccurrenceDoc>()) ?? seen;
    if (occurrence.status !== 'planning') {
      await PlanningQueueModel.deleteOne({ _id: id });
      return 'busy';
    }
    const now = this.deps.clock.now();
    // Where an urgent run's first chunk spends its time (one info line in the service's log
    // after its first write: the 5 s target of issue 25 is measured by bench:fanout).
    const started = performance.now();
    const phases: string[] = [];
    const phaseMs: Record<string, number> = {};
    const phase = (name: string) => {
      phaseMs[name] = Math.round(performance.now() - started);
      phases.push(`${name} ${phaseMs[name]} ms`);
    };
    const current = occurrence.lease?.until ? { epoch: occurrence.lease.epoch, until: occurrence.lease.until } : null;
    const acquired = await acquireLease(`occurrence:${id}`, current, owner, now, this.leaseMs);
    if (!acquired) return 'busy';
    await OccurrenceModel.updateOne({ _id: id }, { $set: { lease: { ...acquired, owner } } });
    const lease = new PlanningLease(id, acquired, this.deps.clock, this.leaseMs);
    phase('lease');

    const campaign = await this.deps.campaigns.findForEngine(occurrence.campaignId);
    if (!campaign) return this.skip(id, '推送不存在');
    if (campaign.status === 'cancelled') return this.skip(id, '推送已取消');
    // What was approved for this run (copied by the tick), not the campaign as edited since.
    const noticeId = occurrence.noticeId;
    const audience = (occurrence.audience as AudienceSpec | null) ?? campaign.audience;
    const sendable = await this.deps.ports.noticeSendable(noticeId);
    if (!sendable.ok) return this.skip(id, sendable.reason);
    const followedUp = await this.followedUpNotice(audience);
    if (followedUp && (await noticeStillSending(followedUp))) {
      // Let every delivery of the notice settle (the holders see it withdrawn and stop), so
      // the recipients are exact: planned on a later tick.
      await lease.release(this.deps.clock.now());
      return 'deferred';
    }

    // The version approved for this run (recorded by the tick; older runs: the one approved now).
    const noticeVersion = occurrence.noticeVersion ?? (await approvedNoticeVersion(noticeId));
    const category = await this.deps.ports.noticeCategory(noticeId, noticeVersion);
    phase('notice');
    // The campaign's region from the process's region names, or their parts by `_id` in a
    // process that has not read them yet (RegionService.scopeOf scans the regions on
    // FerretDB), the service's check when unknown.
    const scope = (await regionKnown(campaign.regionCode))
      ? new Scope(campaign.regionCode)
      : await this.deps.regions.scopeOf(campaign.regionCode);
    phase('scope');
    // A follow-up reaches the notice's recipients inside its own region only (issue 26.10).
    const source = followedUp
      ? recipientsWithin(followedUp, campaign.regionCode, audience.excludeRegions ?? [])
      : // An urgent run's selection comes by `_id` reads, county by county, without a scan of
        // every group, and its first chunk is small: its first batches are written after
        // reading one county's listing and URGENT_FIRST_CHUNK groups, whatever the province.
        this.deps.ports.selectGroups(
          scope,
          audience,
          occurrence.priority === 'urgent' ? { readById: true, firstBatchSize: URGENT_FIRST_CHUNK } : {},
        );
    const day = localDay(occurrence.runAt, this.deps.timeZone);
    const base = {
      occurrenceId: id,
      campaignId: campaign.id,
      noticeId,
      noticeVersion,
      category,
      priority: occurrence.priority,
      cardStyle: occurrence.cardStyle,
      day,
      month: day.slice(0, 7),
      dueAt: occurrence.dueAt,
      runDueAt: occurrence.dueAt,
    };

    // Township buffers: a batch is written as soon as one fills; after the first chunk of the
    // selection and every EARLY_WRITE_EVERY_MS after, the buffers holding EARLY_WRITE_MIN
    // groups or more (an urgent run: every buffer, after its first chunk) are written too, so
    // a worker starts sending while planning goes on; the rest at the end.
    const buffers = new Map<string, TownshipBuffer>();
    // A re-plan (a planner lost its lease part-way): groups already in a batch stay there,
    // and new parts are numbered after the existing ones, so no group is lost in an inserted
    // part or lands in two batches, however the selection changed meanwhile. The earlier
    // planner writes nothing after its lease lapsed (PlanningLease.hold), so what is read
    // here is all it wrote.
    const earlier =
      lease.epoch > 1
        ? await plannedSoFar(id)
        : { groups: new Set<string>(), parts: new Map(), members: 0, batches: 0, robots: new Map<string, Via>() };
    const robots = earlier.robots;
    let batchCount = earlier.batches;
    let deliveryCount = earlier.groups.size;
    let memberTotal = earlier.members;
    // Every batch id is listed on the run before its batch is inserted (tracking/run-batches.ts):
    // a campaign's batches are read by `_id` from these lists, never by scanning the ledger.
    await lease.hold();
    await Promise.all([listRun(campaign.id, id), listNoticeRun(noticeId, id), openRun(id, campaign.id)]);
    const listed = new Set<string>();
    // The run's summary is void until the inserts after a listing may have landed (the lease),
    // or until the run is planned (tracking/run-generation.ts).
    let listedUntil: Date | null = null;
    const list = async (batchIds: string[]) => {
      const fresh = batchIds.filter((batchId) => !listed.has(batchId));
      if (fresh.length === 0) return;
      listedUntil = new Date(this.deps.clock.now().getTime() + this.leaseMs);
      await listBatches(campaign.id, id, fresh, listedUntil);
      for (const batchId of fresh) listed.add(batchId);
    };
    let collided = false;
    const queueEntry = {
      dueAt: occurrence.dueAt,
      rank: occurrence.priority === 'urgent' ? 0 : 1,
      campaignId: campaign.id,
    };
    /**
     * Writes the buffered groups of these townships, each as its next part, at most
     * WRITE_CHUNK batches per insert; the lease is checked (and renewed) before each insert.
     * A part number found taken (a planner whose write landed after our look at the run)
     * keeps its groups, which leave every part still to be written; ours that are not in
     * it go to the next part.
     */
    const write = async (townships: string[]) => {
      let waiting: { township: string; buffer: TownshipBuffer; items: BatchItem[] }[] = [];
      for (const township of townships) {
        const buffer = buffers.get(township)!;
        if (buffer.items.length === 0) continue;
        waiting.push({ township, buffer, items: buffer.items });
        buffer.items = [];
      }
      while (waiting.length > 0) {
        const these = waiting.slice(0, WRITE_CHUNK);
        const later = waiting.slice(WRITE_CHUNK);
        await lease.hold();
        // The packed layout (tracking/batch-fixed.ts): each batch's fixed fields go into its
        // packed part, written before it under this planning's own id; the batch keeps the rest.
        const fixed: { _id: string; packed: string }[] = [];
        const now = new Date();
        const docs = these.map(({ township, buffer, items }) => {
          buffer.parts += 1;
          const batchId = `${id}|${township}|${buffer.parts}`;
          const fixedId = `${batchId}#${lease.epoch}`;
          fixed.push({ _id: fixedId, packed: packFixed(items) });
          return newBatchDocument(
            {
              _id: batchId,
              ...base,
              regionPath: buffer.path,
              countyCode: buffer.county,
              townshipCode: township,
              items: hotItems(items),
              fixedId,
              counts: countItems(items),
            },
            now,
          ) as { _id: string } & Record<string, unknown>;
        });
        // Listed on the run before they exist (tracking/run-batches.ts).
        await list(docs.map((doc) => doc._id));
        await storeFixed(fixed);
        const taken = await insertBatches(docs);
        const inserted = docs.filter((_, i) => !taken.has(i)).map((doc) => doc._id);
        if (inserted.length > 0) {
          // Through the driver (no defaults, no timestamps in the schema: the same documents).
          await insertIgnoringDuplicates(() =>
            QueueEntryModel.collection.insertMany(
              inserted.map((batchId) => ({ _id: batchId, ...queueEntry })) as never[],
              { ordered: false },
            ),
          );
          await this.deps.ports.batchesWritten(inserted);
          batchCount += inserted.length;
        }
        const retry: typeof waiting = [];
        let rest = later;
        if (taken.size > 0) {
          // A part of this number exists already: a planner whose write was in flight when
          // it lost the lease landed it after our look at the run. Its groups are planned:
          // they leave this part and every part still to be written (the parts may be cut
          // differently now), so no group is in two batches.
          const placed = new Set<string>();
          for (const groups of (await groupsOfBatches([...taken].map((i) => docs[i]!._id))).values())
            for (const groupId of groups) placed.add(groupId);
          const unplaced = (item: BatchItem) => !placed.has(item.groupId);
          for (const groupId of placed) earlier.groups.add(groupId);
          for (const other of buffers.values()) other.items = other.items.filter(unplaced);
          for (const i of taken) {
            const left = these[i]!.items.filter(unplaced);
            if (left.length > 0) retry.push({ ...these[i]!, items: left });
          }
          rest = later
            .map((entry) => ({ ...entry, items: entry.items.filter(unplaced) }))
            .filter((e) => e.items.length);
          collided = true;
        }
        waiting = [...retry, ...rest];
      }
    };
    const urgent = occurrence.priority === 'urgent';
    let chunks = 0;
    let lastEarlyWrite = performance.now();

    // The source comes in group-id order (a scan, or `_id` reads for an urgent run); a re-plan
    // is exact either way (groups already in a batch are passed over).
    let lastStateLook = performance.now();
    let stopped = false;
    for await (const groups of source) {
      if (chunks === 0) phase('first chunk');
      for (const group of groups) {
        if (earlier.groups.has(group.groupId)) continue;
        let buffer = buffers.get(group.townshipCode);
        if (!buffer) {
          const parts = earlier.parts.get(group.townshipCode) ?? 0;
          buffer = { path: group.townshipPath, county: group.countyCode, parts, items: [], touched: chunks };
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
        buffer.touched = chunks;
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
        if (buffer.items.length === BATCH_SIZE) await write([group.townshipCode]);
      }
      chunks += 1;
      if (performance.now() - lastStateLook >= EARLY_WRITE_EVERY_MS) {
        // Cancelled while planning (an urgent push stopped after its first posts): nothing
        // more is written; what was written is skipped by the cancel (engine/skip.ts).
        lastStateLook = performance.now();
        const state = await this.deps.campaigns.engineState(campaign.id);
        if (!state || state.status === 'cancelled') {
          stopped = true;
          break;
        }
      }
      if (this.yieldWanted && !urgent) {
        // An urgent run waits: what this run holds is written (its next parts), the lease is
        // handed back, and the planning loop plans the urgent run, then resumes this one as
        // a re-plan (groups already in a batch stay there; docs/engine.md, Re-planning).
        this.yieldWanted = false;
        await write([...buffers.keys()]);
        await lease.release(this.deps.clock.now());
        return 'yielded';
      }
      const timed = chunks === 1 || performance.now() - lastEarlyWrite >= EARLY_WRITE_EVERY_MS;
      const least = chunks === 1 && urgent ? 1 : EARLY_WRITE_MIN;
      // After every chunk, a township no group joined in the last STALE_CHUNKS chunks is
      // written whatever its size: the selection comes in id order, roughly township by
      // township, so its rest would otherwise wait in memory until the end (at 50,000 groups
      // ~1,400 townships × ~15 groups, credentials and names included).
      const ready = (buffer: TownshipBuffer) =>
        (timed && buffer.items.length >= least) ||
        (buffer.items.length > 0 && chunks - 1 - buffer.touched >= STALE_CHUNKS);
      const townships = [...buffers].filter(([, buffer]) => ready(buffer)).map(([township]) => township);
      if (townships.length > 0) await write(townships);
      if (timed) {
        lastEarlyWrite = performance.now();
        if (chunks === 1 && urgent) {
          phase('first write');
          this.deps.log?.info({ occurrenceId: id, phases: phaseMs }, `planner: urgent run ${id}: ${phases.join(', ')}`);
        }
      }
    }
    if (stopped) {
      // The groups still buffered were never written: they are no deliveries of this run.
      for (const buffer of buffers.values()) {
        deliveryCount -= buffer.items.length;
        memberTotal -= buffer.items.reduce((sum, item) => sum + item.memberCount, 0);
        buffer.items = [];
      }
      if (deliveryCount === 0 && !collided) return this.skip(id, '推送已取消');
    } else await write([...buffers.keys()]);

    await lease.hold();
    if (collided) {
      // Another planner's parts are among the run's: count what was written.
      const written = await plannedSoFar(id);
      batchCount = written.batches;
      deliveryCount = written.groups.size;
      memberTotal = written.members;
    }
    if (deliveryCount === 0) return this.skip(id, '受众为空：没有可发送的群');
    await OccurrenceModel.updateOne(
      { _id: id, status: 'planning', 'lease.epoch': lease.epoch },
      {
        $set: {
          status: 'planned',
          batchCount,
          deliveryCount,
          memberTotal,
          plannedAt: this.deps.clock.now(),
          'lease.until': this.deps.clock.now(),
        },
      },
    );
    await PlanningQueueModel.deleteOne({ _id: id });
    if (listedUntil) await runWriteDone(id, listedUntil);
    return 'planned';
  }
}

/**
 * For an install written before the planning queue existed (once, at start: prepareDatabase):
 * every run still planning is queued. It was a scan of every run ever made by status in each
 * scheduler process's first tick, paid again at every restart.
 */
export async function buildPlanningQueue(): Promise<void> {
  await backfillOnce('planning-queue', async () => {
    const older = await OccurrenceModel.find({ status: 'planning' }, { _id: 1, priority: 1, dueAt: 1 }).lean<
      { _id: string; priority: string; dueAt: Date }[]
    >();
    for (const run of older) {
      await PlanningQueueModel.updateOne(
        { _id: run._id },
        { $set: { priority: run.priority, dueAt: run.dueAt } },
        { upsert: true },
      );
    }
  });
}

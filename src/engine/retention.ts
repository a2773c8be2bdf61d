// Retention: what the engine wrote to keep its promises while a run was going (claims,
// send attempts, rate slots, outbox messages, confirmation copies, the per-delivery fields a
// send needs) is pruned or compacted once no promise needs it; what statistics, exports,
// follow-ups and the audit log read stays exactly as it was. Each job is safe to run at any
// time, in any number of schedulers at once, and again after a crash. See docs/retention.md.
//
// Bounded (issue 25): a pass reads the runs that settled `keepDays` before, from their due keys
// (engine/retention-due.ts), each run's batches and steps by `_id`, at most `batchesPerPass`
// batches, `lanes` of them at once, and records where it stands after each such group; a first
// run over a month of history is a catch-up of such passes (`behind` in the report: the loop
// comes back after `catchUpMs`). A batch is read once and written once (on FerretDB each costs
// the whole document, whatever the projection); a process killed mid-pass redoes at most one
// group of batches, each of whose steps is idempotent (compactBatch).
//
// The lists of the ninth session: a settled run's officer run lists (channels/manual/due-slots.ts
// `r:<run>|<officer>`) are deleted once none of their entries is on the watch list (the officers
// read from the batches as they are compacted; a process resuming a run reads those of its
// first batches again), and its campaign's list (`c:<campaign>`) once no entry it names is
// listed and no run of the campaign is open. Order, per list, so that a re-opened run's listing
// racing it (a late confirmation's wake, open-runs.ts) is never lost: (1) read the list by
// `_id`; (2) the run (the campaign's runs) not on the stranded-batch sweep's list, else kept;
// (3) each entry read looked up by `_id`, any found: kept; (4) the hint deleted only if it still
// holds the value read (a listing since moved it: kept); (5) the items read deleted from the
// highest down, each only if unchanged. A listing is made while its run is open and before its
// entry is inserted, so an entry inserted after (3) had its run open at (2); one listed after
// (1) is above the items read or in a number (5) freed, with its hint. A kill anywhere leaves
// the list whole, or its lowest items without a hint (read from item 0), deleted by the next
// pass, which walks the run again. The notifier's walk
// markers of a day go with the day once its cursor and due marker are past it; kept deliveries pages
// (tracking/deliveries/kept-pages.ts) not written for the period go in the daily sweep, as do
// the WeCom customer groups' cap lists of periods that are over. The WeCom customer-group
// campaigns' task lists are kept (the run report reads them for ever), as are the
// campaigns' task lists (`c:<campaign>` in taskhistory: every task a stop withdraws, however
// old) and the run generations (a summary or page stored at an older generation would count
// as current again); the rankings' markers are deleted by the fold that reads them.

import {
  campaignListOf,
  dropCampaignList,
  dropDayMarkers,
  dropRunList,
  readCursor,
  runListOf,
  slotStart,
} from '../channels/manual/due-slots.js';
import { ManualConfirmationModel } from '../channels/manual/model.js';
import { dueMarker, OpenTaskModel } from '../channels/manual/watch.js';
import { pruneCapSends } from '../channels/wecom-group/cap-sends.js';
import { MAX_UPDATES_PER_COMMAND } from '../db/bulk.js';
import { acquireLease, ClaimModel, SendAttemptModel } from '../db/claims.js';
import type { Clock } from '../lib/clock.js';
import { mapLimit } from '../lib/concurrency.js';
import { type Loop, startLoop } from '../lib/loop.js';
import { type NotificationStepDoc, NotificationStepModel, StepSlotModel } from '../notifications/model.js';
import { dropFixedCredentials, mergeFixed, withFixedItems } from '../tracking/batch-fixed.js';
import { pruneKeptPages } from '../tracking/deliveries/kept-pages.js';
import { type BatchItem, DeliveryBatchModel } from '../tracking/model.js';
import { batchIdsOfRun } from '../tracking/run-batches.js';
import { BatchWakeModel } from './model.js';
import { OpenRunModel } from './open-runs.js';
import { deliveryId } from './queue.js';
import { pruneRateSlots } from './rate-limit.js';
import {
  buildRetentionDue,
  dayId,
  endOfDay,
  fileSettledRun,
  nextDay,
  RetentionDueModel,
  STATE_ID,
} from './retention-due.js';

export interface RetentionSettings {
  /** A settled run's internals are kept this long after its last write. */
  keepDays: number;
  /** How often the jobs run. */
  everyMs: number;
  /** Batches a pass compacts at most (the rest waits for the next pass). */
  batchesPerPass?: number;
  /** How soon the next pass runs while a pass stopped at its budget (catch-up). */
  catchUpMs?: number;
  /** Batches compacted at once within a pass. */
  lanes?: number;
}

/** An expired lease claim is kept this long (a stale holder's check looks at the next epoch). */
const LEASE_CLAIM_KEEP_MS = 60 * 60_000;
/** The leftover lease claims (planning, roll-up, intent epochs) are swept this often. */
const LEFTOVER_CLAIMS_EVERY_MS = 24 * 60 * 60_000;
/** How long retention holds a batch while it compacts it. */
const COMPACT_LEASE_MS = 60_000;
const DEFAULT_BATCHES_PER_PASS = 1_000;
const DEFAULT_CATCH_UP_MS = 5_000;
const DEFAULT_LANES = 2;
/**
 * Delete commands a batch has in flight at once: with `DEFAULT_LANES` batches at once at most
 * 4 commands of `MAX_UPDATES_PER_COMMAND` statements, well inside FerretDB's pool (db/bulk.ts).
 */
const DELETE_COMMANDS_AT_ONCE = 2;
/**
 * Delivery statuses whose attempts are counted up to the last one claimed: no attempt after
 * `attempts` exists (see compactBatch). Any other (`skipped`; `pending`, `sending` never settle)
 * may have its next attempt claimed by a stop.
 */
const COUNTED_TO_THE_LAST: ReadonlySet<string> = new Set(['sent', 'failed', 'awaiting', 'confirmed', 'uncertain']);
/** Step slots read at once while walking a campaign's steps. */
const SLOT_WINDOW = 16;

export interface RetentionReport {
  rateSlots: number;
  leaseClaims: number;
  sendAttempts: number;
  notificationMessages: number;
  batchesCompacted: number;
  confirmationCopies: number;
  /** Officer run lists of settled runs deleted (`opentaskdue` `r:<run>|<officer>`). */
  runLists: number;
  /** Campaign lists deleted (`opentaskdue` `c:<campaign>`: every entry gone, no run open). */
  campaignLists: number;
  /** The officer notifier's walk markers of days done (`opentaskdue` `d:`, `h:`, `t:`). */
  dueMarkers: number;
  /** Kept deliveries pages not written for the keep period (`deliverypages`, daily). */
  deliveryPages: number;
  /** WeCom customer groups' cap lists of periods that are over (`wecomgroupcapsends`, daily). */
  capLists: number;
  /** Runs whose keep period ended, handled in this pass. */
  runs: number;
  /** The pass stopped at its budget: more is due (the loop comes back after `catchUpMs`). */
  behind: boolean;
}

interface State {
  day: string;
  index: number;
  batch: number;
  claimsSweptAt?: Date | null;
}

type Tally = Omit<RetentionReport, 'rateSlots' | 'behind'>;

/** A run being walked: the officer runs its batches made tasks for, and whether any has work again. */
interface RunWalk {
  runId: string;
  /** Its batches walked so far (the state's `batch` when they were). */
  batches: number;
  officers: Set<string>;
  open: boolean;
}

/**
 * The officer runs (`<run>|<officer>`, channels/manual/watch.ts `runKeyOf`) these deliveries
 * put watch entries on: a manual delivery's task and a WeCom customer group's item name the
 * delivery's officer only when it has an officer's name (engine/dispatch.ts `target.officer`).
 */
function officerRunsOf(occurrenceId: string, items: Partial<BatchItem>[], into: Set<string>): void {
  for (const item of items) {
    if (item.channel !== 'manual' && item.channel !== 'wecom_group') continue;
    const name = item.officerName ?? null;
    into.add(`${occurrenceId}|${name ? (item.officerPhone ?? `name:${name}`) : ''}`);
  }
}

/** Deletes documents by `_id` in commands of a few statements (each an `_id` lookup on FerretDB). */
async function deleteByIds(
  model: typeof SendAttemptModel | typeof ManualConfirmationModel,
  ids: string[],
): Promise<number> {
  let deleted = 0;
  const commands: string[][] = [];
  for (let i = 0; i < ids.length; i += MAX_UPDATES_PER_COMMAND)
    commands.push(ids.slice(i, i + MAX_UPDATES_PER_COMMAND));
  const results = await mapLimit(commands, DELETE_COMMANDS_AT_ONCE, (chunk) =>
    (model as typeof SendAttemptModel).bulkWrite(
      chunk.map((id) => ({ deleteOne: { filter: { _id: id } } })),
      { ordered: false },
    ),
  );
  for (const result of results) deleted += result.deletedCount;
  return deleted;
}

export class Retention {
  readonly owner = `retention-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  /** The run this process is walking (its officers gathered so far). */
  private walk: RunWalk | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly settings: RetentionSettings,
  ) {}

  private cutoff(): Date {
    return new Date(this.clock.now().getTime() - this.settings.keepDays * 24 * 60 * 60_000);
  }

  /** Every job once, in order; returns what each removed or compacted. */
  async runOnce(): Promise<RetentionReport> {
    const rateSlots = await this.rateSlots();
    const { tally, behind } = await this.settledRuns();
    return { rateSlots, ...tally, behind };
  }

  /** Rate slots of windows long past (engine/rate-limit.ts keeps what a new process needs). */
  rateSlots(): Promise<number> {
    return pruneRateSlots(this.clock.now());
  }

  private async state(): Promise<State> {
    let state = await RetentionDueModel.findById(STATE_ID).lean<State>();
    if (!state?.day) {
      await buildRetentionDue(this.clock.now());
      state = await RetentionDueModel.findById(STATE_ID).lean<State>();
    }
    return {
      day: state!.day,
      index: state!.index ?? 0,
      batch: state!.batch ?? 0,
      claimsSweptAt: state!.claimsSweptAt ?? null,
    };
  }

  private async saveState(state: State): Promise<void> {
    await RetentionDueModel.updateOne(
      { _id: STATE_ID },
      { $set: { day: state.day, index: state.index, batch: state.batch } },
      { upsert: true },
    );
  }

  /**
   * The runs whose keep period has ended since the last pass, from their due keys, in the order
   * they settled: each run's batches compacted (with their send attempts, batch lease claims and
   * confirmation copies), its campaign's finished steps' outbox text dropped. At most
   * `batchesPerPass` batches; where it stands is recorded after each batch, so a pass that dies
   * is resumed there by the next (redoing at most one batch, which is idempotent).
   */
  async settledRuns(): Promise<{ tally: Tally; behind: boolean }> {
    const tally: Tally = {
      leaseClaims: 0,
      sendAttempts: 0,
      notificationMessages: 0,
      batchesCompacted: 0,
      confirmationCopies: 0,
      runLists: 0,
      campaignLists: 0,
      dueMarkers: 0,
      deliveryPages: 0,
      capLists: 0,
      runs: 0,
    };
    const state = await this.state();
    await this.dailySweeps(state, tally);
    const cutoff = this.cutoff();
    let budget = this.settings.batchesPerPass ?? DEFAULT_BATCHES_PER_PASS;
    while (endOfDay(state.day) <= cutoff) {
      const entries =
        (await RetentionDueModel.findById(dayId(state.day), { runs: 1 }).lean<{ runs?: string[] }>())?.runs ?? [];
      while (state.index < entries.length) {
        if (budget <= 0) return { tally, behind: true };
        const [runId, campaignId] = entries[state.index]!.split('|') as [string, string];
        const ids = await batchIdsOfRun(runId);
        let later: Date | null = null;
        // The officer runs its batches made tasks for, gathered as they are compacted (kept by
        // the process across passes; a process that did not walk the run's first batches reads
        // their officers again).
        let walk = this.walk;
        if (!walk || walk.runId !== runId || walk.batches !== state.batch) {
          walk = { runId, batches: 0, officers: new Set(), open: false };
          for (const id of ids.slice(0, state.batch)) await this.officersOfBatch(id, walk);
          walk.batches = state.batch;
          this.walk = walk;
        }
        while (state.batch < ids.length) {
          if (budget <= 0) return { tally, behind: true };
          // A few batches at once (each its own lease and writes); where it stands is written
          // after all of them, so a pass that dies redoes at most these.
          const group = ids.slice(state.batch, state.batch + Math.min(budget, this.settings.lanes ?? DEFAULT_LANES));
          const outcomes = await Promise.all(group.map((id) => this.compactBatch(id, cutoff, tally, walk)));
          for (const outcome of outcomes) if (outcome instanceof Date && (!later || outcome > later)) later = outcome;
          budget -= group.length;
          state.batch += group.length;
          walk.batches = state.batch;
          await this.saveState(state);
        }
        const stepLater = await this.finishedSteps(runId, campaignId, cutoff, tally);
        if (stepLater && (!later || stepLater > later)) later = stepLater;
        // Its officer run lists, once the rest of it is done (a run with work again is filed
        // again when it closes; one filed later has its lists looked at then).
        if (!later && !walk.open) {
          const lists = await this.runLists(runId, walk.officers, tally);
          if (lists.later) later = lists.later;
          // Its campaign's list once every entry it names is gone (the last run of the campaign
          // to settle finds it so; an entry still listed has its own run filed again).
          else if (walk.officers.size > 0) await this.campaignList(campaignId, lists.gone, tally);
        }
        // Something of the run was written after it was filed (or is not finished): filed again then.
        if (later) await fileSettledRun(runId, campaignId, later);
        tally.runs += 1;
        state.index += 1;
        state.batch = 0;
        await this.saveState(state);
      }
      // The day is done: the notifier's walk markers of it, then its document, not needed again.
      tally.dueMarkers += await this.dueMarkers(state.day);
      await RetentionDueModel.deleteOne({ _id: dayId(state.day) });
      state.day = nextDay(state.day);
      state.index = 0;
      state.batch = 0;
      await this.saveState(state);
    }
    return { tally, behind: false };
  }

  /**
   * Once a day: the kept deliveries pages not written for the period (a scan of the pages, see
   * below), the WeCom customer groups' cap lists of periods that are over (a scan of their ids),
   * and lease epochs that are not a batch's (run planning, intents, roll-ups) and ended
   * more than an hour ago (a scan of the claims; a batch's epochs go with its compaction). A
   * lease's holder records its epoch on the resource and renews it there; a new claimer starts
   * after the recorded epoch, so an ended epoch's claim decides nothing. One-time decisions
   * (state changes, intents done, review decisions) have no end and stay.
   */
  private async dailySweeps(state: State, tally: Tally): Promise<void> {
    const now = this.clock.now();
    if (state.claimsSweptAt && now.getTime() - state.claimsSweptAt.getTime() < LEFTOVER_CLAIMS_EVERY_MS) return;
    tally.leaseClaims += await this.leaseClaims();
    // The kept deliveries pages not written for the period (a cache: read again exactly by the
    // next caller; tracking/deliveries/kept-pages.ts).
    tally.deliveryPages += await pruneKeptPages(this.cutoff());
    // The WeCom customer groups' cap lists of periods that are over: the cap reads only the
    // present period's (channels/wecom-group/cap-sends.ts).
    tally.capLists += await pruneCapSends(now);
    await RetentionDueModel.updateOne({ _id: STATE_ID }, { $set: { claimsSweptAt: now } }, { upsert: true });
  }

  /** Every ended lease epoch more than an hour old (the daily leftover sweep; a scan of the claims). */
  async leaseClaims(): Promise<number> {
    const before = new Date(this.clock.now().getTime() - LEASE_CLAIM_KEEP_MS);
    return (await ClaimModel.deleteMany({ until: { $ne: null, $lt: before } })).deletedCount;
  }

  /**
   * One settled batch not written for the retention period loses what only a send needs (each
   * delivery's sealed credentials and due time), its deliveries' send attempts (a settled
   * delivery's attempts are never read again), its ended lease epochs, and the confirmation
   * copies filed under its deliveries once the batch has recorded them. Everything exports and
   * statistics read (statuses, attempts, times, errors, names, members) stays. The job takes the
   * batch's lease like a worker, so it is the batch's only writer, and leaves `updatedAt` alone
   * (nothing the statistics fold changed). A follow-up reads a compacted group's credentials
   * from the group directory (tracking/recipients.ts). Returns when to look again (a batch
   * written within the period, or held), or null when it is done.
   */
  private async compactBatch(batchId: string, cutoff: Date, tally: Tally, walk: RunWalk): Promise<Date | null> {
    const now = this.clock.now();
    // One read of the whole batch (on FerretDB a read costs the same with or without `items`:
    // the document is loaded whole, ~7 ms of its CPU for a batch of 35 deliveries).
    let batch = await this.readBatch(batchId);
    if (!batch) return null;
    if (batch.compactedAt) return this.officersOf(batch, walk);
    // Work again (a wake re-opened its run, which is filed again when it closes).
    if (batch.dueAt !== null) {
      walk.open = true;
      return null;
    }
    if (batch.updatedAt >= cutoff) return batch.updatedAt;
    const current = batch.lease?.until ? { epoch: batch.lease.epoch ?? 0, until: batch.lease.until } : null;
    const lease = await acquireLease(`batch:${batchId}`, current, this.owner, now, COMPACT_LEASE_MS);
    if (!lease) return now; // a worker holds it (a confirmation): its write files the batch later
    // Every writer of the batch holds its lease, and a lease's epochs are claimed in order from
    // the one recorded on the batch: ours being the next after the one read means no writer
    // held it since the read. Otherwise someone did, and the batch is read again.
    if (lease.epoch !== (current?.epoch ?? 0) + 1) {
      batch = await this.readBatch(batchId);
      if (!batch) return null;
      if (batch.compactedAt) return this.officersOf(batch, walk);
      if (batch.dueAt !== null) {
        walk.open = true;
        return null;
      }
      if (batch.updatedAt >= cutoff) return batch.updatedAt;
    }
    const { occurrenceId } = batch;
    // What goes with the batch first, the compaction's write last: a pass that dies in between
    // finds the batch not compacted and does it all again (every delete is idempotent).
    // Copies the batch has recorded (a confirmed manual delivery, a reported WeCom customer
    // group): the worker looks them up only for deliveries still awaiting.
    const recorded = batch.items.filter(
      (item) =>
        (item.channel === 'manual' || item.channel === 'wecom_group') &&
        item.status !== 'awaiting' &&
        !(item.channel === 'manual' && item.status === 'uncertain'),
    );
    // Each delivery's attempts #1..#attempts, and #attempts+1 where one can exist: claimed by a
    // stop (or a take-over's skip) for a delivery still pending, which then ends `skipped` (one
    // another holder had claimed ends `uncertain` with that attempt counted). A delivery that
    // ended sent, failed, awaiting, confirmed or uncertain had its attempts counted up to the
    // last one claimed (engine/worker.ts, engine/skip.ts), so its next is never claimed: on
    // FerretDB each missed delete costs an `_id` lookup, about half of these statements.
    const attempts = batch.items.flatMap((item) =>
      Array.from(
        { length: (item.attempts ?? 0) + (COUNTED_TO_THE_LAST.has(item.status) ? 0 : 1) },
        (_, i) => `${deliveryId(occurrenceId, item.groupId)}#${i + 1}`,
      ),
    );
    // The batch's ended lease epochs (ours stays: a stale reader of the previous epoch meets it).
    const epochs = Array.from({ length: Math.max(0, lease.epoch - 1) }, (_, i) => `batch:${batchId}#${i + 1}`);
    const copies = await deleteByIds(
      ManualConfirmationModel as never,
      recorded.map((item) => `reference:${deliveryId(occurrenceId, item.groupId)}`),
    );
    tally.sendAttempts += await deleteByIds(SendAttemptModel, attempts);
    tally.leaseClaims += await deleteByIds(ClaimModel as never, epochs);
    // The packed layout keeps the credentials in the batch's packed part (tracking/batch-fixed.ts);
    // the officers of its deliveries are read from the same read.
    const packed = batch.fixedId ? await dropFixedCredentials(batch.fixedId) : null;
    officerRunsOf(occurrenceId, packed ? mergeFixed(batch.items, packed) : batch.items, walk.officers);
    const items = batch.items.map(({ credentialsSealed: _, nextAt: __, ...kept }) => kept);
    const result = await DeliveryBatchModel.collection.updateOne(
      { _id: batchId as never, 'lease.epoch': { $lte: lease.epoch }, dueAt: null },
      { $set: { items, compactedAt: now, lease: { epoch: lease.epoch, until: now, owner: this.owner } } },
    );
    if (result.matchedCount === 0) return now;
    tally.batchesCompacted += 1;
    tally.confirmationCopies += copies;
    // Its wake marker (engine/model.ts): only a holder's look after its release reads it, and
    // this job holds the lease; a later wake writes it again.
    if (batch.items.some((item) => item.channel === 'manual' || item.channel === 'wecom_group'))
      await BatchWakeModel.deleteOne({ _id: batchId });
    return null;
  }

  /** The officer runs of a batch already compacted (a run resumed, or filed again). */
  private async officersOf(
    batch: { occurrenceId: string; items: BatchItem[]; fixedId?: string | null },
    walk: RunWalk,
  ): Promise<null> {
    if (!batch.items.some((item) => item.channel === 'manual' || item.channel === 'wecom_group')) return null;
    officerRunsOf(batch.occurrenceId, (await withFixedItems(batch)).items, walk.officers);
    return null;
  }

  /** The officer runs of a batch walked by an earlier process (read again, not compacted again). */
  private async officersOfBatch(batchId: string, walk: RunWalk): Promise<void> {
    const batch = await this.readBatch(batchId);
    if (batch) await this.officersOf(batch, walk);
  }

  /**
   * A settled run's officer run lists (channels/manual/due-slots.ts): each read by `_id`, then
   * the run looked up on the stranded-batch sweep's list (engine/open-runs.ts), then the lists'
   * entries on the watch list by `_id`; a list none of whose entries is there any more is
   * deleted (`dropRunList`; the notifier looks a run up only while it has entries, and a
   * retraction's correction keeps only entries still listed). The order is what makes a
   * re-opened run safe: a listing happens only while its run is open and before its entry is
   * inserted, so an item read whose entry is inserted after its check had its run open at the
   * check of the run, which came between. Returns when to look again (the run open again, an
   * entry still listed, a listing since the read), or null, and the entries found gone.
   */
  private async runLists(
    runId: string,
    officers: Set<string>,
    tally: Tally,
  ): Promise<{ later: Date | null; gone: Set<string> }> {
    const gone = new Set<string>();
    const lists = (await mapLimit([...officers], 4, async (run) => ({ run, ...(await runListOf(run)) }))).filter(
      (list) => list.numbers.length > 0 || list.read.hint !== null,
    );
    if (lists.length === 0) return { later: null, gone };
    if (await OpenRunModel.exists({ _id: runId })) return { later: this.clock.now(), gone };
    let later: Date | null = null;
    await mapLimit(lists, 4, async (list) => {
      const listed = await mapLimit(list.ids, 8, (id) => OpenTaskModel.exists({ _id: id }));
      if (listed.some((found) => found !== null)) {
        later = this.clock.now();
        return;
      }
      for (const id of list.ids) gone.add(id);
      if (await dropRunList(list.run, list.read)) tally.runLists += 1;
      else later = this.clock.now();
    });
    return { later, gone };
  }

  /**
   * A campaign's list (due-slots.ts `c:<campaign>`), read by `_id`, once no run of the campaign
   * is open (the sweep's list holds only the runs in flight: one small read) and none of the
   * entries it names is on the watch list (newest first, stopping at the first found; those
   * this run's lists were just found without are not read again). Not filed again when kept:
   * an entry still listed has its own run filed again, a run open gets its key when it closes,
   * and each such key looks at the list again. A stop afterwards reaches no entry, which is
   * exact: none is open (its tasks are withdrawn from the campaign's task history).
   */
  private async campaignList(campaignId: string, gone: Set<string>, tally: Tally): Promise<void> {
    const list = await campaignListOf(campaignId);
    if (list.read.items.length === 0 && list.read.hint === null) return;
    if (await OpenRunModel.exists({ campaignId })) return;
    const unknown = list.ids.filter((id) => !gone.has(id));
    for (let i = 0; i < unknown.length; i += 8) {
      const found = await Promise.all(unknown.slice(i, i + 8).map((id) => OpenTaskModel.exists({ _id: id })));
      if (found.some((doc) => doc !== null)) return;
    }
    if (await dropCampaignList(campaignId, list.read)) tally.campaignLists += 1;
  }

  /**
   * The notifier's walk markers of a day retention is done with, when no walk can start in it
   * again: the notifier's cursor and its due marker both after the day (a notifier behind by
   * the keep period leaves them; they are one per day, hour and ten minutes with filings).
   */
  private async dueMarkers(day: string): Promise<number> {
    const [cursor, marker] = await Promise.all([readCursor(), dueMarker()]);
    const end = endOfDay(day).getTime();
    if (!cursor || slotStart(cursor.slot) < end) return 0;
    if (!marker.at || marker.at.getTime() < end) return 0;
    return dropDayMarkers(day);
  }

  private readBatch(batchId: string) {
    return DeliveryBatchModel.findById(batchId, {
      items: 1,
      occurrenceId: 1,
      dueAt: 1,
      fixedId: 1,
      updatedAt: 1,
      compactedAt: 1,
      lease: 1,
    }).lean<{
      items: BatchItem[];
      occurrenceId: string;
      dueAt: Date | null;
      fixedId?: string | null;
      updatedAt: Date;
      compactedAt?: Date | null;
      lease?: { epoch?: number; until?: Date | null };
    }>();
  }

  /**
   * The outbox message of a campaign's officers' notification steps that are done (sent,
   * failed, …) and older than the period: only a step still `sending` is posted again. The
   * step itself (who, when, which tasks, its outcome) stays for the campaign page. Walks the
   * run's campaign's step list (notifications/step-list.ts) by `_id`; returns when to look again
   * (a step still sending or within the period), or null.
   */
  private async finishedSteps(runId: string, campaignId: string, cutoff: Date, tally: Tally): Promise<Date | null> {
    let later: Date | null = null;
    for (let n = 0; ; n += SLOT_WINDOW) {
      const slots = await mapLimit(
        Array.from({ length: SLOT_WINDOW }, (_, i) => n + i),
        8,
        (k) => StepSlotModel.findById(`${campaignId}|${k}`).lean<{ stepId: string | null }>(),
      );
      const end = slots.indexOf(null);
      const ids = (end < 0 ? slots : slots.slice(0, end)).flatMap((slot) => (slot?.stepId ? [slot.stepId] : []));
      const steps = await mapLimit(ids, 8, (id) =>
        NotificationStepModel.findById(id, { status: 1, at: 1, message: 1, occurrenceId: 1 }).lean<
          Pick<NotificationStepDoc, '_id' | 'status' | 'at' | 'message' | 'occurrenceId'>
        >(),
      );
      for (const step of steps) {
        if (!step || step.message == null) continue;
        if (step.status === 'sending' || step.at >= cutoff) {
          // Another run's step (a recurring campaign) waits for that run's own key.
          if (step.occurrenceId !== runId) continue;
          const at = step.status === 'sending' ? this.clock.now() : step.at;
          if (!later || at > later) later = at;
          continue;
        }
        const result = await NotificationStepModel.updateOne(
          { _id: step._id, status: { $ne: 'sending' }, message: { $ne: null } },
          { $set: { message: null } },
        );
        tally.notificationMessages += result.modifiedCount;
      }
      if (end >= 0) break;
    }
    return later;
  }

  /** Runs the jobs now and then every `everyMs` after a pass ends (never two at once) until stopped; sooner while behind. */
  start(onError: (error: unknown) => void): Loop {
    let behind = false;
    return startLoop(
      async () => {
        behind = (await this.runOnce()).behind;
      },
      () => (behind ? (this.settings.catchUpMs ?? DEFAULT_CATCH_UP_MS) : this.settings.everyMs),
      onError,
    );
  }
}

// Clicks per township and month, kept in small documents read by `_id` (issue 25): the
// monthly table reads one document per month of its period for its region, never the clicks
// themselves (an `aggregate` of the clicks collection is a scan of every click ever counted
// on FerretDB 1.24).
//
// Contract:
// - `clicktallies`, `_id` = `<month>|<region>` for the month (YYYY-MM) and every region on the
//   township's path above it (root, province, city, county: a county editor reads the
//   county's, a province admin the province's). `t.<township>` = [clicks, first clicks]
//   counted by this code's writers, `b.<township>` the same for the clicks an install counted
//   before the tallies existed (set once by click-backfill.ts); a figure is `t + b`. `ids`:
//   the batches (below) already counted in the document, as `<batch id>@<ms counted>` (older
//   writers listed one intent id per click the same way).
// - Written only under the month's claim (`clicktally:<month>`, db/claims.ts: FerretDB 1.24
//   does not make an update atomic against another writer's), so a read-modify-write of the
//   month's documents is never interleaved with another's.
// - A click (clicks.ts `record`) is written in this order on the request path: (1) its intent
//   in `clicktallyintents` (random `_id`, naming the visitor, the month and the township), (2)
//   the click itself, carrying the intent's id (`intent`); then the response. The tally step
//   is batched (click-flusher.ts): (3) `applyTallies` takes the intents of a month as one batch
//   (random id, kept across retries) and, under the claim: reads the batch's intents as they
//   are now (a gone intent was finished by someone else: skipped), reads each document once,
//   marks the live intents with the batch (`batches` += id), then writes each document once:
//   +1 (and +1 first click) per live intent whose marks the document does not list, and the
//   batch in `ids`; (4) the batch's intents deleted (`bulkWrite`s by `_id`). Bulk writes go in
//   commands of at most 20 statements (db/bulk.ts: a longer one can wedge FerretDB 1.24). A document
//   counts an intent at most once: it lists one of the intent's marks from the moment it
//   counted it, and an intent's marks are written before any document lists them. An id leaves
//   `ids` only once it is IDS_KEPT_MS old and no intent carries it (read in step 3's intent
//   read), so whoever applies an intent later (a retry, the repair, a flusher that stalled
//   past INTENT_STALE_MS and resumes after the repair) finds it gone or finds its marks.
// - A writer killed after (1), or a process killed with a batch not applied or not deleted,
//   leaves intents. The roll-up lease holder's refresh (`repairClickTallies`, rollups.ts; at
//   most once per REPAIR_EVERY_MS) looks for intents older than INTENT_STALE_MS: it finds each
//   one's click among the visitor's ten `_id`s (clicks.ts) and applies those with a click as
//   batches of its own by (3) and (4), and deletes the rest. Killed anywhere, the tallies
//   equal the clicks again once the repair has run; before it, a click written but not yet
//   tallied is missing from them (never counted twice). A writer that stalls more than
//   INTENT_STALE_MS between (1) and (2) may find its intent repaired (deleted, no click then):
//   its click is not tallied.
// - An install that counted clicks before the tallies is tallied once, in the background by
//   the roll-up lease's holder (click-backfill.ts): the clicks without `intent` (those no
//   writer of this code tallies) read in chunks, set (not added) into `b` under each month's
//   claim at the end. The monthly table reads the clicks as before until the backfill has
//   finished (`clickTalliesBuilt`).
import { randomBytes } from 'node:crypto';
import type { AnyBulkWriteOperation } from 'mongodb';
import mongoose from 'mongoose';
import { BackfillModel } from '../db/backfills.js';
import { MAX_UPDATES_PER_COMMAND } from '../db/bulk.js';
import { ClaimModel, claimOnce } from '../db/claims.js';
import { mapLimit } from '../lib/concurrency.js';
import { type RegionDirectory, regionDirectory } from '../regions/directory.js';

/** An intent older than this belongs to a writer that died: the repair finishes it. */
export const INTENT_STALE_MS = 60_000;
/** The repair reads the intents at most this often per process. */
const REPAIR_EVERY_MS = 30_000;
/** A month's claim lapses after this (its holder died): a batch's marks under load take seconds. */
const CLAIM_TTL_MS = 30_000;
/** A holder that has had the claim this long writes no document (the claim may have lapsed). */
const CLAIM_WRITE_BY_MS = 25_000;
/** A document's `ids` are checked against the intents once they are this many. */
const IDS_CHECKED_AT = 32;
/**
 * An id stays in `ids` at least this long (see the header: whoever applies an intent reads it
 * under the claim, so an id is needed only while an intent carries it; this is the margin).
 */
export const IDS_KEPT_MS = 2 * 60_000;
export const BACKFILL = 'click-tallies';

/** [clicks, first clicks]. */
export type TallyCell = [number, number];

const tallySchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    t: { type: mongoose.Schema.Types.Mixed, default: {} },
    b: { type: mongoose.Schema.Types.Mixed, default: {} },
    ids: { type: [String], default: [] },
  },
  { versionKey: false, minimize: false },
);
export const ClickTallyModel = mongoose.model('ClickTally', tallySchema, 'clicktallies');

const intentSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    /** The visitor's key (clicks.ts): the click is one of `<visitor>#0..9`. */
    visitor: { type: String, required: true },
    month: { type: String, required: true },
    township: { type: String, required: true },
    /** The tally documents the click counts in (older writers; now derived from the township). */
    docs: { type: [String], default: undefined },
    /** The batches that counted or are counting it (step 3). */
    batches: { type: [String], default: undefined },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
export const ClickTallyIntentModel = mongoose.model('ClickTallyIntent', intentSchema, 'clicktallyintents');

export interface ClickIntent {
  _id: string;
  visitor: string;
  month: string;
  township: string;
  docs?: string[];
  batches?: string[];
  at: Date;
}

/** A click to tally: its intent and whether it was the visitor's first. */
export interface TallyEntry {
  intent: ClickIntent;
  first: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const tallyId = (month: string, region: string): string => `${month}|${region}`;

/** A new batch id (short: it is kept in every document the batch counts in). */
export const newBatchId = (): string => randomBytes(9).toString('base64url');

/** The regions whose documents count a township's clicks: every region on its path above it. */
export function tallyRegionsIn(directory: RegionDirectory, township: string): string[] {
  const region = directory.byCode.get(township);
  if (region) return region.regionPath.filter((code) => code !== township);
  // Not (yet) a region: counted under its county's code prefix (Chinese codes: 6 digits).
  return [township.slice(0, 6)];
}

/** Runs `work` holding the month's claim (one holder at a time; a dead holder's lapses). */
export async function underClaim<T>(month: string, work: (claimedAt: number) => Promise<T>): Promise<T> {
  const key = `clicktally:${month}`;
  const owner = randomBytes(12).toString('base64url');
  let claimedAt = 0;
  for (let attempt = 0; ; attempt++) {
    const now = new Date();
    claimedAt = performance.now();
    if (await claimOnce(key, owner, now, new Date(now.getTime() + CLAIM_TTL_MS))) break;
    const holder = await ClaimModel.findById(key).lean<{ owner: string; until: Date | null }>();
    if (holder?.until && holder.until.getTime() < now.getTime()) {
      await ClaimModel.deleteOne({ _id: key, owner: holder.owner });
      continue;
    }
    if (attempt > 2_000) throw new Error(`click tally of ${month}: claim not obtained`);
    await sleep(Math.min(2 + attempt * 2, 50));
  }
  try {
    return await work(claimedAt);
  } finally {
    await ClaimModel.deleteOne({ _id: key, owner });
  }
}

interface TallyDoc {
  _id: string;
  t?: Record<string, TallyCell>;
  b?: Record<string, TallyCell>;
  ids?: string[];
}

/** Step (1): the intent of a click about to be written (one insert). */
export async function beginClick(visitor: string, month: string, township: string, at: Date): Promise<ClickIntent> {
  const intent: ClickIntent = { _id: randomBytes(12).toString('base64url'), visitor, month, township, at };
  await ClickTallyIntentModel.collection.insertOne(intent as never);
  return intent;
}

const idOf = (entry: string) => entry.slice(0, entry.lastIndexOf('@'));
const msOf = (entry: string) => Number(entry.slice(entry.lastIndexOf('@') + 1));

/**
 * Step (3), and (4) when `deleteIntents`: counts the clicks of `entries` (intents of `month`)
 * as batch `batch` in every document that has not counted them (idempotent; retry a batch
 * with the same id). Returns how many clicks it counted.
 */
export async function applyTallies(
  month: string,
  batch: string,
  entries: readonly TallyEntry[],
  deleteIntents = true,
): Promise<number> {
  if (entries.length === 0) return 0;
  let counted = 0;
  await underClaim(month, async (claimedAt) => {
    // One read of the regions' version token for the batch (regions/directory.ts).
    const directory = entries.every(({ intent }) => intent.docs) ? null : await regionDirectory();
    const regions = new Map<string, string[]>();
    for (const { intent } of entries) {
      if (intent.docs || regions.has(intent.township)) continue;
      regions.set(intent.township, tallyRegionsIn(directory!, intent.township));
    }
    const docsOf = (intent: ClickIntent) =>
      intent.docs ?? regions.get(intent.township)!.map((region) => tallyId(month, region));
    const docIds = [...new Set(entries.flatMap(({ intent }) => docsOf(intent)))];
    const docs = await Promise.all(
      docIds.map((id) =>
        ClickTallyModel.findById(id)
          .lean<TallyDoc>()
          .then((doc) => doc ?? { _id: id }),
      ),
    );
    // Old ids are dropped once no intent carries them: looked for in the same read.
    const now = Date.now();
    const old = (entry: string) => now - msOf(entry) > IDS_KEPT_MS;
    const candidates = [
      ...new Set(
        docs
          .filter((doc) => (doc.ids ?? []).length >= IDS_CHECKED_AT)
          .flatMap((doc) => (doc.ids ?? []).filter(old).map(idOf)),
      ),
    ];
    const intentIds = entries.map(({ intent }) => intent._id);
    const byIds = intentIds.length === 1 ? { _id: intentIds[0] } : { _id: { $in: intentIds } };
    const found = await ClickTallyIntentModel.find(
      candidates.length > 0 ? { $or: [byIds, { batches: { $in: candidates } }, { _id: { $in: candidates } }] } : byIds,
      { batches: 1 },
    ).lean<{ _id: string; batches?: string[] }[]>();
    const live = new Map(found.map((doc) => [doc._id, doc.batches ?? []]));
    // The marks live intents carry (and their own ids, as older writers listed them).
    const carried = new Set([...live.keys(), ...[...live.values()].flat()]);
    // Per document: the live intents it has not counted (none of their marks, nor their own
    // id as older writers listed it, nor this batch in its `ids`).
    const countedIds = new Set<string>();
    const plans = docs.map((doc) => {
      const listed = new Set((doc.ids ?? []).map(idOf));
      const add = new Map<string, TallyCell>();
      if (!listed.has(batch)) {
        for (const { intent, first } of entries) {
          const marks = live.get(intent._id);
          if (!marks || listed.has(intent._id) || marks.some((mark) => listed.has(mark))) continue;
          if (!docsOf(intent).includes(doc._id)) continue;
          countedIds.add(intent._id);
          const cell = add.get(intent.township) ?? [0, 0];
          add.set(intent.township, [cell[0] + 1, cell[1] + (first ? 1 : 0)]);
        }
      }
      return { doc, add };
    });
    const writes = plans.filter((plan) => plan.add.size > 0);
    if (writes.length === 0) return;
    const toMark = entries.filter(({ intent }) => live.has(intent._id) && !live.get(intent._id)!.includes(batch));
    await bulkInCommands(
      ClickTallyIntentModel,
      toMark.map(({ intent }) => ({
        updateOne: { filter: { _id: intent._id as never }, update: { $addToSet: { batches: batch } } },
      })),
    );
    // Written only while the claim surely holds (a holder that stalled past it writes nothing:
    // the batch is retried under a new claim, its marks already written).
    if (performance.now() - claimedAt > CLAIM_WRITE_BY_MS)
      throw new Error(`click tally of ${month}: claim held too long`);
    await bulkInCommands(
      ClickTallyModel,
      writes.map(({ doc, add }) => {
        const set: Record<string, unknown> = {};
        for (const [township, [clicks, firsts]] of add) {
          const [had, hadFirsts] = doc.t?.[township] ?? [0, 0];
          set[`t.${township}`] = [had + clicks, hadFirsts + firsts];
        }
        const ids = doc.ids ?? [];
        const checked = ids.length >= IDS_CHECKED_AT;
        set.ids = [...ids.filter((entry) => !(checked && old(entry) && !carried.has(idOf(entry)))), `${batch}@${now}`];
        return { updateOne: { filter: { _id: doc._id as never }, update: { $set: set }, upsert: true } };
      }),
    );
    counted = countedIds.size;
  });
  if (deleteIntents) await endClicks(entries.map(({ intent }) => intent._id));
  return counted;
}

/** Step (3) for one click, as its own batch (a test's stand-in for a writer's tally step). */
export async function tallyClick(intent: ClickIntent, first: boolean): Promise<void> {
  await applyTallies(intent.month, newBatchId(), [{ intent, first }], false);
}

/** Step (4): the intents deleted, one command. */
export async function endClicks(ids: readonly string[]): Promise<void> {
  await bulkInCommands(
    ClickTallyIntentModel,
    ids.map((id) => ({ deleteOne: { filter: { _id: id as never } } })),
  );
}

/** `ops` in commands of at most MAX_UPDATES_PER_COMMAND statements, two at a time (db/bulk.ts). */
async function bulkInCommands(
  model: typeof ClickTallyModel | typeof ClickTallyIntentModel,
  ops: AnyBulkWriteOperation[],
): Promise<void> {
  const commands: AnyBulkWriteOperation[][] = [];
  for (let i = 0; i < ops.length; i += MAX_UPDATES_PER_COMMAND)
    commands.push(ops.slice(i, i + MAX_UPDATES_PER_COMMAND));
  await mapLimit(commands, 2, (command) => model.collection.bulkWrite(command, { ordered: false }));
}

/** An intent whose click was not written (past the visitor's cap). */
export async function endClick(intent: Pick<ClickIntent, '_id'>): Promise<void> {
  await ClickTallyIntentModel.deleteOne({ _id: intent._id });
}

let lastRepair = 0;

/**
 * Finishes the intents of writers that died (older than INTENT_STALE_MS at `now`): counts the
 * click each wrote, if any, as one batch per month. Returns how many intents it finished.
 * `findClick` finds the intent's click (clicks.ts). Read at most once per REPAIR_EVERY_MS
 * unless `force`.
 */
export async function repairClickTallies(
  now: Date,
  findClick: (intent: ClickIntent) => Promise<{ first: boolean } | null>,
  force = false,
): Promise<number> {
  if (!force && Date.now() - lastRepair < REPAIR_EVERY_MS) return 0;
  lastRepair = Date.now();
  const stale = await ClickTallyIntentModel.find({ at: { $lt: new Date(now.getTime() - INTENT_STALE_MS) } })
    .limit(1_000)
    .lean<ClickIntent[]>();
  const clicks = await mapLimit(stale, 4, findClick);
  const months = new Map<string, TallyEntry[]>();
  const noClick: string[] = [];
  stale.forEach((intent, i) => {
    const click = clicks[i];
    if (!click) {
      noClick.push(intent._id);
      return;
    }
    const entries = months.get(intent.month) ?? [];
    entries.push({ intent, first: click.first });
    months.set(intent.month, entries);
  });
  for (const [month, entries] of months) await applyTallies(month, newBatchId(), entries);
  await endClicks(noClick);
  return stale.length;
}

let built = false;

/** Whether the tallies count every click (the one-time build has finished). */
export async function clickTalliesBuilt(): Promise<boolean> {
  if (!built) built = (await BackfillModel.exists({ _id: BACKFILL })) !== null;
  return built;
}

/** Forgets that the tallies were seen built (a test's stand-in for a fresh process). */
export function forgetClickTalliesBuilt(): void {
  built = false;
}

/**
 * The clicks of the months per township, from the documents of `region` (one `_id` read per
 * month): township → [clicks, first clicks], summed over the months.
 */
export async function readClickTallies(months: readonly string[], region: string): Promise<Map<string, TallyCell>> {
  const docs = await Promise.all(
    months.map((month) => ClickTallyModel.findById(tallyId(month, region)).lean<TallyDoc>()),
  );
  const sums = new Map<string, TallyCell>();
  const add = (cells: Record<string, TallyCell> | undefined) => {
    for (const [township, [clicks, firsts]] of Object.entries(cells ?? {})) {
      const sum = sums.get(township) ?? [0, 0];
      sums.set(township, [sum[0] + clicks, sum[1] + firsts]);
    }
  };
  for (const doc of docs) {
    add(doc?.t);
    add(doc?.b);
  }
  return sums;
}

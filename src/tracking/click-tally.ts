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
//   before the tallies existed (set once by `buildClickTallies`); a figure is `t + b`. `ids`:
//   the intents (below) already counted in the document, as `<intent id>@<ms counted>`.
// - Written only under the month's claim (`clicktally:<month>`, db/claims.ts: FerretDB 1.24
//   does not make an update atomic against another writer's), so a read-modify-write of the
//   month's documents is never interleaved with another's.
// - A click (clicks.ts `record`) is written in this order: (1) its intent in
//   `clicktallyintents` (random `_id`, naming the visitor, the township and the documents), (2)
//   the click itself, carrying the intent's id (`intent`), (3) under the claim, every document
//   of the intent that does not list the intent in `ids` gets +1 (and +1 first click when it is
//   the visitor's first) and the intent in `ids`, (4) the intent deleted. Step 3 is idempotent
//   (a document counts an intent once, whatever retries or repairs): an id leaves `ids` only
//   once it is IDS_KEPT_MS old and its intent is gone. So neither the repair (it applies only
//   intents that exist) nor a writer that stalled past INTENT_STALE_MS and resumes after the
//   repair (within IDS_KEPT_MS) counts a click twice.
// - A writer killed after (1) leaves its intent. The roll-up lease holder's refresh
//   (`repairClickTallies`, rollups.ts; at most once per REPAIR_EVERY_MS) looks for intents
//   older than INTENT_STALE_MS: it finds the intent's click among the visitor's ten `_id`s
//   (clicks.ts), counts it by step 3 when it exists, and deletes the intent. Killed anywhere,
//   the tallies equal the clicks again once the repair has run; before it, a click written
//   but not yet tallied is missing from them (never counted twice).
// - An install that counted clicks before the tallies is tallied once at start
//   (`buildClickTallies`, db/backfills.ts): one aggregate of the clicks without `intent`
//   (those no writer of this code tallies), set (not added) into `b` under each month's
//   claim: a rerun sets the same values. The monthly table reads the clicks as before until
//   the backfill has finished (`clickTalliesBuilt`).
import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { BackfillModel, backfillOnce } from '../db/backfills.js';
import { ClaimModel, claimOnce } from '../db/claims.js';
import { regionDirectory } from '../regions/directory.js';

/** An intent older than this belongs to a writer that died: the repair finishes it. */
export const INTENT_STALE_MS = 60_000;
/** The repair reads the intents at most this often per process. */
const REPAIR_EVERY_MS = 30_000;
/** A month's claim lapses after this (its holder died). */
const CLAIM_TTL_MS = 10_000;
/** A document's `ids` are checked against the intents once they are this many. */
const IDS_CHECKED_AT = 32;
/** An id stays in `ids` at least this long (see the header). */
const IDS_KEPT_MS = 15 * 60_000;
const BACKFILL = 'click-tallies';

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
    /** The tally documents the click counts in. */
    docs: { type: [String], required: true },
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
  docs: string[];
  at: Date;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const tallyId = (month: string, region: string): string => `${month}|${region}`;

/** The regions whose documents count a township's clicks: every region on its path above it. */
export async function tallyRegionsOf(township: string): Promise<string[]> {
  const region = (await regionDirectory()).byCode.get(township);
  if (region) return region.regionPath.filter((code) => code !== township);
  // Not (yet) a region: counted under its county's code prefix (Chinese codes: 6 digits).
  return [township.slice(0, 6)];
}

/** Runs `work` holding the month's claim (one holder at a time; a dead holder's lapses). */
async function underClaim<T>(month: string, work: () => Promise<T>): Promise<T> {
  const key = `clicktally:${month}`;
  const owner = randomUUID();
  for (let attempt = 0; ; attempt++) {
    const now = new Date();
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
    return await work();
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

/** Step (1): the intent of a click about to be written. */
export async function beginClick(visitor: string, month: string, township: string, at: Date): Promise<ClickIntent> {
  const docs = (await tallyRegionsOf(township)).map((region) => tallyId(month, region));
  const intent: ClickIntent = { _id: randomUUID(), visitor, month, township, docs, at };
  await ClickTallyIntentModel.collection.insertOne(intent as never);
  return intent;
}

/** Step (3): counts the intent's click in every document that has not counted it (idempotent). */
export async function tallyClick(intent: ClickIntent, first: boolean): Promise<void> {
  await underClaim(intent.month, async () => {
    const docs = await Promise.all(
      intent.docs.map((id) =>
        ClickTallyModel.findById(id)
          .lean<TallyDoc>()
          .then((doc) => doc ?? { _id: id }),
      ),
    );
    const counted = (doc: TallyDoc) => (doc.ids ?? []).some((id) => id.slice(0, id.lastIndexOf('@')) === intent._id);
    const pending = docs.filter((doc) => !counted(doc));
    if (pending.length === 0) return;
    // Old ids whose intents are gone go (one read of the few intents in flight, see the header).
    const now = Date.now();
    const old = (id: string) => now - Number(id.slice(id.lastIndexOf('@') + 1)) > IDS_KEPT_MS;
    const candidates = [
      ...new Set(
        pending
          .filter((doc) => (doc.ids ?? []).length >= IDS_CHECKED_AT)
          .flatMap((doc) => (doc.ids ?? []).filter(old).map((id) => id.slice(0, id.lastIndexOf('@')))),
      ),
    ];
    const live = new Set<string>();
    if (candidates.length > 0) {
      const found = await ClickTallyIntentModel.find({ _id: { $in: candidates } }, { _id: 1 }).lean<
        { _id: string }[]
      >();
      for (const doc of found) live.add(doc._id);
    }
    const gone = (id: string) => old(id) && candidates.length > 0 && !live.has(id.slice(0, id.lastIndexOf('@')));
    await Promise.all(
      pending.map((doc) => {
        const [clicks, firsts] = doc.t?.[intent.township] ?? [0, 0];
        const kept = (doc.ids ?? []).filter((id) => !((doc.ids ?? []).length >= IDS_CHECKED_AT && gone(id)));
        return ClickTallyModel.collection.updateOne(
          { _id: doc._id as never },
          {
            $set: {
              [`t.${intent.township}`]: [clicks + 1, firsts + (first ? 1 : 0)],
              ids: [...kept, `${intent._id}@${now}`],
            },
          },
          { upsert: true },
        );
      }),
    );
  });
}

/** Step (4). */
export async function endClick(intent: Pick<ClickIntent, '_id'>): Promise<void> {
  await ClickTallyIntentModel.deleteOne({ _id: intent._id });
}

let lastRepair = 0;

/**
 * Finishes the intents of writers that died (older than INTENT_STALE_MS at `now`): counts the
 * click each wrote, if any. Returns how many intents it finished. `findClick` finds the
 * intent's click (clicks.ts). Read at most once per REPAIR_EVERY_MS unless `force`.
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
  for (const intent of stale) {
    const click = await findClick(intent);
    if (click) await tallyClick(intent, click.first);
    await endClick(intent);
  }
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

/** Once per install: the clicks counted before the tallies existed, set into `b` (see the header). */
export async function buildClickTallies(): Promise<void> {
  await backfillOnce(BACKFILL, async () => {
    // One read, grouped by first or not too (FerretDB 1.24 has no `$cond` in `$group`).
    const groups = await mongoose.connection
      .collection('clicks')
      .aggregate<{ _id: { month: string; township: string; first: boolean }; n: number }>([
        { $match: { intent: { $exists: false }, townshipCode: { $ne: '' } } },
        { $group: { _id: { month: '$month', township: '$townshipCode', first: '$first' }, n: { $sum: 1 } } },
      ])
      .toArray();
    const sums = new Map<string, { _id: { month: string; township: string }; n: number; f: number }>();
    for (const group of groups) {
      const { month, township, first } = group._id;
      const key = `${month}|${township}`;
      const row = sums.get(key) ?? { _id: { month, township }, n: 0, f: 0 };
      row.n += group.n;
      if (first === true) row.f += group.n;
      sums.set(key, row);
    }
    const rows = [...sums.values()];
    // month → document id → township → cell
    const months = new Map<string, Map<string, Record<string, TallyCell>>>();
    for (const row of rows) {
      const { month, township } = row._id;
      const docs = months.get(month) ?? new Map<string, Record<string, TallyCell>>();
      months.set(month, docs);
      for (const region of await tallyRegionsOf(township)) {
        const id = tallyId(month, region);
        const cells = docs.get(id) ?? {};
        docs.set(id, cells);
        cells[township] = [row.n, row.f];
      }
    }
    for (const [month, docs] of months) {
      await underClaim(month, async () => {
        for (const [id, cells] of docs) {
          await ClickTallyModel.collection.updateOne({ _id: id as never }, { $set: { b: cells } }, { upsert: true });
        }
      });
    }
  });
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

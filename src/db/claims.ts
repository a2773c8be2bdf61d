// Mutual exclusion that holds on FerretDB as well as MongoDB. FerretDB 1.24 does not make
// a conditional update atomic (two findOneAndUpdate calls guarded by the same condition can
// both win), but a unique index always holds. So every "only one may" in this code base is
// an insert of a key that can exist once: the winner inserted it, everyone else got 11000.
import mongoose from 'mongoose';
import { mapLimit } from '../lib/concurrency.js';
import { SCHEDULER_DUE, lowerDue } from './due-marks.js';

const claimSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    owner: { type: String, required: true },
    at: { type: Date, required: true },
    /** For leases: when the holder's right ends unless it takes a new epoch. */
    until: { type: Date, default: null },
  },
  { versionKey: false },
);

/** Leases and one-time decisions. */
export const ClaimModel = mongoose.model('Claim', claimSchema);
/** One marker per send attempt of one delivery: whoever inserts it may send. */
export const SendAttemptModel = mongoose.model('SendAttempt', claimSchema);
/** One marker per slot of a robot's rate window (engine/rate-limit.ts); `until` = the slice's end. */
export const RateSlotModel = mongoose.model('RateSlot', claimSchema);

type ClaimCollection = typeof ClaimModel;

function isDuplicateKey(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000;
}

/** True for exactly one caller per key, ever. */
export async function claimOnce(
  key: string,
  owner: string,
  at: Date,
  until: Date | null = null,
  collection: ClaimCollection = ClaimModel,
): Promise<boolean> {
  try {
    // The driver, not a mongoose document: these inserts are on the worker's path (a lease per
    // batch, a county's claim per count write), and the document is exactly what the schema
    // stores; making and validating a mongoose document for it was CPU for nothing.
    await collection.collection.insertOne({ _id: key, owner, at, until } as never);
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}

/** True for each key this caller inserted first (one round trip for many keys). */
export async function claimMany(
  keys: string[],
  owner: string,
  at: Date,
  collection: ClaimCollection = ClaimModel,
  until: Date | null = null,
): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const won = new Set(keys);
  try {
    // The driver (see claimOnce): a wave's attempts and rate slots, one mongoose document each,
    // were a tenth of the worker's CPU.
    await collection.collection.insertMany(
      keys.map((key) => ({ _id: key, owner, at, until }) as never),
      { ordered: false },
    );
  } catch (error) {
    const writeErrors = (error as { writeErrors?: Array<{ index?: number; err?: { index?: number }; code?: number }> })
      .writeErrors;
    if (!writeErrors) throw error;
    for (const failure of writeErrors) {
      const index = failure.index ?? failure.err?.index;
      if (failure.code !== undefined && failure.code !== 11000) throw error;
      if (index !== undefined) won.delete(keys[index]!);
    }
  }
  return won;
}

export interface Lease {
  epoch: number;
  until: Date;
}

/**
 * Takes the lease on `resource` whose last known holder is `current` (as recorded on the
 * resource by that holder). A lease is an epoch number claimed once; its holder writes it
 * onto the resource and renews it there. Returns null while a live holder has it.
 */
export async function acquireLease(
  resource: string,
  current: Lease | null,
  owner: string,
  now: Date,
  ttlMs: number,
): Promise<Lease | null> {
  if (current && current.until > now) return null;
  const first = (current?.epoch ?? 0) + 1;
  for (let epoch = first; epoch < first + 100; epoch++) {
    const until = new Date(now.getTime() + ttlMs);
    if (await claimOnce(`${resource}#${epoch}`, owner, now, until)) return { epoch, until };
    // Taken: alive unless its holder died before writing it onto the resource.
    const holder = await ClaimModel.findById(`${resource}#${epoch}`).lean();
    if (holder?.until && holder.until > now) return null;
  }
  return null;
}

/** Whether a later epoch than ours has been taken, i.e. our lease was taken over. */
export async function leaseTakenOver(resource: string, epoch: number): Promise<boolean> {
  return Boolean(await ClaimModel.exists({ _id: `${resource}#${epoch + 1}` }));
}

/**
 * Runs an action of several steps that happens once but must finish even if its runner
 * dies part-way (an intent, below): the runner holds a lease on `key` while it works and
 * marks the key done at the end. A runner that died leaves its lease to lapse after
 * `ttlMs`, and the next caller runs the action again, so every step must be safe to
 * repeat. A runner whose steps throw hands the lease back, so the next caller may run at
 * once. 'busy' while a live runner holds it; 'done' once one finished.
 */
export async function runResumable<T>(
  key: string,
  owner: string,
  now: Date,
  ttlMs: number,
  steps: () => Promise<T>,
): Promise<{ state: 'busy' } | { state: 'done' } | { state: 'ran'; value: T }> {
  if (await ClaimModel.exists({ _id: `${key}:done` })) return { state: 'done' };
  const lease = await acquireLease(key, null, owner, now, ttlMs);
  if (!lease) return { state: 'busy' };
  let value: T;
  try {
    value = await steps();
  } catch (error) {
    await ClaimModel.deleteOne({ _id: `${key}#${lease.epoch}`, owner });
    throw error;
  }
  await claimOnce(`${key}:done`, owner, now);
  return { state: 'ran', value };
}

/**
 * What a multi-step state change still has to do, recorded in the same single-document write
 * as the change itself (no transactions on FerretDB): if the process dies after that write,
 * the intent is there for a sweep to finish. It runs under `runResumable` on `intent:<id>`,
 * so a live runner and the sweep never run it at once, and it is finished when that key is
 * marked done. Only the writer of the document's next state (it holds the state claim, see
 * `changeStateOnce`) rewrites the list, dropping the finished ones, so two writers never race
 * on it.
 */
export interface Intent {
  id: string;
  /** The action whose effects remain (a key of the lifecycle table's effects). */
  kind: string;
  at: Date;
  /** Who asked for it (user id), and the name the audit shows. */
  by: string;
  byName: string;
  /** What the effects need (e.g. the follow-up notice of a retraction). */
  args: Record<string, unknown>;
}

export const intentSchema = new mongoose.Schema(
  {
    id: { type: String, required: true },
    kind: { type: String, required: true },
    at: { type: Date, required: true },
    by: { type: String, required: true },
    byName: { type: String, required: true },
    args: { type: mongoose.Schema.Types.Mixed, default: {} },
  },
  { _id: false, minimize: false },
);

export function newIntent(
  kind: string,
  by: { id: string; username: string },
  at: Date,
  args: Record<string, unknown> = {},
): Intent {
  return { id: new mongoose.Types.ObjectId().toHexString(), kind, at, by: by.id, byName: by.username, args };
}

export const intentKey = (intent: Pick<Intent, 'id'>): string => `intent:${intent.id}`;

/** The intents of the list whose runner has not marked them done (one read). */
export async function unfinishedIntents(intents: readonly Intent[] | null | undefined): Promise<Intent[]> {
  if (!intents || intents.length === 0) return [];
  // Each marker by its _id: an `$in` is a scan of every claim on FerretDB (they grow with history).
  const done = await mapLimit(intents, 8, (intent) => ClaimModel.exists({ _id: `${intentKey(intent)}:done` }));
  return intents.filter((_, i) => !done[i]);
}

/** Runs an intent's steps once (see runResumable); 'busy' while another live runner has it. */
export async function runIntent(
  intent: Intent,
  owner: string,
  now: Date,
  ttlMs: number,
  steps: () => Promise<void>,
): Promise<'ran' | 'done' | 'busy'> {
  return (await runResumable(intentKey(intent), owner, now, ttlMs, steps)).state;
}

/** An intent is looked at by the scheduler's sweep once it is this old (the sweeps' own rule). */
const INTENT_SWEEP_AFTER_MS = 10_000;

/**
 * After a state change: a run due at `nextRunAt` (an approval, a resume, the tick's advance) or
 * an intent to finish makes the scheduler's tick due (db/due-marks.ts), so its idle passes can
 * read the marker alone.
 */
async function lowerSchedulerDue(
  updated: unknown,
  set: Record<string, unknown>,
  intent: Intent | null,
  now: Date,
): Promise<void> {
  if (!updated) return;
  const times: number[] = [];
  if (set.nextRunAt instanceof Date) times.push(set.nextRunAt.getTime());
  if (intent) times.push(now.getTime() + INTENT_SWEEP_AFTER_MS);
  if (times.length) await lowerDue(SCHEDULER_DUE, new Date(Math.min(...times)));
}

/**
 * A state claim whose writer has not written for this long is taken to have died: the process's
 * lease (LEASE_SECONDS, a minute by default), set by createContext. A writer writes within a few
 * round trips of its claim, far inside any lease the config allows (2 s at least).
 */
let staleStateClaimMs = 60_000;

/** The age after which a state claim without its write is passed over (createContext: the lease). */
export function setStateClaimStaleAfter(ms: number): void {
  staleStateClaimMs = ms;
}

/**
 * The one way a lifecycle document (a campaign, a notice) changes state. Every change claims
 * the document's next sequence number once (`<prefix>:<id>#<seq>`, a unique insert): of two
 * changes made from the same state (a resume racing a cancel, two reviewers, an edit racing an
 * approval) exactly one wins, on FerretDB too, where a conditional update is not atomic. A
 * claim whose writer died before writing (older than the lease, a minute by default, the
 * document still at the previous number) is passed over. The winner writes `set` (and `intent`, appended to the
 * document's unfinished intents) in one update. Null when another change won.
 */
export async function changeStateOnce<D extends object>(
  // biome-ignore lint/suspicious/noExplicitAny: the model of any lifecycle document
  model: mongoose.Model<any>,
  prefix: string,
  seqField: string,
  current: D,
  now: Date,
  set: Record<string, unknown>,
  filter: Record<string, unknown> = {},
  intent: Intent | null = null,
): Promise<D | null> {
  const seen = current as { _id?: unknown; intents?: Intent[] | null } & Record<string, unknown>;
  const first = Number(seen[seqField] ?? 0) + 1;
  for (let seq = first; seq < first + 5; seq++) {
    const key = `${prefix}:${String(seen._id)}#${seq}`;
    if (await claimOnce(key, prefix, now)) {
      const intents = intent ? [...(await unfinishedIntents(seen.intents)), intent] : undefined;
      // Before the write too: a process killed between its write and the lowering after it
      // still leaves the scheduler due (the after-lowering keeps a concurrent raise from winning).
      await lowerSchedulerDue(true, set, intent, now);
      const updated = await model
        .findOneAndUpdate(
          { _id: seen._id, ...filter },
          { $set: { ...set, ...(intents ? { intents } : {}), [seqField]: seq } },
          { new: true },
        )
        .lean<D>();
      await lowerSchedulerDue(updated, set, intent, now);
      return updated;
    }
    const claim = await ClaimModel.findById(key).lean();
    if (!claim || now.getTime() - claim.at.getTime() < staleStateClaimMs) return null;
    const doc = await model.findById(seen._id, { [seqField]: 1 }).lean<Record<string, unknown>>();
    if (Number(doc?.[seqField] ?? 0) >= seq) return null; // it was written: our view is out of date
  }
  return null;
}

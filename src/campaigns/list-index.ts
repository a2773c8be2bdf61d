// The campaign list's candidates without a scan per call. Campaigns never move (their
// regionPath is the author's scope) and are never deleted, so a process keeps every campaign's
// `(id, regionPath)` in memory: read by one projected scan the first time it lists (as the
// radius villages are), then kept current from an append-only log of inserts:
//
// - every insert through mongoose (`save()`/`create()`) first writes an intent
//   (`campaignaddintents`, `_id` = the campaign id), then inserts, then appends a record
//   `campaignadds` `#<n>` naming it (n claimed by a unique insert, walking up from a hint),
//   then deletes the intent;
// - a reader reads the intents (normally none; a writer that died leaves its intent, and the
//   id stays a candidate), then the records after the last one it has seen (normally one
//   `_id` lookup that finds nothing).
//
// The index is only a superset: the list reads each candidate by `_id` with its own filter
// (status, scope) in `_id` order until the page is full, so the answer is the scan's.
import mongoose from 'mongoose';
import { isDuplicateKey } from '../lib/errors.js';

const addSchema = new mongoose.Schema(
  { _id: { type: String, required: true }, ids: { type: [String], default: [] }, n: { type: Number, default: 0 } },
  { versionKey: false },
);
/** `#<n>`: the ids one insert added (n dense from 1); `head`: a hint of the last n (never above it). */
export const CampaignAddModel = mongoose.model('CampaignAdd', addSchema, 'campaignadds');

const addIntentSchema = new mongoose.Schema(
  { _id: { type: String, required: true }, at: { type: Date, required: true } },
  { versionKey: false },
);
/** Inserts in flight (`_id` = the campaign id): listed whole by the list, normally empty. */
export const CampaignAddIntentModel = mongoose.model('CampaignAddIntent', addIntentSchema, 'campaignaddintents');

const HEAD = 'head';

/** Before a campaign's insert: its intent. */
export async function beforeInsert(id: string): Promise<void> {
  await CampaignAddIntentModel.create({ _id: id, at: new Date() }).catch((error) => {
    if (!isDuplicateKey(error)) throw error;
  });
}

/** After a campaign's insert: its record, then the intent goes. */
export async function afterInsert(id: string): Promise<void> {
  let n = ((await CampaignAddModel.findById(HEAD, { n: 1 }).lean<{ n: number }>())?.n ?? 0) + 1;
  for (;;) {
    try {
      await CampaignAddModel.create({ _id: `#${n}`, ids: [id] });
      break;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      n += 1;
    }
  }
  // Only a hint (a lower one only makes the next writer or reader walk up further).
  await CampaignAddModel.updateOne({ _id: HEAD }, { $max: { n } }, { upsert: true }).catch(() => undefined);
  await CampaignAddIntentModel.deleteOne({ _id: id });
}

interface Held {
  seq: number;
  /** id → regionPath. */
  paths: Map<string, string[]>;
}

const held = new Map<string, Promise<Held>>();

async function build(): Promise<Held> {
  let seq = (await CampaignAddModel.findById(HEAD, { n: 1 }).lean<{ n: number }>())?.n ?? 0;
  while (await CampaignAddModel.exists({ _id: `#${seq + 1}` })) seq += 1;
  // A record that existed above was appended after its insert, so the scan sees that campaign.
  const docs = await mongoose
    .model('Campaign')
    .find({}, { _id: 1, regionPath: 1 })
    .lean<{ _id: mongoose.Types.ObjectId; regionPath: string[] }[]>();
  return { seq, paths: new Map(docs.map((d) => [String(d._id), d.regionPath ?? []])) };
}

/**
 * Ids of every campaign whose regionPath may hold `code` (and of every insert in flight),
 * newest first or oldest first.
 */
export async function campaignCandidates(code: string, newest: boolean): Promise<string[]> {
  const Campaign = mongoose.model('Campaign');
  // Inserts in flight first: records read after them cannot miss one that finished between.
  const inFlight = await CampaignAddIntentModel.find({}, { _id: 1 }).lean<{ _id: string }[]>();
  const key = Campaign.db.name;
  let pending = held.get(key);
  if (!pending) {
    pending = build();
    held.set(key, pending);
    pending.catch(() => held.delete(key));
  }
  const index = await pending;
  for (;;) {
    const record = await CampaignAddModel.findById(`#${index.seq + 1}`, { ids: 1 }).lean<{ ids: string[] }>();
    if (!record) break;
    index.seq += 1;
    for (const id of record.ids) {
      if (index.paths.has(id) || !mongoose.isValidObjectId(id)) continue;
      const doc = await Campaign.findById(id, { regionPath: 1 }).lean<{ regionPath: string[] }>();
      if (doc) index.paths.set(id, doc.regionPath ?? []);
    }
  }
  const ids = new Set(inFlight.map((i) => i._id));
  for (const [id, path] of index.paths) if (path.includes(code)) ids.add(id);
  const sorted = [...ids].sort();
  return newest ? sorted.reverse() : sorted;
}

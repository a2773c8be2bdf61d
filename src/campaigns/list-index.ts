// The campaign lists' and the calendar's candidates without a scan per call. A process keeps,
// for every campaign, the few fields the lists filter and sort on (`IndexedCampaign`): read by
// one projected scan the first time it lists (as the radius villages are), then kept exact
// from an append-only log of writes:
//
// - every write through mongoose (`save()`/`create()`, the query writes `findOneAndUpdate`,
//   `updateOne`, … and `insertMany`; model.ts installs the hooks) first writes an intent
//   (`campaignaddintents`, `_id` = the campaign id, or `*` for a write whose ids are not known
//   up front), then writes, then appends a record `campaignadds` `#<n>` naming the ids (n
//   claimed by a unique insert, walking up from a hint), then deletes the intent;
// - a reader reads the intents (normally none; a writer that died leaves its intent, and that
//   id is read again by `_id` on every call, `*` makes it read every campaign), then the
//   records after the last one it has seen (normally one `_id` lookup that finds nothing), and
//   reads each id they name again by `_id` (`*`: every campaign, by one scan).
//
// Campaign state changes all go through `changeStateOnce` (a `findOneAndUpdate` by `_id`), so
// a status change, an edit of the title or schedule, an approval are each one record. The
// log's first records (before this index held more than the scope) named inserts only; a
// re-read by `_id` serves both.
//
// The scheduler's full tick reads its due campaigns, the earliest next run and the campaigns
// with intents from the index too (`nextRunAt`, `intents`), each candidate then read by `_id`
// with the tick's own filter: an idle full tick costs the intents' read and one `_id` lookup,
// not a scan of every campaign ever made.
//
// The lists still read each page's campaigns by `_id` with their own filter (status, scope),
// so a campaign changed between the index's read and the page's read is filtered as the scan
// would filter it. The calendar needs no more than the index holds (title, status, priority,
// notice, schedule, approval and creation times), so it reads no campaign at all.
import mongoose from 'mongoose';
import { isDuplicateKey } from '../lib/errors.js';

const addSchema = new mongoose.Schema(
  { _id: { type: String, required: true }, ids: { type: [String], default: [] }, n: { type: Number, default: 0 } },
  { versionKey: false },
);
/** `#<n>`: the ids one write touched (n dense from 1); `head`: a hint of the last n (never above it). */
export const CampaignAddModel = mongoose.model('CampaignAdd', addSchema, 'campaignadds');

const addIntentSchema = new mongoose.Schema(
  { _id: { type: String, required: true }, at: { type: Date, required: true } },
  { versionKey: false },
);
/** Writes in flight (`_id` = the campaign id, or `*`): listed whole by the lists, normally empty. */
export const CampaignAddIntentModel = mongoose.model('CampaignAddIntent', addIntentSchema, 'campaignaddintents');

const HEAD = 'head';
/** A write whose campaigns are not known by id (an `insertMany`, a query write not by `_id`). */
export const ALL = '*';

/** Before a campaign's write: its intent. */
export async function beforeWrite(id: string): Promise<void> {
  await CampaignAddIntentModel.create({ _id: id, at: new Date() }).catch((error) => {
    if (!isDuplicateKey(error)) throw error;
  });
}

/** After a campaign's write: its record, then the intent goes. */
export async function afterWrite(id: string): Promise<void> {
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

/** The earlier names (inserts only). */
export const beforeInsert = beforeWrite;
export const afterInsert = afterWrite;

/** What the lists filter and sort on, per campaign. */
export interface IndexedCampaign {
  id: string;
  regionPath: string[];
  status: string;
  title: string;
  createdAt: number;
  /**
   * The earliest and latest time a run of its schedule can fall at (ms; `Infinity` when
   * unknown): the calendar reads only campaigns whose span meets its window.
   */
  runsFrom: number;
  runsTo: number;
  /** What the calendar shows besides (its notice, priority, schedule, approval time). */
  noticeId: string;
  priority: string;
  schedule: FieldsDoc['schedule'];
  approvedAt: Date | null;
  /** The scheduler's: its next run (ms, null when none) and the ids of the intents recorded on it. */
  nextRunAt: number | null;
  intentIds: string[];
}

const FIELDS = {
  _id: 1,
  regionPath: 1,
  status: 1,
  title: 1,
  createdAt: 1,
  approvedAt: 1,
  schedule: 1,
  noticeId: 1,
  priority: 1,
  nextRunAt: 1,
  'intents.id': 1,
} as const;

interface FieldsDoc {
  _id: unknown;
  regionPath?: string[];
  status?: string;
  title?: string;
  createdAt?: Date;
  approvedAt?: Date | null;
  schedule?: { kind?: string; at?: Date | null; cron?: string | null; startAt?: Date | null; endAt?: Date | null } | null;
  noticeId?: string;
  priority?: string;
  nextRunAt?: Date | null;
  intents?: { id?: string }[] | null;
}

const time = (d: Date | null | undefined): number | null => (d instanceof Date ? d.getTime() : null);

/** The span of a schedule's runs, as `calendar/service.ts` `scheduleTimes` computes them (a superset). */
function runSpan(doc: FieldsDoc): [number, number] {
  const created = time(doc.createdAt) ?? Number.NEGATIVE_INFINITY;
  const schedule = doc.schedule;
  if (schedule?.kind === 'now') {
    const at = time(doc.approvedAt) ?? created;
    return [at, at];
  }
  if (schedule?.kind === 'once') {
    const at = time(schedule.at);
    return at === null ? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY] : [at, at];
  }
  if (schedule?.kind === 'cron') {
    return [time(schedule.startAt) ?? created, time(schedule.endAt) ?? Number.POSITIVE_INFINITY];
  }
  return [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
}

function indexed(doc: FieldsDoc): IndexedCampaign {
  const [runsFrom, runsTo] = runSpan(doc);
  return {
    id: String(doc._id),
    regionPath: doc.regionPath ?? [],
    status: doc.status ?? 'draft',
    title: doc.title ?? '',
    createdAt: time(doc.createdAt) ?? 0,
    runsFrom,
    runsTo,
    noticeId: doc.noticeId ?? '',
    priority: doc.priority ?? 'normal',
    schedule: doc.schedule ?? null,
    approvedAt: doc.approvedAt ?? null,
    nextRunAt: time(doc.nextRunAt),
    intentIds: (doc.intents ?? []).flatMap((intent) => (intent.id ? [intent.id] : [])),
  };
}

interface Held {
  seq: number;
  campaigns: Map<string, IndexedCampaign>;
  /** Catch-ups one after another: two calls never both take the same record. */
  turn: Promise<unknown>;
}

const held = new Map<string, Promise<Held>>();

async function readAll(): Promise<Map<string, IndexedCampaign>> {
  const docs = await mongoose.model('Campaign').find({}, FIELDS).lean<FieldsDoc[]>();
  return new Map(docs.map((d) => [String(d._id), indexed(d)]));
}

async function build(): Promise<Held> {
  let seq = (await CampaignAddModel.findById(HEAD, { n: 1 }).lean<{ n: number }>())?.n ?? 0;
  while (await CampaignAddModel.exists({ _id: `#${seq + 1}` })) seq += 1;
  // A record that existed above was appended after its write, so the scan sees that write.
  return { seq, campaigns: await readAll(), turn: Promise.resolve() };
}

/** Reads one campaign again by `_id` (gone: dropped from the index). */
async function reread(index: Held, id: string): Promise<void> {
  if (!mongoose.isValidObjectId(id)) return;
  const doc = await mongoose.model('Campaign').findById(id, FIELDS).lean<FieldsDoc>();
  if (doc) index.campaigns.set(id, indexed(doc));
  else index.campaigns.delete(id);
}

async function catchUp(index: Held, inFlight: string[]): Promise<void> {
  let all = inFlight.includes(ALL);
  const ids = new Set(inFlight.filter((id) => id !== ALL));
  for (;;) {
    const record = await CampaignAddModel.findById(`#${index.seq + 1}`, { ids: 1 }).lean<{ ids: string[] }>();
    if (!record) break;
    index.seq += 1;
    for (const id of record.ids) {
      if (id === ALL) all = true;
      else ids.add(id);
    }
  }
  if (all) {
    index.campaigns = await readAll();
    return;
  }
  for (const id of ids) await reread(index, id);
}

/** Every campaign as the index holds it now (exact as of this call's start, see the header). */
export async function indexedCampaigns(): Promise<Map<string, IndexedCampaign>> {
  // Writes in flight first: records read after them cannot miss one that finished between.
  const inFlight = (await CampaignAddIntentModel.find({}, { _id: 1 }).lean<{ _id: string }[]>()).map((i) => i._id);
  const key = mongoose.model('Campaign').db.name;
  let pending = held.get(key);
  if (!pending) {
    pending = build();
    held.set(key, pending);
    pending.catch(() => held.delete(key));
  }
  const index = await pending;
  const turn = index.turn.then(() => catchUp(index, inFlight));
  index.turn = turn.catch(() => undefined);
  await turn;
  return index.campaigns;
}

/**
 * Ids of every campaign whose regionPath holds `code` and that `keep` keeps (and of every
 * write in flight), newest first or oldest first by `_id`.
 */
export async function campaignCandidates(
  code: string,
  newest: boolean,
  keep: (campaign: IndexedCampaign) => boolean = () => true,
): Promise<string[]> {
  const campaigns = await indexedCampaigns();
  const ids: string[] = [];
  for (const campaign of campaigns.values()) {
    if (campaign.regionPath.includes(code) && keep(campaign)) ids.push(campaign.id);
  }
  const sorted = ids.sort();
  return newest ? sorted.reverse() : sorted;
}

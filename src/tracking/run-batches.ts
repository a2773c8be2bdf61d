// Which batches a campaign has, read by `_id` (issue 25): on FerretDB 1.24 a query on any
// field but `_id` reads the whole batch collection, which grows with every run of every
// campaign; a campaign's progress, deliveries and summaries read only its own batches.
//
// Two kinds of small documents, both keyed by `_id`:
//   `campaign|<campaignId>` → `runIds`: the campaign's runs (occurrence ids), skipped ones too;
//   `run|<occurrenceId>`    → `batchIds`: every batch id the run's planner may have written;
//   `notice|<noticeId>`     → `runIds`: every run that planned deliveries of the notice (through
//                             any campaign): retraction audiences, deferred follow-ups, a case's
//                             reach and the residents' page read the notice's batches from it.
// Contract:
// - A batch id is listed BEFORE its batch is inserted (planner), so every batch that exists
//   is listed; an id whose insert never happened (a planner died in between, or found the id
//   taken and moved to the next part) is simply absent when read, and readers skip it.
// - A run is listed on its campaign before it is created (tick; a missed run recorded
//   skipped too) and again when its planning starts, before any batch: `$addToSet`, idempotent. The tick creates one campaign's runs
//   one after another, so two writers of one campaign document add the same id, if any.
// - A run is listed on its notice by its planner before its first batch (`$addToSet`,
//   idempotent): the notice is the one the tick recorded on the run, which its batches carry.
// - The run document has one writer at a time: the planner holding the run's lease.
// - Databases written before these lists existed are indexed once at start
//   (engine/runs.ts `buildRunLists`), marked done by the `built` document; the notices' lists
//   likewise (`buildNoticeLists` below, the `built-notices` document).
import mongoose from 'mongoose';
import { DeliveryBatchModel } from './model.js';
import { runWriteStarting } from './run-generation.js';

const listSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    campaignId: { type: String, default: null },
    runIds: { type: [String], default: undefined },
    batchIds: { type: [String], default: undefined },
  },
  { versionKey: false },
);

export const RunBatchListModel = mongoose.model('RunBatchList', listSchema, 'runbatchlists');

const campaignKey = (campaignId: string) => `campaign|${campaignId}`;
const runKey = (occurrenceId: string) => `run|${occurrenceId}`;
const noticeKey = (noticeId: string) => `notice|${noticeId}`;
/** The marker of a database whose lists are complete (engine/runs.ts builds them once). */
export const LISTS_BUILT = 'built';
/** The marker of a database whose notices' lists are complete (`buildNoticeLists`). */
export const NOTICE_LISTS_BUILT = 'built-notices';

/** Lists runs on their campaign (before a run writes any batch). */
export async function listRun(campaignId: string, ...occurrenceIds: string[]): Promise<void> {
  if (occurrenceIds.length === 0) return;
  await RunBatchListModel.updateOne(
    { _id: campaignKey(campaignId) },
    { $addToSet: { runIds: { $each: occurrenceIds } } },
    { upsert: true },
  );
}

/** Lists a run on its notice; call before the run inserts any batch. */
export async function listNoticeRun(noticeId: string, ...occurrenceIds: string[]): Promise<void> {
  if (occurrenceIds.length === 0) return;
  await RunBatchListModel.updateOne(
    { _id: noticeKey(noticeId) },
    { $addToSet: { runIds: { $each: occurrenceIds } } },
    { upsert: true },
  );
}

/**
 * Lists batch ids on their run; call before inserting them. `until`: when the insert that
 * follows may land at the latest (the planner's lease); the run's summary is void from now
 * and none is made before then (tracking/run-generation.ts).
 */
export async function listBatches(
  campaignId: string,
  occurrenceId: string,
  batchIds: string[],
  until: Date = new Date(0),
): Promise<void> {
  if (batchIds.length === 0) return;
  await Promise.all([
    runWriteStarting(occurrenceId, until),
    RunBatchListModel.updateOne(
      { _id: runKey(occurrenceId) },
      { $addToSet: { batchIds: { $each: batchIds } }, $set: { campaignId } },
      { upsert: true },
    ),
  ]);
}

/** The run (occurrence) ids listed for a campaign. */
export async function runIdsOf(campaignId: string): Promise<string[]> {
  const doc = await RunBatchListModel.findById(campaignKey(campaignId), { runIds: 1 }).lean();
  return [...(doc?.runIds ?? [])];
}

/** Every batch id listed for one run (some may not exist). */
export async function batchIdsOfRun(occurrenceId: string): Promise<string[]> {
  const doc = await RunBatchListModel.findById(runKey(occurrenceId), { batchIds: 1 }).lean();
  return [...(doc?.batchIds ?? [])];
}

/** Every batch id listed for a campaign, in `_id` order (some may not exist). */
export async function batchIdsOf(campaignId: string): Promise<string[]> {
  const runs = await runIdsOf(campaignId);
  const lists = await mapLimited(runs, 8, async (run) => {
    const doc = await RunBatchListModel.findById(runKey(run), { batchIds: 1 }).lean();
    return doc?.batchIds ?? [];
  });
  return lists.flat().sort();
}

/** The runs listed for a notice, in listing order (the order they were planned). */
export async function runIdsOfNotice(noticeId: string): Promise<string[]> {
  const doc = await RunBatchListModel.findById(noticeKey(noticeId), { runIds: 1 }).lean();
  return [...(doc?.runIds ?? [])];
}

/** Each run of the notice with its campaign and listed batch ids (runs in listing order). */
export async function runsOfNotice(
  noticeId: string,
): Promise<{ occurrenceId: string; campaignId: string | null; batchIds: string[] }[]> {
  const runs = await runIdsOfNotice(noticeId);
  return mapLimited(runs, 8, async (occurrenceId) => {
    const doc = await RunBatchListModel.findById(runKey(occurrenceId), { batchIds: 1, campaignId: 1 }).lean();
    return { occurrenceId, campaignId: doc?.campaignId ?? null, batchIds: [...(doc?.batchIds ?? [])] };
  });
}

/** Every batch id listed for a notice, run by run in listing order (some may not exist). */
export async function batchIdsOfNotice(noticeId: string): Promise<string[]> {
  return (await runsOfNotice(noticeId)).flatMap((run) => run.batchIds);
}

/**
 * The notice's batches (those listed and existing) with `projection`, one window of `_id`
 * reads at a time, runs in listing order; a caller may stop early.
 */
export async function* eachBatchOfNotice<T extends object>(
  noticeId: string,
  projection: Record<string, 0 | 1>,
): AsyncGenerator<T> {
  const ids = await batchIdsOfNotice(noticeId);
  for (let i = 0; i < ids.length; i += READ_LANES) {
    const window = await Promise.all(
      ids.slice(i, i + READ_LANES).map((id) => DeliveryBatchModel.findById(id, projection).lean<T>()),
    );
    for (const doc of window) if (doc) yield doc;
  }
}

/**
 * Lists every run that has batches on its notice, for a database written before the notices'
 * lists existed: one pass over the batches' ids, notices and runs, then the marker, read by
 * `_id` on every later start. Idempotent (`$addToSet`); a run planned meanwhile lists itself.
 */
export async function buildNoticeLists(): Promise<void> {
  if (await RunBatchListModel.exists({ _id: NOTICE_LISTS_BUILT })) return;
  const runsByNotice = new Map<string, Set<string>>();
  const cursor = DeliveryBatchModel.find({}, { _id: 1, noticeId: 1, occurrenceId: 1 })
    .lean<{ _id: string; noticeId: string; occurrenceId: string }[]>()
    .cursor();
  for await (const batch of cursor) {
    const runs = runsByNotice.get(batch.noticeId) ?? new Set<string>();
    runsByNotice.set(batch.noticeId, runs);
    runs.add(batch.occurrenceId);
  }
  for (const [noticeId, runs] of runsByNotice) await listNoticeRun(noticeId, ...[...runs].sort());
  await RunBatchListModel.updateOne({ _id: NOTICE_LISTS_BUILT }, { $set: { campaignId: null } }, { upsert: true });
}

/** Runs `fn` over `items` with at most `limit` at once; results in the items' order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const at = next++;
      out[at] = await fn(items[at]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

const pathOf = (doc: object): string[] => (doc as { regionPath?: string[] }).regionPath ?? [];

/** Concurrent `_id` reads per call: FerretDB answers each from its `_id` index. */
const READ_LANES = 8;

/**
 * The campaign's batches (those listed and existing), each read by `_id` with `projection`
 * (which must include `regionPath` when `inside` is given), in `_id` order; `inside` keeps
 * only batches whose region path passes it (the caller's scope).
 */
export async function batchesOf<T extends object>(
  campaignId: string,
  projection: Record<string, 0 | 1>,
  inside?: (regionPath: readonly string[]) => boolean,
): Promise<T[]> {
  const ids = await batchIdsOf(campaignId);
  const docs = await mapLimited(ids, READ_LANES, (id) => DeliveryBatchModel.findById(id, projection).lean<T>());
  return docs.filter((doc): doc is NonNullable<typeof doc> => doc != null && (!inside || inside(pathOf(doc))));
}

/**
 * The campaign's batches one window at a time, in `_id` order (a deliveries list or an
 * export stops early, or keeps one window in memory): READ_LANES `_id` reads at once.
 */
export async function* eachBatchOf<T extends object>(
  campaignId: string,
  projection: Record<string, 0 | 1>,
  inside?: (regionPath: readonly string[]) => boolean,
): AsyncGenerator<T> {
  const ids = await batchIdsOf(campaignId);
  for (let i = 0; i < ids.length; i += READ_LANES) {
    const window = await Promise.all(
      ids.slice(i, i + READ_LANES).map((id) => DeliveryBatchModel.findById(id, projection).lean<T>()),
    );
    for (const doc of window) if (doc && (!inside || inside(pathOf(doc)))) yield doc;
  }
}

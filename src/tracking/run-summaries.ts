// Per-run summaries (issue 25): a run whose batches have nothing pending has figures that
// change only when something writes those batches again, so they are kept in one document per
// run, read by `_id`, and the readers (a campaign's progress and the list's summaries, a case's
// reach and the case list, a follow-up's officers still to forward, the residents' page, the
// "still sending" and "was planned" checks) read a run's batches only when it has none.
//
// `runsummaries` holds two kinds of documents:
//   `run|<occurrenceId>`  → the run's figures per township (what progress and the summaries sum
//                           inside a scope), its received groups and villages (a case's reach),
//                           and the generation of the run (tracking/run-generation.ts) they were
//                           read at;
//   `reach|<noticeId>`    → the groups and villages that received the notice through all its
//                           runs (a group reached by two runs counts once), with each run's
//                           generation;
//   `status|<occurrenceId>|<status>` → the run's batches holding deliveries in that status, in
//                           `_id` order, each with how many and its region path, at the same
//                           generation as the run's summary: a campaign's deliveries list of
//                           one status reads only the batches its page shows (`statusBatches`).
// Contract:
// - A summary is made (`summarizeRun`) from the run's batches, read by `_id`, when none of them
//   has a pending delivery and no write of the run may be in flight; it is stored with the
//   generation read before the batches, and used only while that is still the run's
//   generation. Every writer that can change a batch with nothing pending moves the
//   generation on (run-generation.ts), so a used summary always equals a recount of the ledger.
// - Runs still sending are read from their batches, as before; nothing is stored for them.
// - Made lazily by the first reader, by the stranded-batch sweep when it closes a run
//   (engine/open-runs.ts), and once at start for every run of an existing install
//   (`buildRunSummaries`, marked in `backfills`; the status lists by a second pass,
//   `run-status-lists`, for installs summarized before they existed).
// - The status lists are written with the summary (same read, same generation) and used on
//   the same terms; a run without current ones is read from its batches by its reader.
// - A notice's reach is stored only when every run of the notice has a summary; it is used
//   while the notice lists the same runs at the same generations.
import mongoose from 'mongoose';
import { backfillOnce } from '../db/backfills.js';
import { addCounts, type Counts, countDelivery, zeroCounts } from './counts.js';
import { DeliveryBatchModel } from './model.js';
import { batchIdsOfRun, mapLimited, RunBatchListModel, runIdsOfNotice } from './run-batches.js';
import { type RunGeneration, runGeneration } from './run-generation.js';

/** Changes when the stored figures change shape: older summaries are made again. */
const LAYOUT = 1;

const summarySchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    gen: { type: Number, required: true },
    layout: { type: Number, required: true },
    figures: { type: mongoose.Schema.Types.Mixed },
    /** A status list (`status|…`): JSON (FerretDB stores no nested arrays). */
    packed: { type: String },
    runs: { type: mongoose.Schema.Types.Mixed },
    groupCount: { type: Number },
    villageCount: { type: Number },
  },
  { versionKey: false },
);

export const RunSummaryModel = mongoose.model('RunSummary', summarySchema, 'runsummaries');

/** One township of a run: what its batches count (`pending` included: 0 in a summary). */
export interface TownshipFigures {
  townshipCode: string;
  countyCode: string;
  /** The township's path (the caller's scope is checked against it, as against a batch's). */
  regionPath: string[];
  /** The latest local day of the township's batches (when the officers' tasks expire). */
  latestDay: string | null;
  counts: Counts;
  /** Of `counts.awaiting`, WeCom customer groups waiting for their owner (not an officer). */
  awaitingWecom: number;
}

export interface RunFigures {
  townships: TownshipFigures[];
  /** Groups and villages of the run that received the notice (tracking/recipients.ts rules). */
  received: { groupCount: number; villageCount: number };
  /** Whether anything is still pending in the run's batches (never true for a summary). */
  pending: boolean;
}

interface ItemFields {
  groupId: string;
  channel: string;
  status?: string | null;
  villageCode: string;
  memberCount?: number;
}

interface BatchFields {
  _id: string;
  regionPath: string[];
  countyCode: string;
  townshipCode: string;
  day?: string;
  items: ItemFields[];
}

const BATCH_PROJECTION = {
  regionPath: 1,
  countyCode: 1,
  townshipCode: 1,
  day: 1,
  'items.groupId': 1,
  'items.channel': 1,
  'items.status': 1,
  'items.villageCode': 1,
  'items.memberCount': 1,
} as const;

/** Whether a delivery put the notice in front of its group (recipients.ts `receivedIt`). */
export function receivedIt(item: { channel?: string | null; status?: string | null }): boolean {
  if (item.channel === 'wecom_group') return item.status === 'sent' || item.status === 'uncertain';
  return ['sent', 'uncertain', 'awaiting', 'confirmed'].includes(item.status ?? 'pending');
}

const runKey = (occurrenceId: string) => `run|${occurrenceId}`;
const reachKey = (noticeId: string) => `reach|${noticeId}`;
const statusKey = (occurrenceId: string, status: string) => `status|${occurrenceId}|${status}`;

/** The statuses a campaign's deliveries list can ask for (tracking/deliveries/routes.ts). */
export const LISTED_STATUSES = ['failed', 'uncertain', 'skipped', 'pending', 'sent', 'awaiting', 'confirmed'] as const;
export type ListedStatus = (typeof LISTED_STATUSES)[number];
/** Changes when the status lists change shape. */
const STATUS_LAYOUT = 1;

/** One batch of a run holding deliveries in some status. */
export interface StatusBatch {
  id: string;
  /** How many of its deliveries are in the status. */
  count: number;
  regionPath: string[];
}

/** Per status, the run's batches holding it (`_id` order). */
type StatusLists = Record<ListedStatus, StatusBatch[]>;

/** Concurrent `_id` reads of one run's batches. */
const READ_LANES = 8;

/** The run's figures read from its batches, with the received groups and villages themselves. */
async function countRun(
  occurrenceId: string,
): Promise<{ figures: RunFigures; groups: Set<string>; villages: Set<string>; statuses: StatusLists }> {
  const ids = await batchIdsOfRun(occurrenceId);
  const batches = await mapLimited(ids, READ_LANES, (id) =>
    DeliveryBatchModel.findById(id, BATCH_PROJECTION).lean<BatchFields>(),
  );
  const townships = new Map<string, TownshipFigures>();
  const groups = new Set<string>();
  const villages = new Set<string>();
  let pending = false;
  const statuses = Object.fromEntries(LISTED_STATUSES.map((status) => [status, []])) as unknown as StatusLists;
  const present = batches
    .filter((batch): batch is BatchFields => batch !== null)
    .sort((a, b) => (String(a._id) < String(b._id) ? -1 : String(a._id) > String(b._id) ? 1 : 0));
  for (const batch of present) {
    const held = new Map<string, number>();
    for (const item of batch.items) held.set(item.status ?? 'pending', (held.get(item.status ?? 'pending') ?? 0) + 1);
    for (const [status, count] of held)
      statuses[status as ListedStatus]?.push({ id: String(batch._id), count, regionPath: [...batch.regionPath] });
  }
  for (const batch of batches) {
    if (!batch) continue; // listed, never inserted (tracking/run-batches.ts)
    const key = `${batch.regionPath.join('/')}|${batch.countyCode}|${batch.townshipCode}`;
    let row = townships.get(key);
    if (!row) {
      row = {
        townshipCode: batch.townshipCode,
        countyCode: batch.countyCode,
        regionPath: [...batch.regionPath],
        latestDay: null,
        counts: zeroCounts(),
        awaitingWecom: 0,
      };
      townships.set(key, row);
    }
    if (batch.day && (!row.latestDay || batch.day > row.latestDay)) row.latestDay = batch.day;
    for (const item of batch.items) {
      const status = item.status ?? 'pending';
      if (status === 'pending' || status === 'sending') pending = true;
      countDelivery(row.counts, { status: status as never, memberCount: item.memberCount ?? 0 });
      if (item.channel === 'wecom_group' && status === 'awaiting') row.awaitingWecom += 1;
      if (receivedIt(item)) {
        groups.add(item.groupId);
        villages.add(item.villageCode);
      }
    }
  }
  const rows = [...townships.values()].sort((a, b) =>
    a.townshipCode < b.townshipCode ? -1 : a.townshipCode > b.townshipCode ? 1 : 0,
  );
  return {
    figures: { townships: rows, received: { groupCount: groups.size, villageCount: villages.size }, pending },
    groups,
    villages,
    statuses,
  };
}

/** The status lists as stored: region paths once each, then `[batch id, count, path index]`. */
function packStatus(batches: readonly StatusBatch[]): string {
  const paths: string[] = [];
  const at = new Map<string, number>();
  const rows = batches.map((batch) => {
    const key = batch.regionPath.join('/');
    let k = at.get(key);
    if (k === undefined) {
      k = paths.length;
      paths.push(key);
      at.set(key, k);
    }
    return [batch.id, batch.count, k];
  });
  return JSON.stringify({ p: paths, b: rows });
}

function unpackStatus(packed: string): StatusBatch[] {
  const { p, b } = JSON.parse(packed) as { p: string[]; b: [string, number, number][] };
  const paths = p.map((path) => (path ? path.split('/') : []));
  return b.map(([id, count, k]) => ({ id, count, regionPath: paths[k] ?? [] }));
}

/** Whether a summary may be made now: no write of the run may be in flight. */
function quiet(generation: RunGeneration, now: Date): boolean {
  return !generation.writingUntil || generation.writingUntil.getTime() <= now.getTime();
}

/**
 * Reads the run's batches and stores its summary if it is settled (nothing pending, no write
 * in flight). Returns the figures read and whether they were stored, with the generation.
 */
async function countAndStore(
  occurrenceId: string,
  now: Date,
): Promise<{ figures: RunFigures; groups: Set<string>; villages: Set<string>; stored: boolean; gen: number }> {
  const generation = await runGeneration(occurrenceId);
  const counted = await countRun(occurrenceId);
  let stored = false;
  if (!counted.figures.pending && quiet(generation, now)) {
    await Promise.all([
      RunSummaryModel.updateOne(
        { _id: runKey(occurrenceId) },
        { $set: { gen: generation.gen, layout: LAYOUT, figures: counted.figures } },
        { upsert: true },
      ),
      ...LISTED_STATUSES.map((status) =>
        RunSummaryModel.updateOne(
          { _id: statusKey(occurrenceId, status) },
          { $set: { gen: generation.gen, layout: STATUS_LAYOUT, packed: packStatus(counted.statuses[status]) } },
          { upsert: true },
        ),
      ),
    ]);
    stored = true;
  }
  return { ...counted, stored, gen: generation.gen };
}

/** The stored summary of the run if it is current (made at the run's present generation). */
async function currentSummary(occurrenceId: string): Promise<{ figures: RunFigures; gen: number } | null> {
  const [generation, doc] = await Promise.all([
    runGeneration(occurrenceId),
    RunSummaryModel.findById(runKey(occurrenceId), { gen: 1, layout: 1, figures: 1 }).lean<{
      gen: number;
      layout: number;
      figures?: RunFigures | null;
    }>(),
  ]);
  if (!doc?.figures || doc.layout !== LAYOUT || doc.gen !== generation.gen) return null;
  return { figures: doc.figures, gen: doc.gen };
}

/**
 * The run's figures: from its summary when it is current (one `_id` read of the summary and
 * one of the generation), else from its batches (and then stored if the run is settled).
 */
export async function runFigures(occurrenceId: string, now: Date): Promise<RunFigures> {
  return (await runFiguresRead(occurrenceId, now)).figures;
}

/** The run's figures, and whether the run was settled (a current summary, or stored as one). */
export async function runFiguresRead(
  occurrenceId: string,
  now: Date,
): Promise<{ figures: RunFigures; settled: boolean }> {
  const summary = await currentSummary(occurrenceId);
  if (summary) return { figures: summary.figures, settled: true };
  const counted = await countAndStore(occurrenceId, now);
  return { figures: counted.figures, settled: counted.stored };
}

/**
 * The run's batches holding deliveries in `status` (`_id` order), from its stored list while
 * that is current (one `_id` read of it and one of the generation); null when the run has no
 * current list (still sending, or summarized before the lists existed): read its batches.
 */
export async function statusBatches(occurrenceId: string, status: ListedStatus): Promise<StatusBatch[] | null> {
  const [generation, doc] = await Promise.all([
    runGeneration(occurrenceId),
    RunSummaryModel.findById(statusKey(occurrenceId, status), { gen: 1, layout: 1, packed: 1 }).lean<{
      gen: number;
      layout: number;
      packed?: string | null;
    }>(),
  ]);
  if (typeof doc?.packed !== 'string' || doc.layout !== STATUS_LAYOUT || doc.gen !== generation.gen) return null;
  return unpackStatus(doc.packed);
}

/** Makes the run's summary (and status lists) if it is settled and has none (the sweep, the backfill). */
export async function summarizeRun(occurrenceId: string, now: Date): Promise<boolean> {
  if ((await currentSummary(occurrenceId)) && (await statusBatches(occurrenceId, LISTED_STATUSES[0]))) return true;
  return (await countAndStore(occurrenceId, now)).stored;
}

/**
 * How many groups and villages received the notice through all its runs (a case's reach):
 * from the notice's stored reach while its runs and their generations are unchanged, from
 * the single run's summary for a notice planned once, else from the runs' batches (stored
 * when every run is settled).
 */
export async function noticeReach(noticeId: string, now: Date): Promise<{ groupCount: number; villageCount: number }> {
  return (await noticeReachRead(noticeId, now)).reach;
}

/**
 * The notice's reach, and whether every run of it was settled (read from a current summary or
 * stored as one): then it changes only with a bump of a run's generation (run-generation.ts
 * `allRunsGeneration`, read before this by a caller that keeps it).
 */
export async function noticeReachRead(
  noticeId: string,
  now: Date,
): Promise<{ reach: { groupCount: number; villageCount: number }; settled: boolean }> {
  const runIds = await runIdsOfNotice(noticeId);
  if (runIds.length === 0) return { reach: { groupCount: 0, villageCount: 0 }, settled: true };
  if (runIds.length === 1) {
    const summary = await currentSummary(runIds[0]!);
    if (summary) return { reach: summary.figures.received, settled: true };
    const counted = await countAndStore(runIds[0]!, now);
    return { reach: counted.figures.received, settled: counted.stored };
  }
  const [stored, generations] = await Promise.all([
    RunSummaryModel.findById(reachKey(noticeId), { gen: 1, layout: 1, runs: 1, groupCount: 1, villageCount: 1 }).lean<{
      layout: number;
      runs?: Record<string, number> | null;
      groupCount?: number;
      villageCount?: number;
    }>(),
    mapLimited(runIds, READ_LANES, (id) => runGeneration(id)),
  ]);
  const runs = stored?.runs ?? null;
  if (
    stored?.layout === LAYOUT &&
    runs &&
    Object.keys(runs).length === runIds.length &&
    runIds.every((id, k) => runs[encodeKey(id)] === generations[k]!.gen)
  )
    return { reach: { groupCount: stored.groupCount ?? 0, villageCount: stored.villageCount ?? 0 }, settled: true };
  const groups = new Set<string>();
  const villages = new Set<string>();
  const seen: Record<string, number> = {};
  let settled = true;
  for (const id of runIds) {
    const counted = await countAndStore(id, now);
    for (const group of counted.groups) groups.add(group);
    for (const village of counted.villages) villages.add(village);
    seen[encodeKey(id)] = counted.gen;
    if (!counted.stored) settled = false;
  }
  const reach = { groupCount: groups.size, villageCount: villages.size };
  if (settled)
    await RunSummaryModel.updateOne(
      { _id: reachKey(noticeId) },
      { $set: { gen: 0, layout: LAYOUT, runs: seen, ...reach } },
      { upsert: true },
    );
  return { reach, settled };
}

/** A run id as a field name (no dots or leading `$` in a stored key). */
function encodeKey(id: string): string {
  return id.replaceAll('%', '%25').replaceAll('.', '%2E').replaceAll('$', '%24');
}

/** Sums township rows into one figure set (the caller filters them by scope first). */
export function sumTownships(rows: readonly TownshipFigures[]): { counts: Counts; awaitingWecom: number } {
  const counts = zeroCounts();
  let awaitingWecom = 0;
  for (const row of rows) {
    addCounts(counts, row.counts);
    awaitingWecom += row.awaitingWecom;
  }
  return { counts, awaitingWecom };
}

/**
 * For an install written before summaries existed (once, at start): every listed run that is
 * settled gets its summary, and every notice its reach, a few at once. Idempotent; a run still sending is left to its
 * readers and to the sweep that closes it.
 */
export async function buildRunSummaries(now: Date): Promise<void> {
  await backfillOnce('run-summaries', async () => {
    const runs: string[] = [];
    const notices: string[] = [];
    const cursor = RunBatchListModel.find({ _id: /^(run|notice)\|/ }, { _id: 1 })
      .lean<{ _id: string }[]>()
      .cursor();
    for await (const doc of cursor) {
      if (doc._id.startsWith('run|')) runs.push(doc._id.slice('run|'.length));
      else notices.push(doc._id.slice('notice|'.length));
    }
    await mapLimited(runs, 4, (id) => summarizeRun(id, now));
    // A notice planned more than once: its reach over all its runs (a group counted once).
    await mapLimited(notices, 4, (id) => noticeReach(id, now));
  });
  // Installs summarized before the status lists existed: every settled run's lists (once).
  await backfillOnce('run-status-lists', async () => {
    const runs: string[] = [];
    const cursor = RunBatchListModel.find({ _id: /^run\|/ }, { _id: 1 })
      .lean<{ _id: string }[]>()
      .cursor();
    for await (const doc of cursor) runs.push(doc._id.slice('run|'.length));
    await mapLimited(runs, 4, (id) => summarizeRun(id, now));
  });
}

// Pre-aggregated reach statistics, kept exact by recomputing (never incrementing) from the
// delivery batches. See docs/tracking.md.
//
//   DeliveryBatch (engine writes) ──marker──▶ ReachLedger (per month × township × category:
//   each batch's part, set from its items) ──▶ ReachCountyYear (per county and year: one
//   cell per month × township × category, each the sum of its bucket's parts)
//
// A part is replaced (not added to) when its batch changes and a cell is recomputed from
// all its bucket's parts, so re-running a refresh after a crash or a retry writes the same
// values again.
//
// Why the documents look the way they do (FerretDB 1.24, measured on this project):
// - an `_id` lookup is the only query answered without decoding the whole collection, and
//   even it makes SQLite read every row's JSON up to `_id` (FerretDB's pushdown expression
//   does not match its own `_id` index), so a collection costs by its size on every access;
// - decoding cost grows with the number of values in a document: 12 documents of 119 cells
//   read in ~245 ms as sub-documents and in ~10 ms as one packed string each; then it
//   follows the string's length, plus ~0.3 ms (both processes' CPU) per command.
// So cells, parts and index entries are packed into one string per document (packed.ts),
// reached groups and villages are bitmaps over a per-county index (reach-set.ts), the read
// path only ever looks documents up by `_id`, and a county's year is one document (one
// command for the common report instead of twelve).
import mongoose from 'mongoose';

const bucketFields = {
  month: { type: String, required: true },
  category: { type: String, required: true },
  townshipCode: { type: String, required: true },
  countyCode: { type: String, required: true },
  /** The township's path, root first. */
  regionPath: { type: [String], required: true },
};

/**
 * (month, township, category) with every batch's part: the exact source a cell is
 * recomputed from, and what day- or campaign-precise questions are answered from.
 */
const ledgerSchema = new mongoose.Schema(
  {
    /** `${month}|${townshipCode}|${category}` */
    _id: { type: String, required: true },
    ...bucketFields,
    /** The parts, packed (packed.ts): batch, day, campaign, counts, reached sets. */
    parts: { type: String, required: true },
  },
  { versionKey: false },
);
// Day- and campaign-precise statistics inside a scope over a range of months.
ledgerSchema.index({ regionPath: 1, month: 1 });

/** The read model of month-precision statistics: one document per county and year. */
const countyYearSchema = new mongoose.Schema(
  {
    /** `${countyCode}|${year}`: computable from a scope's counties and a range of months. */
    _id: { type: String, required: true },
    countyCode: { type: String, required: true },
    year: { type: String, required: true },
    /** The county's path, root first. */
    regionPath: { type: [String], required: true },
    /** One cell per month × township × category, packed (packed.ts). */
    cells: { type: String, required: true },
  },
  { versionKey: false },
);

/**
 * The day-precision read model: one document per region and month for every region on a
 * batch's path from the root down to its county (reach-days.ts). A county's holds one cell
 * per day × township × category; a region above a county one per day × county × category
 * (the sum of that county's cells). Written by the fold BEFORE the ledgers, so a day report
 * read from them by `_id` never misses a bucket the ledgers already hold.
 */
const reachDaySchema = new mongoose.Schema(
  {
    /** `${regionCode}|${month}` */
    _id: { type: String, required: true },
    regionCode: { type: String, required: true },
    month: { type: String, required: true },
    /** JSON object: each cell's key (township, or county above a county) → its region path, root first. */
    paths: { type: String, required: true },
    /** The cells, packed (packed.ts; the month slot holds the day, the township slot the key). */
    cells: { type: String, required: true },
  },
  { versionKey: false },
);

/**
 * The monthly table's summary of a region above a county for one month (reach-months.ts): each
 * county's township rows as numbers and its category cells with their reached sets. Written by
 * the fold from the county-years it recomputes, before them.
 */
const reachMonthSchema = new mongoose.Schema(
  {
    /** `${regionCode}|${month}` */
    _id: { type: String, required: true },
    regionCode: { type: String, required: true },
    month: { type: String, required: true },
    /** JSON object: county → its path, root first. */
    paths: { type: String, required: true },
    /** JSON array of township rows (reach-months.ts). */
    rows: { type: String, required: true },
    /** One cell per county × category, packed (packed.ts; the township slot holds the county). */
    cells: { type: String, required: true },
  },
  { versionKey: false },
);

/**
 * The stored length of every county index (`${groups}/${villages}`, one document): a reader
 * keeps the indexes it has read and reads one again only when it grew (county-index.ts).
 * Written after the indexes, before anything that uses their new numbers.
 */
const indexLengthsSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    /** JSON object: county code → `${groups}/${villages}`. */
    lengths: { type: String, required: true },
  },
  { versionKey: false },
);

/**
 * A county's numbering of the groups and villages its deliveries reached: append-only, so
 * a number, once given, means the same group in every part and cell of the county.
 */
const countyIndexSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true }, // county code
    /** JSON arrays of group ids and village codes, position = number. */
    groups: { type: String, required: true },
    villages: { type: String, required: true },
    /** Random, set when first stored (county-index.ts); absent on indexes of older code. */
    generation: { type: String, default: null },
  },
  { versionKey: false },
);

/**
 * For every region on a batch's path (root … township), the counties below it with
 * statistics: a scope's county-year ids without a scan of the region tree. Append-only.
 */
const reachScopeSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true }, // region code
    counties: { type: [String], required: true },
  },
  { versionKey: false },
);

/**
 * "Batches changed" markers, one per write call. Insert-only with a random id, so a marker
 * written while a refresh runs is never deleted by it (the refresh deletes exactly the
 * markers it read).
 */
const markerSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    batchIds: { type: [String], required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

/**
 * Runs closed by the engine's stranded-batch sweep (engine/open-runs.ts) since the roll-up
 * sweep last looked: the sweep reads their batches' `updatedAt` once more, then drops the entry.
 * Written before the run leaves the open-run list, so a run is always on one of the two.
 */
const closedRunSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true }, // occurrence id
    closedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

/** The refresher's lease, sweep cursor and layout: one document, written by the lease holder only. */
const stateSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    lease: {
      epoch: { type: Number, default: 0 },
      until: { type: Date, default: null },
      owner: { type: String, default: null },
    },
    sweptUntil: { type: Date, default: null },
    /** Layout of the documents above; a sweep under another layout marks every batch (a rebuild). */
    layout: { type: Number, default: 0 },
    /**
     * 'runs': the last sweep read the batches of open and recently closed runs by `_id`; absent
     * (an install swept by older code): the next sweep scans by `updatedAt` once, then by runs.
     */
    sweepBy: { type: String, default: null },
    /**
     * 1: the day documents and index lengths exist for every ledger (reach-days.ts); absent
     * (an install folded by older code): the next lease holder builds them from the ledgers,
     * and reports read the ledgers until then.
     */
    days: { type: Number, default: null },
  },
  { versionKey: false },
);

export const ReachLedgerModel = mongoose.model('ReachLedger', ledgerSchema);
export const ReachCountyYearModel = mongoose.model('ReachCountyYear', countyYearSchema);
export const ReachDayModel = mongoose.model('ReachDay', reachDaySchema, 'reachdays');
export const ReachMonthModel = mongoose.model('ReachMonth', reachMonthSchema, 'reachmonths');
export const ReachIndexLengthsModel = mongoose.model('ReachIndexLengths', indexLengthsSchema, 'reachindexlengths');
export const CountyIndexModel = mongoose.model('ReachCountyIndex', countyIndexSchema);
export const ReachScopeModel = mongoose.model('ReachScope', reachScopeSchema);
export const RollupMarkerModel = mongoose.model('RollupMarker', markerSchema);
export const RollupStateModel = mongoose.model('RollupState', stateSchema);
export const RollupClosedRunModel = mongoose.model('RollupClosedRun', closedRunSchema, 'rollupclosedruns');

export const ledgerId = (month: string, townshipCode: string, category: string) =>
  `${month}|${townshipCode}|${category}`;
export const countyYearId = (countyCode: string, year: string) => `${countyCode}|${year}`;
export const dayDocId = (regionCode: string, month: string) => `${regionCode}|${month}`;

// Pre-aggregated reach statistics, kept exact by recomputing (never incrementing) from the
// ledger. See docs/tracking.md.
//
//   DeliveryBatch (engine writes) ──marker──▶ ReachLedger (per month × township × category:
//   each batch's part, set from its items) ──sum──▶ ReachMonth (the bucket's totals).
//
// A bucket is the sum over its parts and a part is replaced (not added to) when its batch
// changes, so re-running a refresh after a crash or a retry writes the same numbers again.
// FerretDB 1.24 scans a whole collection for any query or write that is not an _id lookup,
// so both collections hold one small document per bucket (1,428 per county-year).
import mongoose from 'mongoose';

const countFields = {
  total: { type: Number, default: 0 },
  pending: { type: Number, default: 0 },
  sent: { type: Number, default: 0 },
  failed: { type: Number, default: 0 },
  uncertain: { type: Number, default: 0 },
  awaiting: { type: Number, default: 0 },
  confirmed: { type: Number, default: 0 },
  skipped: { type: Number, default: 0 },
  reachedMembers: { type: Number, default: 0 },
};

/** One batch's share of a bucket, computed from its items (contribution.ts). */
const partSchema = new mongoose.Schema(
  {
    batchId: { type: String, required: true },
    day: { type: String, required: true },
    campaignId: { type: String, required: true },
    ...countFields,
    /** Distinct groups and villages reached (sent or confirmed): distinct counts across buckets. */
    groups: { type: [String], default: [] },
    villages: { type: [String], default: [] },
  },
  { _id: false },
);

const bucketFields = {
  /** `${month}|${townshipCode}|${category}` */
  _id: { type: String, required: true },
  month: { type: String, required: true },
  category: { type: String, required: true },
  townshipCode: { type: String, required: true },
  countyCode: { type: String, required: true },
  regionPath: { type: [String], required: true },
};

/**
 * (month, township, category) with every batch's part: the exact source the bucket's sums
 * are recomputed from, and what day- or campaign-precise questions are answered from.
 * FerretDB rewrites a document by scanning its collection, so this collection is kept at
 * one document per bucket (a few thousand per county-year), not one per batch.
 */
const ledgerSchema = new mongoose.Schema(
  { ...bucketFields, parts: { type: [partSchema], default: [] } },
  { versionKey: false },
);
// Day- and campaign-precise statistics inside a scope over a range of months.
ledgerSchema.index({ regionPath: 1, month: 1 });

/** The bucket's sums, small, for month-precision questions (the common report). */
const monthSchema = new mongoose.Schema(
  {
    ...bucketFields,
    ...countFields,
    groups: { type: [String], default: [] },
    villages: { type: [String], default: [] },
  },
  { versionKey: false },
);
// Statistics inside a scope over a range of months.
monthSchema.index({ regionPath: 1, month: 1 });

/**
 * "Batch changed" markers. Insert-only with a random suffix, so a marker written while a
 * refresh runs is never deleted by it (the refresh deletes exactly the markers it read).
 */
const markerSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true }, // `${batchId}#${random}`
    batchId: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

/** The refresher's lease and sweep cursor: one document, written by the lease holder only. */
const stateSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    lease: {
      epoch: { type: Number, default: 0 },
      until: { type: Date, default: null },
      owner: { type: String, default: null },
    },
    sweptUntil: { type: Date, default: null },
  },
  { versionKey: false },
);

export const ReachLedgerModel = mongoose.model('ReachLedger', ledgerSchema);
export const ReachMonthModel = mongoose.model('ReachMonth', monthSchema);
export const RollupMarkerModel = mongoose.model('RollupMarker', markerSchema);
export const RollupStateModel = mongoose.model('RollupState', stateSchema);

export const COUNT_KEYS = [
  'total',
  'pending',
  'sent',
  'failed',
  'uncertain',
  'awaiting',
  'confirmed',
  'skipped',
  'reachedMembers',
] as const;
export type CountKey = (typeof COUNT_KEYS)[number];
export type Counts = Record<CountKey, number>;

export function zeroCounts(): Counts {
  return Object.fromEntries(COUNT_KEYS.map((key) => [key, 0])) as Counts;
}

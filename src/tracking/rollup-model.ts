// Pre-aggregated reach statistics, kept exact by recomputing (never incrementing) from the
// ledger. See docs/tracking.md.
//
//   DeliveryBatch (engine writes) ──marker──▶ ReachContribution (one per batch: its counts
//   and the groups/villages it reached) ──recompute──▶ ReachMonth / ReachDay buckets.
//
// Each bucket is the sum over the contributions in it, so re-running a refresh after a
// crash or a retry writes the same numbers again. Buckets live in collections of their own
// per grain because FerretDB 1.24 scans a whole collection for any non-_id query: the
// month × township × category collection stays small (1,428 documents per county-year).
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

/** Everything a bucket needs from one batch, computed from its items. */
const contributionSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true }, // the batch id
    campaignId: { type: String, required: true },
    category: { type: String, required: true },
    day: { type: String, required: true },
    month: { type: String, required: true },
    townshipCode: { type: String, required: true },
    countyCode: { type: String, required: true },
    regionPath: { type: [String], required: true },
    ...countFields,
    /** Distinct groups and villages reached (sent or confirmed): distinct counts across buckets. */
    groups: { type: [String], default: [] },
    villages: { type: [String], default: [] },
  },
  { versionKey: false },
);
// Recomputing a month bucket: its contributions.
contributionSchema.index({ month: 1, townshipCode: 1, category: 1 });
// Recomputing a day bucket: its contributions.
contributionSchema.index({ day: 1, townshipCode: 1, category: 1, campaignId: 1 });

const bucketFields = {
  _id: { type: String, required: true },
  category: { type: String, required: true },
  townshipCode: { type: String, required: true },
  countyCode: { type: String, required: true },
  regionPath: { type: [String], required: true },
  ...countFields,
  groups: { type: [String], default: [] },
  villages: { type: [String], default: [] },
};

/** (month, township, category): answers month-precision questions without a campaign. */
const monthSchema = new mongoose.Schema(
  { ...bucketFields, month: { type: String, required: true } },
  {
    versionKey: false,
  },
);
// Statistics inside a scope over a range of months.
monthSchema.index({ regionPath: 1, month: 1 });

/** (day, township, category, campaign): day precision and anything about campaigns. */
const daySchema = new mongoose.Schema(
  {
    ...bucketFields,
    day: { type: String, required: true },
    month: { type: String, required: true },
    campaignId: { type: String, required: true },
  },
  { versionKey: false },
);
// Statistics inside a scope over a range of days; a campaign's reach.
daySchema.index({ regionPath: 1, day: 1 });
daySchema.index({ campaignId: 1, day: 1 });

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

export const ReachContributionModel = mongoose.model('ReachContribution', contributionSchema);
export const ReachMonthModel = mongoose.model('ReachMonth', monthSchema);
export const ReachDayModel = mongoose.model('ReachDay', daySchema);
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

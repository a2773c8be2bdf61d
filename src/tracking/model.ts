// The delivery ledger: every delivery of every run, in batches. The engine's queue is
// its only writer; tracking reads it for progress, statistics and exports.
//
// Why deliveries live in batches: FerretDB 1.24 (our embedded and test database) runs a
// query that is not an _id equality as a scan, and does not make conditional updates
// atomic. So the hot collections stay small and every document has a single writer: a
// run's deliveries are cut into batches of at most BATCH_SIZE groups of one township, each
// batch a document written only by the holder of its lease (db/claims.ts). Each item of a
// batch is one durable delivery record: one notice to one group in one run.
import mongoose, { type InferSchemaType } from 'mongoose';

export const DELIVERY_STATUSES = [
  'pending', // waiting for its due time
  'sending', // a worker holds it and may have started the request
  'sent',
  'failed', // permanent failure, or retries exhausted
  'uncertain', // the request may or may not have reached the robot; not repeated
  'awaiting', // manual channel: the officer has the task, not yet confirmed
  'confirmed', // manual channel: the officer confirmed posting
  'skipped', // cancelled, retracted, notice archived or group inactive before sending
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Statuses a delivery never leaves (except awaiting → confirmed, by the officer). */
export const FINAL_STATUSES: readonly DeliveryStatus[] = [
  'sent',
  'failed',
  'uncertain',
  'awaiting',
  'confirmed',
  'skipped',
];

export const BATCH_SIZE = 100;

const leaseFields = {
  epoch: { type: Number, default: 0 },
  until: { type: Date, default: null },
  owner: { type: String, default: null },
};

// The fields marked "fixed" are written once at planning; batches planned since the packed
// layout (a `fixedId` on the batch) keep them in their packed part, not in the items, and a
// reader that needs them reads the items through `withFixedItems` (tracking/batch-fixed.ts).
// Hence they are neither required nor defaulted here.
const itemSchema = new mongoose.Schema(
  {
    groupId: { type: String, required: true },
    /** Fixed. */
    groupName: { type: String },
    channel: { type: String, required: true },
    /** Fixed. Identifies the robot endpoint (hash of its credentials) for rate limiting. */
    robotKey: { type: String },
    /**
     * Fixed. The group's channel credentials as of planning, sealed (AES-256-GCM); never
     * exported. Removed with `nextAt` when retention compacts a settled batch (engine/retention.ts).
     */
    credentialsSealed: { type: String },
    memberCount: { type: Number, required: true },
    villageCode: { type: String, required: true },
    /** Fixed (and the four below); absent reads as '' or null. */
    villageName: { type: String },
    townshipName: { type: String },
    officerName: { type: String },
    officerPhone: { type: String },
    status: { type: String, enum: DELIVERY_STATUSES, default: 'pending' },
    attempts: { type: Number, default: 0 },
    nextAt: { type: Date, default: null },
    lastError: { type: String, default: null },
    sentAt: { type: Date, default: null },
    /**
     * Another group of the run with the same robot (one chat): this delivery is not posted
     * again, it follows that group's (batch, group id and name; issue 20, defect 15).
     */
    via: {
      type: new mongoose.Schema(
        { batchId: { type: String, required: true }, groupId: { type: String, required: true }, groupName: String },
        { _id: false },
      ),
    },
  },
  { _id: false },
);

const countsFields = {
  total: { type: Number, default: 0 },
  pending: { type: Number, default: 0 },
  sent: { type: Number, default: 0 },
  failed: { type: Number, default: 0 },
  uncertain: { type: Number, default: 0 },
  awaiting: { type: Number, default: 0 },
  confirmed: { type: Number, default: 0 },
  skipped: { type: Number, default: 0 },
  /** Person-times: members of the groups reached (sent or confirmed). */
  reachedMembers: { type: Number, default: 0 },
  reachedVillages: { type: Number, default: 0 },
};

const batchSchema = new mongoose.Schema(
  {
    /** `${occurrenceId}|${townshipCode}|${part}`: re-planning writes the same keys. */
    _id: { type: String, required: true },
    occurrenceId: { type: String, required: true },
    campaignId: { type: String, required: true },
    noticeId: { type: String, required: true },
    /** The notice version the run sends (its occurrence's); null in batches planned before it was recorded. */
    noticeVersion: { type: Number, default: null },
    category: { type: String, required: true },
    priority: { type: String, enum: ['normal', 'urgent'], required: true },
    cardStyle: { type: String, required: true },
    /** The township's path: scope filter and roll-up key for statistics. */
    regionPath: { type: [String], required: true },
    countyCode: { type: String, required: true },
    townshipCode: { type: String, required: true },
    /** Local day and month of the run (statistics buckets). */
    day: { type: String, required: true },
    month: { type: String, required: true },
    items: { type: [itemSchema], required: true },
    /**
     * The packed fixed part of the items (tracking/batch-fixed.ts), written before the batch;
     * null in batches planned before the packed layout, whose items hold every field.
     */
    fixedId: { type: String, default: null },
    /** When its run was due (the occurrence's dueAt): the missed-run limit of held deliveries. */
    runDueAt: { type: Date, default: null },
    /** Since when the batch has been parked (its campaign paused or back in review); null when not. */
    heldSince: { type: Date, default: null },
    /** Earliest time something in this batch is due; null when every item is final. */
    dueAt: { type: Date, default: null },
    lease: leaseFields,
    /** Derived from items on every write, so they can never disagree with them. */
    counts: countsFields,
    /** When retention removed what only a send needs (docs/retention.md); null before. */
    compactedAt: { type: Date, default: null },
  },
  { versionKey: false, timestamps: true },
);

// A campaign's batches: progress, retraction recipients.
batchSchema.index({ campaignId: 1 });
// Statistics by scope and period.
batchSchema.index({ regionPath: 1, month: 1 });
// The roll-up sweep: batches written recently (catches a writer that died between its
// batch write and its change marker; see tracking/rollups.ts).
batchSchema.index({ updatedAt: 1 });
// A notice's deliveries through any campaign: follow-up recipients, the case list's reach,
// retraction and noticeWasPlanned (tracking/recipients.ts).
batchSchema.index({ noticeId: 1 });
// A run's batches (a re-plan reads what an interrupted planning wrote).
batchSchema.index({ occurrenceId: 1 });

/** A batch as its readers see it: whole items (see BatchItem). */
export type BatchDoc = Omit<InferSchemaType<typeof batchSchema>, 'items'> & { items: BatchItem[] };
/**
 * A delivery as its readers see it: whole, the fixed fields included (read through
 * `withFixedItems` in the packed layout, where the batch document does not hold them).
 */
export type BatchItem = InferSchemaType<typeof itemSchema> & {
  groupName: string;
  robotKey: string;
  credentialsSealed: string;
};
export type BatchCounts = BatchDoc['counts'];

export const DeliveryBatchModel = mongoose.model('DeliveryBatch', batchSchema);

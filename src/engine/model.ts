// Durable state of the engine's conveyor: runs (occurrences) and the work list.
// The deliveries themselves are in the ledger (tracking/model.ts). See docs/engine.md.
import mongoose, { type InferSchemaType } from 'mongoose';

const leaseFields = {
  epoch: { type: Number, default: 0 },
  until: { type: Date, default: null },
  owner: { type: String, default: null },
};

const occurrenceSchema = new mongoose.Schema(
  {
    /** `${campaignId}@${runAt ISO}`: a double tick or a second scheduler inserts the same key. */
    _id: { type: String, required: true },
    campaignId: { type: String, required: true },
    runAt: { type: Date, required: true },
    /** runAt moved past quiet hours for a normal-priority campaign. */
    dueAt: { type: Date, required: true },
    noticeId: { type: String, required: true },
    priority: { type: String, enum: ['normal', 'urgent'], required: true },
    cardStyle: { type: String, required: true },
    regionPath: { type: [String], required: true },
    /**
     * What was approved for this run, copied when it was created: the planner sends this,
     * not the campaign as it is later (an edit goes back to review and changes later runs).
     */
    revision: { type: Number, default: null },
    /**
     * The notice version approved when the run was created: every delivery of the run is
     * rendered from exactly this version (a version approved mid-run reaches later runs).
     */
    noticeVersion: { type: Number, default: null },
    audience: { type: mongoose.Schema.Types.Mixed, default: null },
    /** planning → planned (batches written) | skipped (nothing to send, with the reason). */
    status: { type: String, enum: ['planning', 'planned', 'skipped'], default: 'planning' },
    skipReason: { type: String, default: null },
    /** Failed plannings so far (a run failing MAX_PLAN_FAILURES times is skipped), the last error. */
    planFailures: { type: Number, default: 0 },
    planError: { type: String, default: null },
    lease: leaseFields,
    batchCount: { type: Number, default: 0 },
    deliveryCount: { type: Number, default: 0 },
    memberTotal: { type: Number, default: 0 },
    plannedAt: { type: Date, default: null },
  },
  { versionKey: false, timestamps: true },
);

// A campaign's runs, newest first.
occurrenceSchema.index({ campaignId: 1, runAt: -1 });
// Kept for MongoDB readers; the schedulers read the planning queue below instead.
occurrenceSchema.index({ status: 1, priority: 1, dueAt: 1 });

/**
 * The planning queue: one small entry per run waiting for planning (`_id` = occurrence id),
 * inserted by the tick before it creates the run, deleted once the run is planned or
 * skipped. Every scheduler reads this small collection on each tick instead of scanning the
 * runs by `status` (FerretDB uses no index but `_id`; the runs grow with history). An
 * entry whose run is no longer `planning` (a planner died between its two writes) is
 * deleted by the next reader.
 */
const planningQueueSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true }, // the occurrence id
    priority: { type: String, required: true },
    dueAt: { type: Date, required: true },
  },
  { versionKey: false },
);

/** The work list: one small entry per batch that still has something due. */
const queueSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true }, // the batch id
    dueAt: { type: Date, required: true },
    rank: { type: Number, required: true }, // 0 urgent, 1 normal
    campaignId: { type: String, required: true },
  },
  { versionKey: false },
);

// Workers look for due entries.
queueSchema.index({ dueAt: 1 });

/**
 * One small document every scheduler reads by `_id` each second: approving or resuming a
 * campaign bumps its counter, so the scheduler creates and plans the run at once rather
 * than at its next 5-second tick (an urgent push's first post within seconds of approval).
 */
const wakeSchema = new mongoose.Schema(
  { _id: { type: String, required: true }, n: { type: Number, default: 0 } },
  { versionKey: false },
);
export const PLANNING_WAKE = 'planning';

export type OccurrenceDoc = InferSchemaType<typeof occurrenceSchema>;

export const OccurrenceModel = mongoose.model('Occurrence', occurrenceSchema);
export const QueueEntryModel = mongoose.model('QueueEntry', queueSchema);
export const SchedulerWakeModel = mongoose.model('SchedulerWake', wakeSchema);
export const PlanningQueueModel = mongoose.model('PlanningQueueEntry', planningQueueSchema, 'planningqueue');

/**
 * A batch woken from outside its holder (`wakeBatchOf`: an officer's confirmation, a WeCom
 * customer group's report), `_id` = the batch id, written BEFORE the wake's work-list entry.
 * A holder's release may overwrite that entry; its look after the release reads this one
 * document instead of every awaiting delivery's confirmation: absent, no wake can have been
 * overwritten (docs/engine.md, *What a wave of sends costs the database*). Deleted with the
 * batch's compaction (retention), when no holder can be looking.
 */
const batchWakeSchema = new mongoose.Schema(
  { _id: { type: String, required: true }, at: { type: Date, default: null } },
  { versionKey: false },
);
export const BatchWakeModel = mongoose.model('BatchWake', batchWakeSchema, 'batchwakes');

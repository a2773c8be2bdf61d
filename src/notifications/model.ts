import mongoose, { type InferSchemaType } from 'mongoose';

export const OFFICER_ROBOT_KINDS = ['wecom', 'dingtalk', 'feishu'] as const;
export type OfficerRobotKind = (typeof OFFICER_ROBOT_KINDS)[number];

// An officer's notification robot: the station's own work group, where the officer is told
// of manual tasks. One per user (`_id` = the user id); the credentials are sealed, write-only.
const officerRobotSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    kind: { type: String, required: true, enum: OFFICER_ROBOT_KINDS },
    credentialsSealed: { type: String, default: null },
    /** Who is told when the officer's tasks stay unconfirmed (the station chief). */
    superiorUserId: { type: String, default: null },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export const NOTIFICATION_KINDS = ['digest', 'reminder', 'escalation', 'withdrawn'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];
export const NOTIFICATION_STATUSES = [
  'sending',
  'sent',
  'failed',
  'uncertain',
  'no_robot',
  'no_superior',
  'ambiguous_officer',
] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

// One step of telling an officer about a run's manual tasks. `_id` = kind|occurrence|officer
// (a later digest of the same run adds |<hash of its tasks>):
// the unique key makes "one digest per officer per run" (and one reminder, one escalation)
// hold across schedulers and restarts, decided by the insert (FerretDB's conditional updates
// are not atomic).
const notificationStepSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    kind: { type: String, required: true, enum: NOTIFICATION_KINDS },
    campaignId: { type: String, required: true },
    occurrenceId: { type: String, required: true },
    officerKey: { type: String, required: true },
    officerName: { type: String, default: null },
    /** Who the message went (or would have gone) to: the officer, or their superior. */
    recipientUserId: { type: String, default: null },
    recipientName: { type: String, default: null },
    groupNames: { type: [String], default: [] },
    taskIds: { type: [String], default: [] },
    status: { type: String, required: true, enum: NOTIFICATION_STATUSES },
    detail: { type: String, default: null },
    /** What the reminder of WeCom customer groups did (remind_groupmsg_send), beside the robot's outcome. */
    wecomDetail: { type: String, default: null },
    at: { type: Date, required: true },
    /**
     * The outbox: the message as claimed, posted by `deliver` (again after a crash: a step
     * left `sending` past its attempt's lease is posted again, at most MAX_ATTEMPTS times).
     */
    message: { type: mongoose.Schema.Types.Mixed, default: null },
    attempts: { type: Number, default: 0 },
    attemptAt: { type: Date, default: null },
    /**
     * The slot of its campaign's list its writer listed it at (step-list.ts): the campaign page
     * shows and counts the step at that slot only. null on a step written before (see `dup`).
     */
    slot: { type: Number, default: null },
  },
  { versionKey: false },
);

// The campaign page lists a campaign's steps in time order.
notificationStepSchema.index({ campaignId: 1, at: 1 });
// The outbox sweep: steps still `sending`.
notificationStepSchema.index({ status: 1, attemptAt: 1 });

export type OfficerRobotDoc = InferSchemaType<typeof officerRobotSchema>;
export type NotificationStepDoc = InferSchemaType<typeof notificationStepSchema>;
export const OfficerRobotModel = mongoose.model('OfficerRobot', officerRobotSchema);
export const NotificationStepModel = mongoose.model('NotificationStep', notificationStepSchema);

// A campaign's steps, read by `_id` (issue 25): `<campaignId>|<n>` holds the n-th step id of
// the campaign (n = 0, 1, …, no gaps: a writer takes the first free slot from the hint by a
// unique insert), `<campaignId>|next` a hint of the next free slot (never ahead of it). A
// step is listed BEFORE its claim is inserted, so every step is listed; a listed id whose
// claim lost to another process's is listed twice or names a step of that other process,
// and readers de-duplicate: a step is shown and counted at the slot it names as its `slot`
// (one written before steps named it: at its slots without `at` not marked `dup`, the backfill
// of step-counts.ts marking each later slot of a step listed twice). `at`: when the slot was
// taken (a slot naming no step is waited for until LISTING_LEASE_MS after it, step-list.ts).
// `built` marks a database whose steps were listed at start.
const stepSlotSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    stepId: { type: String, default: null },
    next: { type: Number, default: null },
    at: { type: Date, default: null },
    dup: { type: Boolean, default: null },
  },
  { versionKey: false },
);
export const StepSlotModel = mongoose.model('NotificationStepSlot', stepSlotSchema, 'notificationstepslots');

// The notifier's outbox: the steps still `sending` (one small document each, deleted when
// the step's outcome is recorded), so the stranded-step sweep never reads the step history.
const outboxSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    attemptAt: { type: Date, required: true },
  },
  { versionKey: false },
);
export const NotificationOutboxModel = mongoose.model('NotificationOutbox', outboxSchema, 'notificationoutbox');

import mongoose, { type InferSchemaType } from 'mongoose';

const manualTaskSchema = new mongoose.Schema(
  {
    /** The engine's delivery id (or a random id): one task per delivery, however often the send is retried. */
    taskKey: { type: String, required: true },
    groupId: { type: String, required: true },
    groupName: { type: String, required: true },
    regionPath: { type: [String], required: true },
    officerName: { type: String, default: null },
    officerPhone: { type: String, default: null },
    title: { type: String, required: true },
    /** Ready-to-forward text (null for an image-only task). */
    text: { type: String, default: null },
    url: { type: String, default: null },
    /** The picture to forward, stored once per content in ManualImage. */
    imageSha256: { type: String, default: null },
    createdAt: { type: Date, required: true },
    confirmedAt: { type: Date, default: null },
    /**
     * The link generation (the per-task nonce inside every link's signature): bumped when the
     * task is confirmed or withdrawn or an admin revokes its links, so every link handed out
     * before stops granting access. `rotations[i]` says why generation i was retired.
     */
    linkGeneration: { type: Number, default: 0 },
    rotations: { type: [String], default: [] },
    /** Withdrawn with its campaign or notice (retracted, cancelled, case closed, archived): never forwarded. */
    withdrawnAt: { type: Date, default: null },
    withdrawnReason: { type: String, default: null },
    /** The notifier told the officer of the withdrawal (or had nobody to tell): it stops looking at the task. */
    withdrawalAnnounced: { type: Boolean, default: false },
    /** Set once the task was listed in a digest to its officer (a later set of tasks gets its own digest). */
    toldAt: { type: Date, default: null },
  },
  { versionKey: false },
);

// One task per delivery: a retried send finds the task it already made.
manualTaskSchema.index({ taskKey: 1 }, { unique: true });
// An officer's list: tasks inside their scope, open ones first by age.
manualTaskSchema.index({ regionPath: 1, confirmedAt: 1, createdAt: -1 });
// The notifier: unconfirmed tasks created since a time, across scopes.
manualTaskSchema.index({ confirmedAt: 1, createdAt: 1 });

const manualImageSchema = new mongoose.Schema(
  {
    /** sha256 of the bytes: 595 tasks of one campaign share one stored picture. */
    _id: { type: String, required: true },
    mime: { type: String, required: true },
    data: { type: Buffer, required: true },
  },
  { versionKey: false },
);

export type ManualTaskDoc = InferSchemaType<typeof manualTaskSchema> & { _id: mongoose.Types.ObjectId };
export const ManualTaskModel = mongoose.model('ManualTask', manualTaskSchema);
export const ManualImageModel = mongoose.model('ManualImage', manualImageSchema);

// One confirmation per task, decided by the unique _id (the task id): a conditional
// findOneAndUpdate is not atomic on FerretDB 1.24 (see README), a unique insert is. The
// same confirmation is also filed as `reference:<taskKey>`, so the engine can ask about its
// deliveries by _id.
const manualConfirmationSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    at: { type: Date, required: true },
    /** On the `reference:` copy: the delivery id and the group's region path (to find its batch). */
    reference: { type: String, default: null },
    regionPath: { type: [String], default: undefined },
    /**
     * What the delivery becomes: null = an officer's confirmation (manual: confirmed); a
     * tracked platform task (WeCom customer group) reports sent, failed, skipped or uncertain.
     */
    outcome: { type: String, default: null },
    reason: { type: String, default: null },
  },
  { versionKey: false },
);
// The scheduler's confirmation sweep: confirmations since a time.
manualConfirmationSchema.index({ at: 1 });
export const ManualConfirmationModel = mongoose.model('ManualConfirmation', manualConfirmationSchema);

// The confirmation sweep's watch list (issue 25): each `reference:` copy filed (an officer's
// confirmation, a platform's result) is also filed here first, keyed like the copy, and the
// sweep drops entries older than a few sweeps. So the sweep reads the last minutes'
// confirmations, not every confirmation ever filed (the copies and the one-per-task claims
// stay for as long as retention keeps them); an idle sweep reads an empty collection.
const confirmationWatchSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    at: { type: Date, required: true },
    reference: { type: String, required: true },
    regionPath: { type: [String], default: undefined },
  },
  { versionKey: false },
);
export const ConfirmationWatchModel = mongoose.model('ConfirmationWatch', confirmationWatchSchema, 'confirmationwatch');

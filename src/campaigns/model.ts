import mongoose, { type InferSchemaType } from 'mongoose';
import { intentSchema } from '../db/claims.js';
import { ALL, afterWrite, beforeWrite } from './list-index.js';
import { versioned } from '../db/versions.js';

export const CAMPAIGN_STATUSES = [
  'draft',
  'in_review',
  'approved', // scheduled: runs when due
  'paused',
  'completed', // no run left
  'cancelled',
] as const;

const audienceSchema = new mongoose.Schema(
  {
    regions: { type: [String], default: [] },
    tags: { type: [String], default: [] },
    /** Villages within radiusKm of a point (audience/radius.ts). */
    near: { type: { lat: Number, lng: Number, radiusKm: Number, _id: false }, default: null },
    groups: { type: [String], default: [] },
    excludeRegions: { type: [String], default: [] },
    excludeTags: { type: [String], default: [] },
    excludeGroups: { type: [String], default: [] },
    /** Older retraction follow-ups: the groups that received this one campaign. */
    recipientsOf: { type: String, default: null },
    /** Follow-ups: every group that received this notice through any campaign. */
    recipientsOfNotice: { type: String, default: null },
  },
  { _id: false },
);

const scheduleSchema = new mongoose.Schema(
  {
    kind: { type: String, enum: ['now', 'once', 'cron'], required: true },
    at: { type: Date, default: null },
    cron: { type: String, default: null },
    startAt: { type: Date, default: null },
    endAt: { type: Date, default: null },
  },
  { _id: false },
);

const campaignSchema = new mongoose.Schema(
  {
    title: { type: String, required: true },
    noticeId: { type: String, required: true },
    audience: { type: audienceSchema, required: true },
    schedule: { type: scheduleSchema, required: true },
    /** text | rich (markdown / link card) | image: the card form, mapped to what each channel carries. */
    cardStyle: { type: String, enum: ['text', 'rich', 'image'], default: 'rich' },
    priority: { type: String, enum: ['normal', 'urgent'], default: 'normal' },
    status: { type: String, enum: CAMPAIGN_STATUSES, default: 'draft' },
    authorId: { type: String, required: true },
    authorName: { type: String, required: true },
    /** The author's scope: the audience is resolved inside it. */
    regionCode: { type: String, required: true },
    regionPath: { type: [String], required: true },
    reviewerId: { type: String, default: null },
    reviewNote: { type: String, default: null },
    approvedAt: { type: Date, default: null },
    /** When the scheduler next creates an occurrence; null when nothing is due. */
    nextRunAt: { type: Date, default: null },
    /** Bumped by every edit: an approval names the revision it saw. */
    revision: { type: Number, default: 1 },
    /** Everyone who edited the content since it was last approved, and who submitted it: none may approve it. */
    editorIds: { type: [String], default: [] },
    submittedBy: { type: String, default: null },
    /** Bumped by every state change, each claimed once (`campaign-state:<id>#<seq>`). */
    stateSeq: { type: Number, default: 0 },
    /** When the scheduler created the latest run (a one-off campaign runs once, ever). */
    lastRunAt: { type: Date, default: null },
    retractionOf: { type: String, default: null },
    /** A follow-up campaign: the notice it follows up and why (retracted, solved, expired). */
    followUpOfNotice: { type: String, default: null },
    followUpOutcome: { type: String, default: null },
    retractedAt: { type: Date, default: null },
    /** Paused by staff: an edit and its approval keep it paused; only resume lifts it. */
    paused: { type: Boolean, default: false },
    /**
     * Effects of state changes still to finish, written with the change (db/claims.ts); only
     * the writer of the next state change rewrites the list. The scheduler's sweep finishes
     * those whose runner died.
     */
    intents: { type: [intentSchema], default: [] },
  },
  { timestamps: true, versionKey: false },
);

// The scheduler tick: approved campaigns whose next run is due.
campaignSchema.index({ status: 1, nextRunAt: 1 });
// Campaign lists inside a scope, newest first.
campaignSchema.index({ regionPath: 1, createdAt: -1 });
// The console's paged list: keyset on _id inside a scope (lib/keyset.ts).
campaignSchema.index({ regionPath: 1, _id: -1 });
// A notice's campaigns, and the follow-ups of a notice.
campaignSchema.index({ noticeId: 1 });
campaignSchema.index({ followUpOfNotice: 1 });

// The lists' index of campaigns (list-index.ts): an intent before each write, a record after.
campaignSchema.pre('save', async function () {
  this.$locals.listedWrite = true;
  await beforeWrite(String(this._id));
});
campaignSchema.post('save', async function () {
  if (!this.$locals.listedWrite) return;
  this.$locals.listedWrite = false;
  // A record that cannot be written leaves the intent, which keeps the campaign read by _id.
  await afterWrite(String(this._id)).catch(() => undefined);
});

/** The one campaign a query write names by `_id`, or `*` (the index reads every campaign again). */
function writtenId(filter: Record<string, unknown>): string {
  const id = filter._id;
  if (typeof id === 'string' || id instanceof mongoose.Types.ObjectId) return String(id);
  return ALL;
}

const QUERY_WRITES = [
  'findOneAndUpdate',
  'findOneAndReplace',
  'findOneAndDelete',
  'updateOne',
  'updateMany',
  'replaceOne',
  'deleteOne',
  'deleteMany',
] as const;
/** The id each query write in flight recorded an intent for (options would reach the driver). */
const written = new WeakMap<object, string>();
for (const op of QUERY_WRITES) {
  campaignSchema.pre(op, { document: false, query: true }, async function () {
    const id = writtenId(this.getFilter());
    written.set(this, id);
    await beforeWrite(id);
  });
  campaignSchema.post(op, { document: false, query: true }, async function () {
    const id = written.get(this);
    if (id) await afterWrite(id).catch(() => undefined);
  });
}
campaignSchema.pre('insertMany', async () => {
  await beforeWrite(ALL);
});
campaignSchema.post('insertMany', async () => {
  await afterWrite(ALL).catch(() => undefined);
});

export type CampaignDoc = InferSchemaType<typeof campaignSchema> & { _id: mongoose.Types.ObjectId };
// The workbench's counts are kept while this token stays (db/versions.ts).
versioned(campaignSchema, 'campaigns');
export const CampaignModel = mongoose.model('Campaign', campaignSchema);

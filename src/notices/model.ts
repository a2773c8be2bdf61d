import mongoose, { type InferSchemaType } from 'mongoose';
import { intentSchema } from '../db/claims.js';
import { CATEGORIES } from './categories.js';
import { versioned } from '../db/versions.js';

export const NOTICE_STATUSES = ['draft', 'in_review', 'approved', 'archived'] as const;
export type NoticeStatus = (typeof NOTICE_STATUSES)[number];

const mediaRefSchema = new mongoose.Schema(
  { sha256: { type: String, required: true }, caption: { type: String, default: null } },
  { _id: false },
);

const wantedSchema = new mongoose.Schema(
  {
    caseSummary: { type: String, required: true },
    suspectDescription: { type: String, required: true },
    reward: { type: String, required: true },
    contactName: { type: String, required: true },
    contactPhone: { type: String, required: true },
    deadline: { type: String, required: true },
    /** The case officer (a user): gets the case's tips and is told of new ones. */
    contactUserId: { type: String, default: null },
    /** Where it happened: coordinates, and the village picked from the tree if one was. */
    incident: {
      type: new mongoose.Schema(
        { lat: { type: Number, required: true }, lng: { type: Number, required: true }, villageCode: String },
        { _id: false },
      ),
      default: null,
    },
    /** Distance around the incident that campaigns may target (audience term `radius`). */
    radiusKm: { type: Number, default: null },
  },
  { _id: false },
);

/** What an author writes: the part of a notice that has versions. */
const contentSchema = new mongoose.Schema(
  {
    category: { type: String, required: true, enum: CATEGORIES },
    title: { type: String, required: true },
    body: { type: String, required: true },
    summary: { type: String, default: null },
    media: { type: [mediaRefSchema], default: [] },
    video: {
      type: new mongoose.Schema({ url: String, posterSha256: String }, { _id: false }),
      default: null,
    },
    issuingUnit: { type: String, required: true },
    hotline: { type: String, required: true },
    validFrom: { type: Date, default: null },
    validUntil: { type: Date, default: null },
    tags: { type: [String], default: [] },
    wanted: { type: wantedSchema, default: null },
  },
  { _id: false },
);

/** An approved version, frozen: campaigns send exactly this. */
const versionSchema = new mongoose.Schema(
  {
    version: { type: Number, required: true },
    content: { type: contentSchema, required: true },
    editorIds: { type: [String], required: true },
    approvedBy: { type: String, required: true },
    approvedAt: { type: Date, required: true },
  },
  { _id: false },
);

// Approved versions live inside the notice document, so approving (status flip plus the
// frozen copy) is one atomic single-document update: no transaction, no half-approval.
const noticeSchema = new mongoose.Schema(
  {
    /** The issuing unit's region; regionPath makes the notice visible to that subtree's scopes. */
    regionCode: { type: String, required: true },
    regionPath: { type: [String], required: true },
    status: { type: String, required: true, enum: NOTICE_STATUSES },
    /** Set when a campaign that sent it was retracted (SPEC §3.8): never sent again. */
    retractedAt: { type: Date, default: null },
    /** Number of the working copy in `content` (approved versions keep theirs in `versions`). */
    version: { type: Number, required: true },
    content: { type: contentSchema, required: true },
    authorId: { type: String, required: true },
    /** Everyone who wrote the working copy: none of them may approve it. */
    editorIds: { type: [String], required: true },
    submittedBy: { type: String, default: null },
    submittedAt: { type: Date, default: null },
    /** The reviewer's reason when the last review sent it back. */
    reviewNote: { type: String, default: null },
    approvedVersion: { type: Number, default: null },
    versions: { type: [versionSchema], default: [] },
    archivedAt: { type: Date, default: null },
    /** A wanted case's ends (deadline passed, solved): each drafts one follow-up, at most once per kind. */
    caseOutcomes: {
      type: [
        new mongoose.Schema(
          {
            kind: { type: String, required: true },
            at: { type: Date, required: true },
            by: { type: String, required: true },
            note: { type: String, default: null },
            followUpNoticeId: { type: String, default: null },
            followUpCampaignId: { type: String, default: null },
          },
          { _id: false },
        ),
      ],
      default: [],
    },
    /** Personal data (resident IDs, phone numbers) the editor confirmed on purpose, by key. */
    personalDataConfirmed: {
      type: [new mongoose.Schema({ key: String, kind: String, by: String, at: Date }, { _id: false })],
      default: [],
    },
    /** Bumped by every change, each claimed once (`notice-state:<id>#<revision>`, db/claims.ts). */
    revision: { type: Number, required: true },
    /** Effects of a change still to finish (a case outcome's follow-up), written with the change. */
    intents: { type: [intentSchema], default: [] },
  },
  { timestamps: true, versionKey: false },
);

// The library list inside a scope, newest first, optionally by status.
noticeSchema.index({ regionPath: 1, status: 1, updatedAt: -1 });
// The library list inside a scope by category.
noticeSchema.index({ regionPath: 1, 'content.category': 1, updatedAt: -1 });
// The console's paged list: keyset on _id inside a scope (lib/keyset.ts).
noticeSchema.index({ regionPath: 1, _id: -1 });

export type NoticeDoc = InferSchemaType<typeof noticeSchema> & { _id: mongoose.Types.ObjectId };
// The workbench's counts are kept while this token stays (db/versions.ts).
versioned(noticeSchema, 'notices');
export const NoticeModel = mongoose.model('Notice', noticeSchema);

/**
 * One review decision (approve or reject) per review round, a round being the notice's
 * revision while it waits in review. The unique index makes the decision race-free on
 * every server: FerretDB 1.24 does not apply a conditional findAndModify atomically (it
 * reads, then writes by _id), so two reviewers could both "win" a status-guarded update.
 * Inserting the decision first lets exactly one of them through.
 */
const reviewDecisionSchema = new mongoose.Schema(
  {
    noticeId: { type: String, required: true },
    /** The notice's revision when the decision was taken. */
    revision: { type: Number, required: true },
    version: { type: Number, required: true },
    decision: { type: String, required: true, enum: ['approve', 'reject'] },
    by: { type: String, required: true },
    at: { type: Date, required: true },
    note: { type: String, default: null },
  },
  { versionKey: false },
);

// Exactly one decision per review round.
reviewDecisionSchema.index({ noticeId: 1, revision: 1 }, { unique: true });

export type ReviewDecisionDoc = InferSchemaType<typeof reviewDecisionSchema>;
export const ReviewDecisionModel = mongoose.model('NoticeReviewDecision', reviewDecisionSchema);

// Pictures of withdrawn (retracted or archived) notices, by content hash (_id): the public
// /media address asks this by key and scans the notices only for a picture found here (issue
// 26.5). Written before the notice is marked withdrawn, so a check in between serves it.
const withdrawnPictureSchema = new mongoose.Schema(
  { _id: { type: String, required: true }, at: { type: Date, required: true } },
  { versionKey: false },
);
export const WithdrawnPictureModel = mongoose.model('WithdrawnPicture', withdrawnPictureSchema, 'withdrawnpictures');

/** Every picture a notice document names: media and video posters of its content and versions. */
export function picturesOf(doc: {
  content?: { media?: { sha256: string }[] | null; video?: { posterSha256?: string | null } | null } | null;
  versions?: { content?: { media?: { sha256: string }[] | null; video?: { posterSha256?: string | null } | null } | null }[];
}): string[] {
  const contents = [doc.content, ...(doc.versions ?? []).map((version) => version.content)];
  const keys = contents.flatMap((content) => [
    ...(content?.media ?? []).map((item) => item.sha256),
    ...(content?.video?.posterSha256 ? [content.video.posterSha256] : []),
  ]);
  return [...new Set(keys.filter(Boolean))];
}

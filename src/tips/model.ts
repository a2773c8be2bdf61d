import mongoose, { type InferSchemaType } from 'mongoose';
import { versioned } from '../db/versions.js';

export const TIP_STATUSES = ['new', 'read', 'useful', 'closed'] as const;
export type TipStatus = (typeof TIP_STATUSES)[number];

// A resident's clue for a wanted notice. It holds what the sender typed and nothing else:
// no address, no user agent, no rate-limit key (those stay in the limiter's memory).
const tipSchema = new mongoose.Schema(
  {
    noticeId: { type: String, required: true },
    /** The notice's region path: the editors whose scope holds the notice see the tip. */
    regionPath: { type: [String], required: true },
    /** The case officer when the tip arrived: sees it whatever their scope. */
    contactUserId: { type: String, default: null },
    text: { type: String, required: true },
    phone: { type: String, default: null },
    /** Picture in the private tip-photo store (never served publicly). */
    photoSha256: { type: String, default: null },
    status: { type: String, enum: TIP_STATUSES, default: 'new' },
    note: { type: String, default: null },
    /** Whether the case officer was told, or why not. */
    notified: {
      type: new mongoose.Schema({ status: String, reason: String, at: Date }, { _id: false }),
      default: null,
    },
    receivedAt: { type: Date, required: true },
    updatedBy: { type: String, default: null },
  },
  { versionKey: false, timestamps: { createdAt: false, updatedAt: true } },
);

// A case's tips, newest first.
tipSchema.index({ noticeId: 1, receivedAt: -1 });
// The inbox of the editors of a scope.
tipSchema.index({ regionPath: 1, receivedAt: -1 });
// Tips whose robot alert waits for the next slot (TipService.tellQueued).
tipSchema.index({ 'notified.status': 1 });
// The case officer's inbox.
tipSchema.index({ contactUserId: 1, receivedAt: -1 });

export type TipDoc = InferSchemaType<typeof tipSchema> & { _id: mongoose.Types.ObjectId };
// The workbench's counts are kept while this token stays (db/versions.ts).
versioned(tipSchema, 'tips');
export const TipModel = mongoose.model('Tip', tipSchema);

import mongoose, { type InferSchemaType } from 'mongoose';
import { CHANNEL_KINDS } from '../channels/credentials.js';

import { GroupListing, type PlacedReader } from './group-listing.js';
import { AudienceReadModel, type GroupReader } from './read-model.js';
import { trackBulkWrites, trackGroupWrites } from './write-hooks.js';
import { versioned } from '../db/versions.js';

const groupSchema = new mongoose.Schema(
  {
    name: { type: String, required: true },
    /** The village/community the group belongs to. */
    regionCode: { type: String, required: true },
    /** Codes of the village and all its ancestors, root first (root, province, city, county, township, village). */
    regionPath: { type: [String], required: true },
    channelKind: { type: String, required: true, enum: CHANNEL_KINDS },
    /** Channel credentials sealed with AES-256-GCM (lib/cipher.ts); never returned by the API. */
    credentialsSealed: { type: String, required: true },
    /**
     * The robot behind the group (robotKeyOf: kind + a hash of its key, not the key), for
     * robot channels; null for manual and WeCom customer groups. Two groups with one robot
     * are one chat: saving it a second time warns, and a run posts there once.
     */
    robotKey: { type: String, default: null },
    memberCount: { type: Number, required: true, min: 0 },
    memberCountUpdatedAt: { type: Date, default: null },
    officerName: { type: String, default: null },
    officerPhone: { type: String, default: null },
    tags: { type: [String], default: [] },
    /** Free text from the ledger's 备注 column. */
    note: { type: String, default: null },
    active: { type: Boolean, default: true },
    /** Marked by an admin as a group test sends may go to (issue 26, finding 7). */
    forTests: { type: Boolean, default: false },
    /** Set when a send failed permanently because of the group's channel (bad key, robot removed…). */
    flaggedAt: { type: Date, default: null },
    flagReason: { type: String, default: null },
  },
  { timestamps: true, versionKey: false },
);

// Group identity: one group of a name per village. Makes re-import an idempotent upsert.
groupSchema.index({ regionCode: 1, name: 1 }, { unique: true });
// Scoped lists and audience selection by region subtree, then paging by _id.
groupSchema.index({ regionPath: 1, _id: 1 });
// Audience selection by tag (multikey; cannot be compound with regionPath, both are arrays).
groupSchema.index({ tags: 1 });

/** The channels a group may use (totals are broken down by them). */
export const GROUP_CHANNELS = CHANNEL_KINDS;
export type GroupChannel = (typeof GROUP_CHANNELS)[number];

// Every write through mongoose keeps the audience read model exact (read-model.ts).
trackGroupWrites(groupSchema, () => groupReadModel);

export type GroupDoc = InferSchemaType<typeof groupSchema> & { _id: mongoose.Types.ObjectId };
// The workbench's counts are kept while this token stays (db/versions.ts).
versioned(groupSchema, 'groups');
export const GroupModel = mongoose.model('Group', groupSchema);
trackBulkWrites(GroupModel as unknown as GroupReader, () => groupReadModel);

/** The per-county digests selection totals read (one per process; its in-memory hints are only hints). */
export const groupReadModel = new AudienceReadModel(() => GroupModel as unknown as GroupReader);

/** The groups list's candidates per county, kept from the same change log (group-listing.ts). */
export const groupListing = new GroupListing(() => GroupModel as unknown as PlacedReader, groupReadModel);

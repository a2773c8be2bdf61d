import { randomUUID } from 'node:crypto';
import mongoose, { type InferSchemaType } from 'mongoose';
import { REGION_LEVELS } from './levels.js';

const regionSchema = new mongoose.Schema(
  {
    code: { type: String, required: true },
    name: { type: String, required: true },
    level: { type: String, required: true, enum: REGION_LEVELS },
    parentCode: { type: String, default: null },
    /** Codes of this region and its ancestors, root first: subtree queries match one element. */
    regionPath: { type: [String], required: true },
    /** Optional village coordinates (WGS-84), for distance targeting. */
    lat: { type: Number, default: null },
    lng: { type: Number, default: null },
  },
  { timestamps: true, versionKey: false },
);

// One region per code: makes imports and the root bootstrap idempotent.
regionSchema.index({ code: 1 }, { unique: true });
// Subtree queries: { regionPath: scopeCode } and levels inside it.
regionSchema.index({ regionPath: 1, level: 1 });
// Children of a node, listed by code.
regionSchema.index({ parentCode: 1, code: 1 });

const regionVersionSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    /** A new random value after every write to the regions: readers compare it with what they cached. */
    token: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
/**
 * `_id = 'regions'`: changed AFTER every write to the regions collection, so a process may
 * keep what it read of the regions (the villages' coordinates for radius targeting) for as
 * long as the token it read BEFORE reading them is still the token (audience/radius.ts).
 */
export const RegionVersionModel = mongoose.model('RegionVersion', regionVersionSchema, 'regionversions');
export const REGION_VERSION_ID = 'regions';

/** Marks the regions changed (after the write, so no reader can cache the old state under the new token). */
export async function regionsChanged(): Promise<void> {
  await RegionVersionModel.updateOne(
    { _id: REGION_VERSION_ID },
    { $set: { token: randomUUID(), at: new Date() } },
    { upsert: true },
  );
}

/** Gives the regions a token if they have none (an install from before the token; idempotent). */
export async function ensureRegionToken(): Promise<void> {
  await RegionVersionModel.updateOne(
    { _id: REGION_VERSION_ID },
    { $setOnInsert: { token: randomUUID(), at: new Date() } },
    { upsert: true },
  );
}

// Every way the service writes regions (create, insertMany, update, bulkWrite, delete) marks them changed.
regionSchema.post('save', async () => regionsChanged());
regionSchema.post('insertMany', async () => regionsChanged());
for (const op of ['updateOne', 'updateMany', 'deleteOne', 'deleteMany', 'replaceOne', 'findOneAndUpdate'] as const) {
  regionSchema.post(op, { document: false, query: true }, async () => regionsChanged());
}
regionSchema.post('bulkWrite', async () => regionsChanged());

export type RegionDoc = InferSchemaType<typeof regionSchema>;
export const RegionModel = mongoose.model('Region', regionSchema);

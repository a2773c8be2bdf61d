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

export type RegionDoc = InferSchemaType<typeof regionSchema>;
export const RegionModel = mongoose.model('Region', regionSchema);

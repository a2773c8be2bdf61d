// Version tokens of whole collections (issue 25): a reader may keep what it computed from a
// collection (the workbench's counts per region, workbench/tallies.ts) for as long as the
// collection's token, read by `_id` BEFORE it read the collection, is still the token. On
// FerretDB 1.24 a count by any filter but `_id` reads the whole collection, so the counts are
// computed once per change instead of once per call (the pattern of regions/model.ts).
//
// Contract: `versioned(schema, name)` (called before the model is compiled) changes the token
// `countversions/<name>` AFTER every write made through mongoose (save, create, insertMany,
// bulkWrite, every query write), so no reader can keep an older state under the newer token.
// A writer that dies between its write and the token change leaves the token as it was: the
// readers therefore also re-read after MAX_KEEP_MS (workbench/tallies.ts). Each collection has
// its own document, so two writers never update one document's different fields (FerretDB
// does not make that atomic); two token changes racing both leave a new token.
import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';

const versionSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    token: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
export const CollectionVersionModel = mongoose.model('CollectionVersion', versionSchema, 'countversions');

/** Marks a collection changed (after its write). */
export async function collectionChanged(name: string): Promise<void> {
  await CollectionVersionModel.updateOne({ _id: name }, { $set: { token: randomUUID(), at: new Date() } }, { upsert: true });
}

/** The collection's token now (null before any token was written). */
export async function collectionToken(name: string): Promise<string | null> {
  return (await CollectionVersionModel.findById(name, { token: 1 }).lean<{ token: string }>())?.token ?? null;
}

/** Gives every named collection a token if it has none (an install from before the tokens; idempotent). */
export async function ensureTokens(names: readonly string[]): Promise<void> {
  for (const name of names) {
    await CollectionVersionModel.updateOne(
      { _id: name },
      { $setOnInsert: { token: randomUUID(), at: new Date() } },
      { upsert: true },
    );
  }
}

const QUERY_WRITES = [
  'updateOne',
  'updateMany',
  'deleteOne',
  'deleteMany',
  'replaceOne',
  'findOneAndUpdate',
  'findOneAndReplace',
  'findOneAndDelete',
] as const;

/** Every write through mongoose to this schema's collection changes the token `name`. */
export function versioned(schema: mongoose.Schema, name: string): void {
  const changed = async () => collectionChanged(name);
  schema.post('save', changed);
  schema.post('insertMany', changed);
  schema.post('bulkWrite', changed);
  schema.post('deleteOne', { document: true, query: false }, changed);
  for (const op of QUERY_WRITES) schema.post(op, { document: false, query: true }, changed);
}

// The audience write token (issue 25, eighth session, screens): one document that every group
// write replaces with a fresh random value once its change records are in, so a reader can tell
// with one `_id` read whether anything was written since it last looked, instead of checking
// each county's log for record seq+1 (84 lookups for a province).
//
// Contract (collection `audiencetokens`, `_id` 'audience', read by `_id` only):
// - Write order of a group write (read-model.ts): intent inserted → group written → change
//   records appended (and folded) → token replaced (`bump`) → intent deleted. A write dies
//   (kill -9) before the token moved only with its intent still open: readers meanwhile re-read
//   its groups (or take the digest rows), and the reader that turns the intent into records after
//   INTENT_TIMEOUT_MS replaces the token too. So: no open intent seen, then token T read ⇒ every
//   write finished before the intents were read has replaced the token before T was read.
// - A reader that read T and then found some per-county copy current with its log may keep that
//   copy "current under T": while the token still reads T, no write finished since. Copies kept
//   under T by other processes (the summary documents of county-totals.ts and list-heads.ts)
//   are equally good. Tokens are random (never an increment): no lost update can make two
//   states read the same token.
// - An install from before the token: the document is missing and reads as 'none' until the
//   first write; every writer of this code replaces it.
import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { isDuplicateKey } from '../lib/errors.js';

const tokenSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    token: { type: String, required: true },
  },
  { versionKey: false },
);
export const AudienceTokenModel = mongoose.model('AudienceToken', tokenSchema, 'audiencetokens');

const ID = 'audience';

/** The current token (one `_id` read; 'none' before the first write of an install). */
export async function readWriteToken(): Promise<string> {
  const doc = await AudienceTokenModel.findById(ID).lean<{ token: string }>();
  return doc?.token ?? 'none';
}

/** Replaces the token with a fresh one (after a write's records are in, before its intent goes). */
export async function bumpWriteToken(): Promise<void> {
  const set = () => AudienceTokenModel.updateOne({ _id: ID }, { $set: { token: randomUUID() } }, { upsert: true });
  await set().catch(async (error) => {
    // Two first writers upserting the missing document at once: it exists now.
    if (!isDuplicateKey(error)) throw error;
    await set();
  });
}

// The notices' unfinished intents without a scan of the notices (issue 25, tenth session). A
// case outcome records its intent on the notice (db/claims.ts `changeStateOnce`), and the
// scheduler's full tick looks for intents whose runner died. It read them with
// `{'intents.0': {$exists: true}}`: on FerretDB 1.24 a read of every notice ever made, and every
// notice that ever had an outcome kept matching (a notice's finished intents leave its list
// only at its next intent). The sweep now reads this list, then each listed notice by `_id`.
//
// Collection `noticeintents`, one small document per unfinished intent (`_id` = the intent id,
// `noticeId`, `at`). It is read whole, and holds only the intents not yet done: normally none
// (the runner deletes its entry when it is done), so the read is one command on an empty
// collection. One document per intent, written by unique insert and deleted, never a shared
// document updated by several writers (FerretDB does not make two updates of one document
// atomic). Contract, the order of writes:
// - the writer of a notice change that records an intent inserts its entry BEFORE the change
//   (notices/service.ts `claimChange`); if the change was not made (another change won the
//   claim, or the notice moved on), it deletes the entry again. A writer killed between the
//   two leaves an entry naming an intent no notice carries: the sweep passes over it, and
//   deletes it once it is older than STALE_MS (a change is written within a few round trips of
//   its claim, a minute at the very most: the state claim's lease);
// - an entry is deleted only once its intent's done marker exists (db/claims.ts `runResumable`
//   marks it after the steps), by the runner that finished it or by the sweep that sees the
//   marker. A kill before the delete leaves an entry whose intent is done: the next sweep reads
//   the marker and deletes it. A done marker never goes, so no intent loses its entry early;
// - an install older than the list: its notices' unfinished intents are listed once at start
//   (`buildNoticeIntentList`, one read of the notices with intents, backfill `notice-intent-list`).
import mongoose from 'mongoose';
import { backfillOnce } from '../db/backfills.js';
import { MAX_UPDATES_PER_COMMAND } from '../db/bulk.js';
import { type Intent, unfinishedIntents } from '../db/claims.js';
import { isDuplicateKey } from '../lib/errors.js';

const entrySchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    noticeId: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
export const NoticeIntentModel = mongoose.model('NoticeIntent', entrySchema, 'noticeintents');

/** An entry whose intent no notice carries this long after it was listed was never written (its writer died). */
export const STALE_MS = 60 * 60_000;

export interface ListedIntent {
  intentId: string;
  noticeId: string;
  at: Date;
}

/** Lists an intent before the notice change that records it (idempotent). */
export async function listIntent(noticeId: string, intent: Pick<Intent, 'id'>, at: Date): Promise<void> {
  await NoticeIntentModel.create({ _id: intent.id, noticeId, at }).catch((error: unknown) => {
    if (!isDuplicateKey(error)) throw error;
  });
}

/** Takes intents off the list: done (their markers exist), or never written (see the header). */
export async function unlistIntents(intentIds: string[]): Promise<void> {
  for (let i = 0; i < intentIds.length; i += MAX_UPDATES_PER_COMMAND) {
    await NoticeIntentModel.bulkWrite(
      intentIds.slice(i, i + MAX_UPDATES_PER_COMMAND).map((id) => ({ deleteOne: { filter: { _id: id } } })),
      { ordered: false },
    );
  }
}

/** Every listed intent (the unfinished ones, and those whose deletion is pending). */
export async function listedIntents(): Promise<ListedIntent[]> {
  const docs = await NoticeIntentModel.find({}).lean<{ _id: string; noticeId: string; at: Date }[]>();
  return docs.map((doc) => ({ intentId: doc._id, noticeId: doc.noticeId, at: doc.at }));
}

/**
 * For an install written before the list (once, at start): the unfinished intents of every
 * notice that carries any, listed. Idempotent (an entry already there stays).
 */
export async function buildNoticeIntentList(): Promise<void> {
  await backfillOnce('notice-intent-list', async () => {
    const docs = await mongoose
      .model('Notice')
      .find({ 'intents.0': { $exists: true } }, { intents: 1 })
      .lean<{ _id: unknown; intents?: Intent[] }[]>();
    for (const doc of docs) {
      for (const intent of await unfinishedIntents(doc.intents ?? [])) {
        await listIntent(String(doc._id), intent, new Date(intent.at));
      }
    }
  });
}

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
// readers therefore also re-read a collection written since their last whole read after
// MAX_KEEP_MS, and one nobody wrote after TALLY_RECOUNT_MINUTES (workbench/tallies.ts). Each collection has
// its own document, so two writers never update one document's different fields (FerretDB
// does not make that atomic); two token changes racing both leave a new token.
//
// The change log (so a reader re-reads what changed by `_id` instead of the whole collection):
// BEFORE the token change, the writer appends a record `countchanges/<name>#<n>` naming the
// ids its write touched (`*`: not known, e.g. `updateMany` by a field), n dense from 1 and
// claimed by a unique insert (walking up from the process's last n). The token document
// carries a hint `n` (raised with the token; never above a record that exists). A reader that
// kept a state as of record `seq` (`changesSince`) reads `#seq+1`, `#seq+2`, … by `_id` until
// one is missing and re-reads the ids named; a record it reads before that write's token
// change is applied early, which only makes it more current. Records older than
// LOG_KEEP behind the newest are deleted by the writers: a reader that far behind (or a hint
// above the records it finds) reads the whole collection again (`changesSince` answers '*').
//
// Entries (eleventh session, countlog): a record may also name, for an id it names, the keys
// of that document the write changed (`d: [{ id, e: [key, …] }]`; the counts' log names the
// task ids a write set or unset in a county's document). `changesSince` answers them per id
// (`entries`): a reader holding the document re-reads only those keys. An id named without
// keys by any record since `seq` (a re-count, an older writer) is answered `*`: read whole.
import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { isDuplicateKey } from '../lib/errors.js';

const versionSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    token: { type: String, required: true },
    at: { type: Date, required: true },
    // The log hint (declared: mongoose's strict mode dropped the `$max: { n }` of an undeclared
    // path, so the hint stayed 0 and a reader behind pruned records never saw the gap; until the
    // eleventh session, countlog).
    n: { type: Number },
  },
  { versionKey: false },
);
export const CollectionVersionModel = mongoose.model('CollectionVersion', versionSchema, 'countversions');

const changeSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    ids: { type: [String], default: [] },
    d: { type: mongoose.Schema.Types.Mixed, default: undefined },
  },
  { versionKey: false },
);
/** `<name>#<n>`: the ids one write of collection `name` touched (`*`: unknown). */
export const CollectionChangeModel = mongoose.model('CollectionChange', changeSchema, 'countchanges');

/** A write naming more ids than this is logged as `*` (its readers read the collection again). */
export const MAX_LOGGED_IDS = 200;
/** Records kept behind the newest one; older ones are deleted every LOG_PRUNE_EVERY records. */
export const LOG_KEEP = 10_000;
const LOG_PRUNE_EVERY = 500;
/** Keys named for one id in one record, and in all records a reader reads, beyond which the id is read whole. */
export const MAX_LOGGED_KEYS = 2_000;
/** Ids that stand for "not known": the reader reads the whole collection. */
export const ALL_IDS = '*';

/** The last record number this process appended per collection (where its next insert starts). */
const lastAppended = new Map<string, number>();

/** The keys of each id's document a write changed (an id not in it: changed whole). */
export type ChangedKeys = ReadonlyMap<string, ReadonlySet<string>>;

async function appendChange(name: string, ids: readonly string[], keys?: ChangedKeys): Promise<number> {
  const logged =
    ids.length === 0 || ids.length > MAX_LOGGED_IDS || ids.includes(ALL_IDS) ? [ALL_IDS] : [...new Set(ids)];
  const d =
    logged[0] === ALL_IDS || !keys
      ? []
      : logged
          .filter((id) => (keys.get(id)?.size ?? MAX_LOGGED_KEYS + 1) <= MAX_LOGGED_KEYS)
          .map((id) => ({ id, e: [...keys.get(id)!] }));
  // A process's first write starts from the hint (records below it may have been pruned).
  let last = lastAppended.get(name);
  if (last === undefined) last = (await CollectionVersionModel.findById(name, { n: 1 }).lean<{ n?: number }>())?.n ?? 0;
  let n = last + 1;
  for (let tries = 0; ; tries++) {
    try {
      await CollectionChangeModel.collection.insertOne({
        _id: `${name}#${n}`,
        ids: logged,
        ...(d.length > 0 ? { d } : {}),
      } as never);
      break;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      // Another writer (or process) was there first: from the hint on the token when far behind.
      const hint =
        tries === 0 ? ((await CollectionVersionModel.findById(name, { n: 1 }).lean<{ n?: number }>())?.n ?? 0) : 0;
      n = Math.max(n, hint) + 1;
    }
  }
  lastAppended.set(name, Math.max(n, lastAppended.get(name) ?? 0));
  if (n % LOG_PRUNE_EVERY === 0 && n > LOG_KEEP) {
    const old = Array.from({ length: LOG_PRUNE_EVERY }, (_, k) => `${name}#${n - LOG_KEEP - k}`);
    await CollectionChangeModel.deleteMany({ _id: { $in: old } }).catch(() => undefined);
  }
  return n;
}

/**
 * Marks a collection changed (after its write): the ids it touched logged (with `keys`, the
 * keys of their documents it changed), then a new token.
 */
export async function collectionChanged(
  name: string,
  ids: readonly string[] = [ALL_IDS],
  keys?: ChangedKeys,
): Promise<void> {
  const n = await appendChange(name, ids, keys);
  await CollectionVersionModel.updateOne(
    { _id: name },
    { $set: { token: randomUUID(), at: new Date() }, $max: { n } },
    { upsert: true },
  );
}

/** The collection's token now (null before any token was written). */
export async function collectionToken(name: string): Promise<string | null> {
  return (await collectionVersion(name))?.token ?? null;
}

type Version = { token: string; n: number } | null;

/** Tokens asked for in the same turn of the event loop, read together (one command). */
let asked: Map<string, ((version: Version) => void)[]> | null = null;

async function readAsked(names: Map<string, ((version: Version) => void)[]>): Promise<void> {
  const ids = [...names.keys()];
  try {
    // One name: by `_id`; several: one read of the few token documents (six at most).
    const docs =
      ids.length === 1
        ? [
            await CollectionVersionModel.findById(ids[0], { token: 1, n: 1 }).lean<{
              _id: string;
              token: string;
              n?: number;
            }>(),
          ]
        : await CollectionVersionModel.find({ _id: { $in: ids } }, { token: 1, n: 1 }).lean<
            { _id: string; token: string; n?: number }[]
          >();
    const found = new Map(docs.filter((d) => d !== null).map((d) => [d!._id, d!]));
    for (const [name, waiting] of names) {
      const doc = found.get(name);
      for (const done of waiting) done(doc ? { token: doc.token, n: doc.n ?? 0 } : null);
    }
  } catch {
    // A failed joint read: each asks again on its own (its own error then reaches its caller).
    for (const [name, waiting] of names) {
      for (const done of waiting) {
        CollectionVersionModel.findById(name, { token: 1, n: 1 })
          .lean<{ token: string; n?: number }>()
          .then(
            (doc) => done(doc ? { token: doc.token, n: doc.n ?? 0 } : null),
            () => done(null),
          );
      }
    }
  }
}

/**
 * The collection's token and its log hint (null before any token was written). Reads asked
 * for in the same turn (the workbench's five tallies) go to the database as one command.
 */
export function collectionVersion(name: string): Promise<Version> {
  return new Promise((resolve) => {
    if (!asked) {
      const batch = new Map<string, ((version: Version) => void)[]>();
      asked = batch;
      setImmediate(() => {
        asked = null;
        void readAsked(batch);
      });
    }
    const waiting = asked.get(name) ?? [];
    waiting.push(resolve);
    asked.set(name, waiting);
  });
}

/**
 * Where the log ends now, for a reader about to read the whole collection: records after it
 * are applied on top of that read (a write logged before the read is applied twice: harmless).
 */
export async function changeLogEnd(name: string): Promise<number> {
  let seq = (await collectionVersion(name))?.n ?? 0;
  while (await CollectionChangeModel.exists({ _id: `${name}#${seq + 1}` })) seq += 1;
  return seq;
}

/**
 * The ids changed after record `seq` (read by `_id`, one record at a time) and the record
 * reached; `*` when the reader must read the whole collection (a write not logged by id,
 * too many ids, or records pruned since `seq`: the hint above what is found). `entries`: per
 * id, the keys of its document changed, or `*` (changed whole, or too many keys).
 */
export async function changesSince(
  name: string,
  seq: number,
  hint: number,
): Promise<{
  ids: Set<string> | typeof ALL_IDS;
  seq: number;
  entries: Map<string, Set<string> | typeof ALL_IDS>;
}> {
  const ids = new Set<string>();
  const entries = new Map<string, Set<string> | typeof ALL_IDS>();
  let all = false;
  let at = seq;
  for (;;) {
    const record = await CollectionChangeModel.findById(`${name}#${at + 1}`, { ids: 1, d: 1 }).lean<{
      ids: string[];
      d?: { id: string; e: string[] }[];
    }>();
    if (!record) break;
    at += 1;
    const keysOf = new Map((record.d ?? []).map(({ id, e }) => [id, e]));
    for (const id of record.ids) {
      if (id === ALL_IDS) {
        all = true;
        continue;
      }
      ids.add(id);
      const keys = keysOf.get(id);
      const held = entries.get(id);
      if (!keys || held === ALL_IDS) entries.set(id, ALL_IDS);
      else {
        const union = held ?? new Set<string>();
        for (const key of keys) union.add(key);
        entries.set(id, union.size > MAX_LOGGED_KEYS ? ALL_IDS : union);
      }
    }
    if (ids.size > MAX_LOGGED_IDS) all = true;
  }
  // A hint above the records found: the records after `seq` were pruned (or never read).
  if (at === seq && hint > seq) all = true;
  return { ids: all ? ALL_IDS : ids, seq: at, entries: all ? new Map() : entries };
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

const idOf = (value: unknown): string | null => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (value instanceof mongoose.Types.ObjectId) return value.toHexString();
  if (typeof value === 'number') return String(value);
  return null;
};

/** The ids a query write can have touched: its filter's `_id` (a value, or `$in` values), else the result's. */
function queryWriteIds(filter: Record<string, unknown>, result: unknown): string[] {
  const byId = filter._id;
  const one = idOf(byId);
  if (one !== null) return [one];
  if (
    byId &&
    typeof byId === 'object' &&
    Object.keys(byId).length === 1 &&
    Array.isArray((byId as { $in?: unknown }).$in)
  ) {
    const ids = (byId as { $in: unknown[] }).$in.map(idOf);
    if (ids.every((id) => id !== null)) return ids as string[];
  }
  // findOneAnd…: the document it found (none: nothing was written, unless an upsert made one).
  const found = result && typeof result === 'object' ? idOf((result as { _id?: unknown })._id) : null;
  return found !== null ? [found] : [ALL_IDS];
}

/** Every write through mongoose to this schema's collection logs its ids and changes the token `name`. */
export function versioned(schema: mongoose.Schema, name: string): void {
  schema.post('save', async (doc: { _id?: unknown }) => collectionChanged(name, [idOf(doc?._id) ?? ALL_IDS]));
  schema.post('insertMany', async (docs: { _id?: unknown }[] | undefined) =>
    collectionChanged(name, Array.isArray(docs) ? docs.map((d) => idOf(d?._id) ?? ALL_IDS) : [ALL_IDS]),
  );
  schema.post('bulkWrite', async () => collectionChanged(name, [ALL_IDS]));
  schema.post('deleteOne', { document: true, query: false }, async function (this: { _id?: unknown }) {
    await collectionChanged(name, [idOf(this._id) ?? ALL_IDS]);
  });
  for (const op of QUERY_WRITES)
    schema.post(
      op,
      { document: false, query: true },
      async function (this: mongoose.Query<unknown, unknown>, result: unknown) {
        await collectionChanged(name, queryWriteIds(this.getFilter() as Record<string, unknown>, result));
      },
    );
}

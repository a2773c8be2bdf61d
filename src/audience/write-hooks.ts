// Every write to the groups collection made through mongoose reports the groups it touched
// to the audience read model, whoever the caller is (groups API, sheet import, demo script,
// the engine flagging a group, tests): query middleware for updates, replaces and deletes,
// document middleware for save()/create(), and wrappers for insertMany and bulkWrite (their
// model middleware gets no per-call arguments after the write, so the wrapper keeps them).
// What is recorded is only *which* groups (and, for moves and deletes, which county they
// were in before); the read model re-reads them after the write (read-model.ts).
import mongoose from 'mongoose';
import type { AudienceReadModel, GroupReader, GroupState } from './read-model.js';

type Filter = Record<string, unknown>;
type GroupModelLike = GroupReader;

const QUERY_WRITES = [
  'updateOne',
  'updateMany',
  'findOneAndUpdate',
  'replaceOne',
  'findOneAndReplace',
  'deleteOne',
  'deleteMany',
  'findOneAndDelete',
] as const;

const PLACE_FIELDS = ['regionCode', 'regionPath'];

interface Touched {
  ids: string[];
  /** regionPath before the write, for writes that may move or delete a group. */
  before: Map<string, string[]>;
  /** The filter names the groups by _id only, so nothing new can start matching it. */
  byId: boolean;
}

const TOUCHED = Symbol('audience.touched');

/** Ids named by an `_id` equality or `$in` in the filter, or null when the filter is about other fields. */
function idsInFilter(filter: Filter): string[] | null {
  const id = filter._id as unknown;
  if (id === undefined || id === null) return null;
  if (typeof id === 'string' || id instanceof mongoose.Types.ObjectId) return [String(id)];
  if (typeof id === 'object' && Array.isArray((id as { $in?: unknown }).$in)) {
    return ((id as { $in: unknown[] }).$in as unknown[]).map(String);
  }
  return null;
}

/** Whether an update can change where a group hangs (or removes it): then its old county is read first. */
function mayMove(op: string, update: unknown): boolean {
  if (op.startsWith('delete') || op.startsWith('findOneAndDelete') || op.includes('eplace')) return true;
  if (!update || typeof update !== 'object') return false;
  if (Array.isArray(update)) return true; // pipeline update: anything may change
  return Object.entries(update as Record<string, unknown>).some(([key, value]) =>
    key.startsWith('$')
      ? value !== null && typeof value === 'object' && PLACE_FIELDS.some((field) => field in (value as object))
      : PLACE_FIELDS.includes(key),
  );
}

async function touchedBy(model: GroupModelLike, op: string, filter: Filter, update: unknown): Promise<Touched> {
  const named = idsInFilter(filter);
  const move = mayMove(op, update);
  if (named && !move) return { ids: named, before: new Map(), byId: true };
  const before = new Map<string, string[]>();
  if (named) {
    for (const id of named) {
      const doc = mongoose.isValidObjectId(id)
        ? await model.findById(id, { regionPath: 1 }).lean<{ regionPath: string[] }>()
        : null;
      if (doc) before.set(id, doc.regionPath);
    }
    return { ids: named, before, byId: true };
  }
  // Any other filter: the groups matching it now (a scan on FerretDB; imports and the engine
  // write by _id, so this is for rare maintenance writes).
  const docs = await model.find(filter, { _id: 1, regionPath: 1 }).lean<{ _id: unknown; regionPath: string[] }[]>();
  for (const doc of docs) before.set(String(doc._id), doc.regionPath);
  return { ids: [...before.keys()], before, byId: false };
}

function upsertedIds(result: unknown): string[] {
  if (!result || typeof result !== 'object') return [];
  const r = result as { upsertedId?: unknown; _id?: unknown; upsertedIds?: Record<string, unknown> };
  const ids: unknown[] = [];
  if (r.upsertedId) ids.push(r.upsertedId);
  if (r._id) ids.push(r._id); // findOneAnd…: the document
  if (r.upsertedIds) ids.push(...Object.values(r.upsertedIds));
  return ids.map(String);
}

/** The state an inserted document has, defaults applied as mongoose stores them. */
function insertedState(model: GroupModelLike, doc: Record<string, unknown>): GroupState {
  const hydrated = new model(doc).toObject() as GroupState;
  return {
    _id: String(hydrated._id),
    regionPath: hydrated.regionPath,
    memberCount: hydrated.memberCount,
    channelKind: hydrated.channelKind,
    tags: hydrated.tags ?? [],
    active: hydrated.active ?? true,
    flaggedAt: hydrated.flaggedAt ?? null,
  };
}

export function trackGroupWrites(schema: mongoose.Schema, readModel: () => AudienceReadModel): void {
  for (const op of QUERY_WRITES) {
    schema.pre(op, { document: false, query: true }, async function (this: mongoose.Query<unknown, unknown>) {
      const query = this as unknown as { [TOUCHED]?: Touched };
      query[TOUCHED] = await touchedBy(this.model, op, this.getFilter(), this.getUpdate());
    });
    const after = async (query: mongoose.Query<unknown, unknown>, result: unknown) => {
      const touched = (query as unknown as { [TOUCHED]?: Touched })[TOUCHED];
      if (!touched) return;
      const ids = new Set([...touched.ids, ...upsertedIds(result)]);
      if (!touched.byId) {
        // Groups that match the filter only now (an upsert, or a concurrent write).
        const now = await query.model.find(query.getFilter(), { _id: 1 }).lean<{ _id: unknown }[]>();
        for (const doc of now) ids.add(String(doc._id));
      }
      await readModel().recordWrites([...ids], touched.before);
    };
    schema.post(op, { document: false, query: true }, async function (this: mongoose.Query<unknown, unknown>, result) {
      await after(this, result);
    });
    // A failed write may still have changed some groups (updateMany stopping half way).
    schema.post(
      op,
      { document: false, query: true, errorHandler: true } as never,
      function (this: mongoose.Query<unknown, unknown>, error: Error, _result: unknown, next: (e?: Error) => void) {
        after(this, null).then(
          () => next(error),
          () => next(error),
        );
      } as never,
    );
  }

  schema.pre('save', async function (this: mongoose.Document & { regionPath?: string[] }) {
    if (this.isNew || !(this.isModified('regionPath') || this.isModified('regionCode'))) return;
    const doc = await (this.constructor as GroupModelLike).findById(this._id, { regionPath: 1 }).lean<{
      regionPath: string[];
    }>();
    this.$locals.audienceBefore = doc?.regionPath ?? null;
  });
  schema.post('save', async function (this: mongoose.Document) {
    const before = this.$locals.audienceBefore as string[] | null | undefined;
    const id = String(this._id);
    await readModel().recordWrites([id], before ? new Map([[id, before]]) : new Map());
  });
  schema.pre('deleteOne', { document: true, query: false }, async function (this: mongoose.Document) {
    const doc = this as unknown as { regionPath: string[] };
    this.$locals.audienceBefore = doc.regionPath;
  });
  schema.post('deleteOne', { document: true, query: false }, async function (this: mongoose.Document) {
    const id = String(this._id);
    const before = this.$locals.audienceBefore as string[];
    await readModel().recordWrites([id], new Map([[id, before]]));
  });
}

/**
 * Wraps a model's insertMany and bulkWrite so the groups they write reach the read model,
 * also when the write fails part way (an unordered insert with duplicates).
 */
export function trackBulkWrites(model: GroupModelLike, readModel: () => AudienceReadModel): void {
  const insertMany = model.insertMany.bind(model) as (docs: unknown, options?: unknown) => Promise<unknown>;
  const bulkWrite = model.bulkWrite.bind(model) as (ops: unknown[], options?: unknown) => Promise<unknown>;

  (model as unknown as { insertMany: unknown }).insertMany = async (docs: unknown, options?: unknown) => {
    const list = (Array.isArray(docs) ? docs : [docs]).map((doc) => {
      const plain = doc instanceof mongoose.Document ? doc.toObject() : { ...(doc as Record<string, unknown>) };
      plain._id ??= new mongoose.Types.ObjectId();
      return plain as Record<string, unknown>;
    });
    const ids = list.map((doc) => String(doc._id));
    let result: unknown;
    try {
      result = await insertMany(list, options);
    } catch (error) {
      await readModel().recordWrites(ids); // read back: which ones went in is the database's answer
      throw error;
    }
    await readModel().recordWrites(
      ids,
      new Map(),
      new Map(list.map((doc) => [String(doc._id), insertedState(model, doc)])),
    );
    return result;
  };

  (model as unknown as { bulkWrite: unknown }).bulkWrite = async (ops: unknown[], options?: unknown) => {
    const ids: string[] = [];
    const before = new Map<string, string[]>();
    const inserted = new Map<string, GroupState>();
    const refind: Filter[] = [];
    const prepared = [];
    for (const op of ops as Record<string, Record<string, unknown>>[]) {
      const [kind, body] = Object.entries(op)[0] as [string, Record<string, unknown>];
      if (kind === 'insertOne') {
        const document = { ...(body.document as Record<string, unknown>) };
        document._id ??= new mongoose.Types.ObjectId();
        ids.push(String(document._id));
        inserted.set(String(document._id), insertedState(model, document));
        prepared.push({ insertOne: { ...body, document } });
        continue;
      }
      const filter = (body.filter ?? {}) as Filter;
      const touched = await touchedBy(model, kind, filter, body.update ?? body.replacement);
      ids.push(...touched.ids);
      for (const [id, path] of touched.before) before.set(id, path);
      if (!touched.byId || body.upsert) refind.push(filter);
      prepared.push(op);
    }
    const record = async (failed: boolean) => {
      for (const filter of refind) {
        const now = await model.find(filter, { _id: 1 }).lean<{ _id: unknown }[]>();
        ids.push(...now.map((doc) => String(doc._id)));
      }
      await readModel().recordWrites(ids, before, failed ? new Map() : inserted);
    };
    let result: unknown;
    try {
      result = await bulkWrite(prepared, options);
    } catch (error) {
      await record(true);
      throw error;
    }
    await record(false);
    return result;
  };
}

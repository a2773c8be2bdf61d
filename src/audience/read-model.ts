// The audience read model: per county, one digest document holding what selection needs of
// every selectable group (id, township, village, members, channel, tags), so running totals
// read a few documents by _id instead of scanning the groups collection (FerretDB 1.24
// pushes no filter but an _id equality down to SQLite; a scan of 50,000 groups took 13–17 s).
//
// Exactness without transactions (docs/audience.md):
// - Every write to a group appends a change record to its county's log, AFTER the write:
//   `_id = "<county>:<seq>"`, seq dense from 1, claimed by a unique insert (the record is
//   its own claim, so the log has no holes). The record names the group ids, not their
//   state: whoever folds it re-reads those groups by _id, so records applied out of order
//   still end at the groups' current state.
// - A digest is `{ seq, rows }`: rows are right for every record up to seq. Anyone may fold
//   (the writer right after its write, any reader before it answers): read the digest, read
//   records seq+1, seq+2, … until one is missing, re-read the groups they name, replace the
//   digest whole. Two folders racing each write a self-consistent digest; one that lands
//   with a lower seq only makes the next folder re-read a few groups again.
// - After its records, a write replaces the write token (write-token.ts), then deletes its
//   intent: readers keep per-process and shared copies under that token.
// - Records are never deleted: a writer picks its seq by walking up from a seq known to
//   exist, which is only safe while nothing below it disappears.
import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { mapLimit } from '../lib/concurrency.js';
import { isDuplicateKey } from '../lib/errors.js';
import { bumpWriteToken } from './write-token.js';

/** What selection needs of one group, as read from the groups collection. */
export interface GroupState {
  _id: mongoose.Types.ObjectId | string;
  regionPath: string[];
  memberCount: number;
  channelKind: string;
  tags: string[];
  active: boolean;
  flaggedAt: Date | null;
}

/** One selectable group in a digest. */
export interface DigestRow {
  id: string;
  township: string;
  village: string;
  members: number;
  kind: string;
  tags: string[];
}

export interface CountyDigest {
  county: string;
  /** root, province, city, county. */
  path: string[];
  seq: number;
  rows: Map<string, DigestRow>;
}

export const STATE_FIELDS = {
  _id: 1,
  regionPath: 1,
  memberCount: 1,
  channelKind: 1,
  tags: 1,
  active: 1,
  flaggedAt: 1,
} as const;

const changeSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    ids: { type: [String], required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
/** The change log, `_id = "<county>:<seq>"`: read by _id only (the next seq), never scanned. */
export const AudienceChangeModel = mongoose.model('AudienceChange', changeSchema, 'audiencechanges');

const digestSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    path: { type: [String], default: [] },
    seq: { type: Number, required: true },
    /** JSON of [id, township, village, members, kind, tags][] (FerretDB stores no nested arrays). */
    rows: { type: String, required: true },
  },
  { versionKey: false },
);
/** One digest per county, `_id` = the county code, read by _id only. Also holds the `_built` marker. */
export const AudienceDigestModel = mongoose.model('AudienceDigest', digestSchema, 'audiencedigests');

const countySchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    path: { type: [String], required: true },
  },
  { versionKey: false },
);
/**
 * The counties that have (had) groups, with their paths: a small collection listed whole to
 * find the digests under a province or city. Inserted once per county, never changed.
 */
export const AudienceCountyModel = mongoose.model('AudienceCounty', countySchema, 'audiencecounties');

const intentSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    ids: { type: [String], required: true },
    /** JSON of [id, regionPath before the write][] for writes that may move or remove groups. */
    before: { type: String, default: '[]' },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
/**
 * Writes in flight: inserted before a group write, deleted once its change records are in.
 * Readers re-read the groups of every open intent, so a writer that dies between its write
 * and its records cannot leave a digest stale; an intent older than INTENT_TIMEOUT_MS is
 * turned into records by the next reader. Normally empty: listed whole by every totals call.
 */
export const AudienceIntentModel = mongoose.model('AudienceIntent', intentSchema, 'audienceintents');
/** Far longer than any single write takes; a slow writer past it only causes one extra record. */
export const INTENT_TIMEOUT_MS = 10 * 60_000;

const BUILT = '_built';

/** The county of a group's village: regionPath is root, province, city, county, township, village. */
export function countyOf(regionPath: readonly string[]): string | null {
  return regionPath.length >= 6 ? regionPath[3]! : null;
}

function rowOf(state: GroupState): DigestRow {
  return {
    id: String(state._id),
    township: state.regionPath[4]!,
    village: state.regionPath[5]!,
    members: state.memberCount,
    kind: state.channelKind,
    tags: state.tags ?? [],
  };
}

function selectable(state: GroupState | null, county: string): state is GroupState {
  return !!state && state.active !== false && !state.flaggedAt && countyOf(state.regionPath) === county;
}

function packRows(rows: Map<string, DigestRow>): string {
  return JSON.stringify([...rows.values()].map((r) => [r.id, r.township, r.village, r.members, r.kind, r.tags]));
}

function unpackRows(packed: string): Map<string, DigestRow> {
  const rows = new Map<string, DigestRow>();
  for (const [id, township, village, members, kind, tags] of JSON.parse(packed) as [
    string,
    string,
    string,
    number,
    string,
    string[],
  ][]) {
    rows.set(id, { id, township, village, members, kind, tags });
  }
  return rows;
}

export type GroupReader = mongoose.Model<GroupState>;

/** Current states by _id, one lookup each (an `$in` is a scan on FerretDB). null = no such group. */
export async function readStates(groups: GroupReader, ids: readonly string[]): Promise<Map<string, GroupState | null>> {
  const unique = [...new Set(ids)];
  const docs = await mapLimit(unique, 8, (id) =>
    mongoose.isValidObjectId(id) ? groups.findById(id, STATE_FIELDS).lean<GroupState>() : Promise.resolve(null),
  );
  return new Map(unique.map((id, i) => [id, docs[i] ?? null]));
}

export class AudienceReadModel {
  /**
   * What this process has seen exist, per database: county list entries and the `_built`
   * marker. Only ever skips an idempotent insert or a lookup of something never removed; the
   * seq a writer claims always comes from the digest it has just read, never from memory.
   */
  private readonly seen = new Set<string>();

  constructor(private readonly groups: () => GroupReader) {}

  private key(what: string): string {
    return `${this.groups().db.name}/${what}`;
  }

  /** True once the digests were built from the groups collection (set by `prepare`, never unset). */
  async isBuilt(): Promise<boolean> {
    if (this.seen.has(this.key(BUILT))) return true;
    if (!(await AudienceDigestModel.exists({ _id: BUILT }))) return false;
    this.seen.add(this.key(BUILT));
    return true;
  }

  /**
   * Builds every digest from one scan of the groups, once per database (the groups written
   * before the read model existed). Safe with writers running: each county's digest takes the
   * log position read before the scan, so records appended meanwhile are folded again later.
   */
  async prepare(): Promise<void> {
    if (await this.isBuilt()) return;
    const listed = await AudienceCountyModel.find({}, { _id: 1 }).lean<{ _id: string }[]>();
    const before = new Map<string, number>();
    for (const { _id } of listed) before.set(_id, await this.tail(_id, 0));
    const digests = new Map<string, CountyDigest>();
    const cursor = this.groups().find({}, STATE_FIELDS).lean<GroupState>().cursor({ batchSize: 5_000 });
    for await (const state of cursor) {
      const county = countyOf(state.regionPath);
      if (!county) continue;
      let digest = digests.get(county);
      if (!digest) {
        digest = { county, path: state.regionPath.slice(0, 4), seq: before.get(county) ?? 0, rows: new Map() };
        digests.set(county, digest);
      }
      if (selectable(state, county)) digest.rows.set(String(state._id), rowOf(state));
    }
    for (const digest of digests.values()) {
      await this.list(digest.county, digest.path);
      await this.save(digest);
    }
    await AudienceDigestModel.create({ _id: BUILT, seq: 0, rows: '[]' }).catch((error) => {
      if (!isDuplicateKey(error)) throw error;
    });
    this.seen.add(this.key(BUILT));
  }

  /** Every county with groups, with its path (root, province, city, county). */
  async counties(): Promise<{ county: string; path: string[] }[]> {
    const docs = await AudienceCountyModel.find({}).lean<{ _id: string; path: string[] }[]>();
    return docs.map((d) => ({ county: d._id, path: d.path }));
  }

  /**
   * For the write hooks: groups `ids` were just written. `before` holds the counties some of
   * them were in before the write (moves and deletes); `known` the state right after the write
   * where the writer has it (inserts), the rest is read back. Appends one record per county
   * touched, then folds those digests so readers find them current.
   */
  /** Before a write: announces the groups it may touch (and where movers were). Returns the intent's id. */
  async beginWrite(ids: readonly string[], before: ReadonlyMap<string, string[]> = new Map()): Promise<string | null> {
    if (ids.length === 0) return null;
    const _id = randomUUID();
    await AudienceIntentModel.create({
      _id,
      ids: [...new Set(ids)],
      before: JSON.stringify([...before]),
      at: new Date(),
    });
    return _id;
  }

  async recordWrites(
    ids: readonly string[],
    before: ReadonlyMap<string, string[]> = new Map(),
    known: ReadonlyMap<string, GroupState | null> = new Map(),
    intent: string | null = null,
  ): Promise<void> {
    await this.appendAndFold(ids, before, known);
    // Then the write token (write-token.ts): copies kept under the old one are no longer current.
    if (ids.length) await bumpWriteToken();
    // Only once the records are in and the token moved: until then readers re-read these groups themselves.
    if (intent) await AudienceIntentModel.deleteOne({ _id: intent });
  }

  /**
   * For readers: the current state of every group an unfinished write may have touched, read
   * now. Intents older than INTENT_TIMEOUT_MS (their writer died) become records here.
   */
  async inFlight(): Promise<Map<string, GroupState | null>> {
    const intents = await AudienceIntentModel.find({}).lean<
      { _id: string; ids: string[]; before: string; at: Date }[]
    >();
    if (intents.length === 0) return new Map();
    for (const intent of intents) {
      if (Date.now() - new Date(intent.at).getTime() < INTENT_TIMEOUT_MS) continue;
      const before = new Map(JSON.parse(intent.before) as [string, string[]][]);
      await this.recordWrites(intent.ids, before, new Map(), intent._id);
    }
    return readStates(
      this.groups(),
      intents.flatMap((intent) => intent.ids),
    );
  }

  /** Digests with the in-flight states laid over them (in memory; folding saves the real thing). */
  overlay(digests: CountyDigest[], states: ReadonlyMap<string, GroupState | null>): CountyDigest[] {
    if (states.size === 0) return digests;
    return digests.map((digest) => {
      const rows = new Map(digest.rows);
      for (const [id, state] of states) {
        if (selectable(state, digest.county)) rows.set(id, rowOf(state));
        else rows.delete(id);
      }
      return { ...digest, rows };
    });
  }

  private async appendAndFold(
    ids: readonly string[],
    before: ReadonlyMap<string, string[]>,
    known: ReadonlyMap<string, GroupState | null>,
  ): Promise<void> {
    if (ids.length === 0) return;
    const unknown = ids.filter((id) => !known.has(id));
    const states = new Map([...known, ...(await readStates(this.groups(), unknown))]);
    const byCounty = new Map<string, { path: string[]; ids: string[] }>();
    const touch = (path: string[], id: string) => {
      const county = countyOf(path);
      if (!county) return;
      const entry = byCounty.get(county) ?? { path: path.slice(0, 4), ids: [] };
      if (!entry.ids.includes(id)) entry.ids.push(id);
      byCounty.set(county, entry);
    };
    for (const id of new Set(ids)) {
      const state = states.get(id);
      if (state) touch(state.regionPath, id);
      const old = before.get(id);
      if (old) touch(old, id);
    }
    for (const [county, { path, ids: countyIds }] of byCounty) {
      await this.list(county, path);
      const digest = await this.load(county, path);
      const seq = await this.append(county, countyIds, digest.seq);
      if (!(await this.isBuilt())) continue; // prepare() will read these groups whole
      // The record is what makes the write count; folding now only spares the next reader.
      await this.fold(digest, new Map(countyIds.map((id) => [id, states.get(id) ?? null])), seq).catch(() => {});
    }
  }

  /** A county's digest brought up to date with its log (folding and saving when behind). */
  async current(county: string, path: string[]): Promise<CountyDigest> {
    return this.fold(await this.load(county, path));
  }

  private async load(county: string, path: string[]): Promise<CountyDigest> {
    const doc = await AudienceDigestModel.findById(county).lean<{ path: string[]; seq: number; rows: string }>();
    if (!doc) return { county, path, seq: 0, rows: new Map() };
    return { county, path: doc.path.length ? doc.path : path, seq: doc.seq, rows: unpackRows(doc.rows) };
  }

  /**
   * Applies the records after the digest's seq. `own` are states read right after this
   * process's own write, recorded as `ownSeq`: valid for that record, but a group that another
   * pending record also names is read again (that other write may have come after).
   */
  private async fold(
    digest: CountyDigest,
    own: ReadonlyMap<string, GroupState | null> = new Map(),
    ownSeq = 0,
  ): Promise<CountyDigest> {
    const mentioned = new Map<string, number>(); // id → how many pending records name it
    const ownIds = new Set<string>();
    let seq = digest.seq;
    for (;;) {
      const record = await AudienceChangeModel.findById(`${digest.county}:${seq + 1}`).lean<{ ids: string[] }>();
      if (!record) break;
      seq += 1;
      for (const id of record.ids) {
        mentioned.set(id, (mentioned.get(id) ?? 0) + 1);
        if (seq === ownSeq) ownIds.add(id);
      }
    }
    if (seq === digest.seq) return digest;
    const reuse = [...mentioned.keys()].filter((id) => ownIds.has(id) && mentioned.get(id) === 1 && own.has(id));
    const reread = [...mentioned.keys()].filter((id) => !reuse.includes(id));
    const states = new Map([
      ...reuse.map((id) => [id, own.get(id) ?? null] as const),
      ...(await readStates(this.groups(), reread)),
    ]);
    const rows = new Map(digest.rows);
    for (const [id, state] of states) {
      if (selectable(state, digest.county)) rows.set(id, rowOf(state));
      else rows.delete(id);
    }
    const next = { ...digest, seq, rows };
    await this.save(next);
    return next;
  }

  private async save(digest: CountyDigest): Promise<void> {
    const doc = { path: digest.path, seq: digest.seq, rows: packRows(digest.rows) };
    await AudienceDigestModel.replaceOne({ _id: digest.county }, doc, { upsert: true }).catch((error) => {
      // Two folders upserting a missing digest at once: the other one's digest is as good.
      if (!isDuplicateKey(error)) throw error;
    });
  }

  /** The last seq of a county's log, walking up from one known to exist. */
  private async tail(county: string, from: number): Promise<number> {
    let seq = from;
    while (await AudienceChangeModel.exists({ _id: `${county}:${seq + 1}` })) seq += 1;
    return seq;
  }

  /** Claims the next seq of a county's log with the record itself (a unique insert). */
  private async append(county: string, ids: string[], known: number): Promise<number> {
    let seq = known + 1;
    for (;;) {
      try {
        await AudienceChangeModel.create({ _id: `${county}:${seq}`, ids, at: new Date() });
        return seq;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        seq += 1;
      }
    }
  }

  private async list(county: string, path: string[]): Promise<void> {
    if (this.seen.has(this.key(county))) return;
    await AudienceCountyModel.create({ _id: county, path }).catch((error) => {
      if (!isDuplicateKey(error)) throw error;
    });
    this.seen.add(this.key(county));
  }
}

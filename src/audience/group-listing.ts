// The groups list's candidates: per county, the id, township and village of every group hung
// there (active or not, flagged or not), so the list screen reads a page of groups by _id
// instead of scanning the groups collection (FerretDB 1.24 pushes no filter but an `_id`
// equality down to SQLite: 2.5–3.6 s for 3,000 groups under load, ~17× that for a province).
//
// Exact the same way as the audience digests (read-model.ts), from the same change log: every
// group write appends `<county>:<seq>` records naming the groups it touched (after the write;
// an intent names them before it). A listing `{ seq, rows }` is right for every record up to
// seq; a reader walks the records after it, re-reads the groups they name by _id and saves the
// listing whole. A process keeps the listings it read: one is still current while record
// seq+1 does not exist, so a list call costs one `_id` lookup per county in scope.
//
// The listing is only a superset of candidates: the list reads each candidate by `_id` with
// the list's own filter, so a group that moved or changed meanwhile is judged on its state.
//
// Under the write token (write-token.ts): a held listing found current under the token read
// after the open intents needs no lookup while the token reads the same, so a repeated list
// call costs the intents, the token and the county list, whatever the counties in scope.
//
// Each row also holds what the list's filters and column sorts look at (name, tags, channel,
// members, officer, active, test group, flagged, creation time), so a filtered or sorted list
// picks its page from the rows in the process and reads only that page by `_id` (layout 2,
// marker `_built:2`: an install whose listings hold only [id, township, village] is listed
// again once, from one scan; a short row met later is read again by `_id`).
import mongoose from 'mongoose';
import { mapLimit } from '../lib/concurrency.js';
import { isDuplicateKey } from '../lib/errors.js';
import {
  AudienceChangeModel,
  AudienceCountyModel,
  AudienceDigestModel,
  type AudienceReadModel,
  countyOf,
} from './read-model.js';
import { readWriteToken } from './write-token.js';

const listingSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    seq: { type: Number, required: true },
    /** JSON of packed rows (`pack`; FerretDB stores no nested arrays). */
    rows: { type: String, required: true },
  },
  { versionKey: false },
);
/** One listing per county, `_id` = the county code, read by _id only; also the `_built` marker. */
export const GroupListingModel = mongoose.model('GroupListing', listingSchema, 'grouplistings');

/** Layout 2 (rows with the list's fields) was built once for every county. */
const BUILT = '_built:2';

/** What the groups list filters and sorts on, per group. */
export interface ListedRow {
  township: string;
  village: string;
  name: string;
  tags: string[];
  channelKind: string;
  memberCount: number;
  officerName: string | null;
  officerPhone: string | null;
  active: boolean;
  forTests: boolean;
  flagged: boolean;
  /** ms since the epoch. */
  createdAt: number;
}

interface Listing {
  county: string;
  seq: number;
  rows: Map<string, ListedRow>;
  /** The write token under which this process found it current (held copies only). */
  token?: string;
}

export interface Placed {
  _id: mongoose.Types.ObjectId | string;
  regionPath: string[];
  name?: string;
  tags?: string[];
  channelKind?: string;
  memberCount?: number;
  officerName?: string | null;
  officerPhone?: string | null;
  active?: boolean;
  forTests?: boolean;
  flaggedAt?: Date | null;
  createdAt?: Date;
}

export type PlacedReader = mongoose.Model<Placed>;

/** The fields a row is made of (what a listing reads of a group). */
export const ROW_FIELDS = {
  regionPath: 1,
  name: 1,
  tags: 1,
  channelKind: 1,
  memberCount: 1,
  officerName: 1,
  officerPhone: 1,
  active: 1,
  forTests: 1,
  flaggedAt: 1,
  createdAt: 1,
} as const;

export function rowOf(group: Placed): ListedRow {
  return {
    township: group.regionPath[4] ?? '',
    village: group.regionPath[5] ?? '',
    name: group.name ?? '',
    tags: group.tags ?? [],
    channelKind: group.channelKind ?? '',
    memberCount: group.memberCount ?? 0,
    officerName: group.officerName ?? null,
    officerPhone: group.officerPhone ?? null,
    active: group.active ?? true,
    forTests: group.forTests === true,
    flagged: group.flaggedAt !== null && group.flaggedAt !== undefined,
    createdAt: group.createdAt instanceof Date ? group.createdAt.getTime() : 0,
  };
}

type Packed = [string, string, string, string?, string[]?, string?, number?, (string | null)?, (string | null)?, number?, number?];

function pack(rows: Listing['rows']): string {
  return JSON.stringify(
    [...rows].map(([id, r]) => [
      id,
      r.township,
      r.village,
      r.name,
      r.tags,
      r.channelKind,
      r.memberCount,
      r.officerName,
      r.officerPhone,
      (r.active ? 1 : 0) | (r.forTests ? 2 : 0) | (r.flagged ? 4 : 0),
      r.createdAt,
    ]),
  );
}

/** Rows, and the ids of rows in the first layout ([id, township, village]: to be read again). */
function unpack(packed: string): { rows: Listing['rows']; short: string[] } {
  const rows: Listing['rows'] = new Map();
  const short: string[] = [];
  for (const p of JSON.parse(packed) as Packed[]) {
    if (p.length < 11) {
      short.push(p[0]);
      continue;
    }
    const flags = p[9] ?? 0;
    rows.set(p[0], {
      township: p[1],
      village: p[2],
      name: p[3] ?? '',
      tags: p[4] ?? [],
      channelKind: p[5] ?? '',
      memberCount: p[6] ?? 0,
      officerName: p[7] ?? null,
      officerPhone: p[8] ?? null,
      active: (flags & 1) !== 0,
      forTests: (flags & 2) !== 0,
      flagged: (flags & 4) !== 0,
      createdAt: p[10] ?? 0,
    });
  }
  return { rows, short };
}

export class GroupListing {
  /** Listings this process has read, per database and county: current while record seq+1 is missing. */
  private readonly held = new Map<string, Listing>();
  private readonly built = new Set<string>();
  /** Loads under way, per database and county. */
  private readonly loading = new Map<string, Promise<Listing>>();

  constructor(
    private readonly groups: () => PlacedReader,
    private readonly readModel: AudienceReadModel,
  ) {}

  private key(what: string): string {
    return `${this.groups().db.name}/${what}`;
  }

  /**
   * Lists every group once per database from one scan (an install written before the listings
   * existed; idempotent: a `_built` marker read by _id after that). Safe with writers running:
   * each county's listing takes the log position read before the scan, so records appended
   * meanwhile are folded again by the next reader.
   */
  async prepare(): Promise<void> {
    if (this.built.has(this.key(BUILT))) return;
    if (await GroupListingModel.exists({ _id: BUILT })) {
      this.built.add(this.key(BUILT));
      return;
    }
    const listed = await AudienceCountyModel.find({}, { _id: 1 }).lean<{ _id: string }[]>();
    const listings = new Map<string, Listing>();
    for (const { _id } of listed) listings.set(_id, { county: _id, seq: await this.tail(_id), rows: new Map() });
    const cursor = this.groups().find({}, ROW_FIELDS).lean<Placed>().cursor({ batchSize: 5_000 });
    for await (const group of cursor) {
      const county = countyOf(group.regionPath);
      if (!county) continue;
      let listing = listings.get(county);
      if (!listing) {
        listing = { county, seq: 0, rows: new Map() };
        listings.set(county, listing);
      }
      listing.rows.set(String(group._id), rowOf(group));
    }
    for (const listing of listings.values()) await this.save(listing);
    await GroupListingModel.create({ _id: BUILT, seq: 0, rows: '[]' }).catch((error) => {
      if (!isDuplicateKey(error)) throw error;
    });
    this.built.add(this.key(BUILT));
  }

  /**
   * Ids of every group that may lie under all of `codes` (region codes of any level), plus
   * every group a write in flight names: a superset of the groups whose regionPath holds them.
   */
  async candidates(codes: readonly string[]): Promise<string[]> {
    const { rows, inFlight } = await this.candidateRows(codes);
    return [...new Set([...rows.keys(), ...inFlight])];
  }

  /**
   * The rows of every listed group that may lie under all of `codes`, and the ids of writes in
   * flight (their rows may be stale: the caller reads those groups by `_id`).
   */
  async candidateRows(
    codes: readonly string[],
    read?: { inFlight: Map<string, unknown>; token: string },
  ): Promise<{ rows: Map<string, ListedRow>; inFlight: string[]; token: string }> {
    await this.prepare();
    // Writes in flight first: a listing read after them cannot miss one that finished between
    // (`read`: the caller read both, in this order).
    const inFlight = read?.inFlight ?? (await this.readModel.inFlight());
    const token = read?.token ?? (await readWriteToken());
    const counties = await this.readModel.counties();
    // A code at or above county level names whole counties; one below it, rows of any county.
    const whole = (path: string[]) => codes.every((code) => path.includes(code));
    const below = codes.filter((code) => !counties.some((c) => c.path.includes(code)));
    const wanted = counties.filter((c) => whole(c.path) || below.length > 0);
    const listings = await mapLimit(wanted, 8, (c) => this.current(c.county, token));
    const rows = new Map<string, ListedRow>();
    for (const [i, listing] of listings.entries()) {
      const path = wanted[i]!.path;
      for (const [id, row] of listing.rows) {
        if (codes.every((code) => path.includes(code) || code === row.township || code === row.village)) rows.set(id, row);
      }
    }
    return { rows, inFlight: [...inFlight.keys()], token };
  }

  /**
   * The same candidates as `candidates`, one county at a time (counties in code order, each
   * county's ids sorted), then the ids of writes in flight not listed by then: a reader that
   * starts working on the first county's groups reads one listing first, not every county's
   * (an urgent run's first batches, issue 25). Only the listings of counties that may hold
   * groups under all of `codes` are read.
   */
  async *candidatesByCounty(codes: readonly string[]): AsyncGenerator<string[]> {
    await this.prepare();
    // Writes in flight first: a listing read after them cannot miss one that finished between.
    const inFlight = new Set(await this.readModel.inFlight().then((found) => found.keys()));
    const token = await readWriteToken();
    const counties = (await this.readModel.counties()).sort((a, b) => (a.county < b.county ? -1 : 1));
    const whole = (path: string[]) => codes.every((code) => path.includes(code));
    const below = codes.filter((code) => !counties.some((c) => c.path.includes(code)));
    for (const { county, path } of counties) {
      // A county holds groups under a code below county level only if the code lies under it
      // (a code names its region's descendants: every ancestor of it is in their paths).
      if (!whole(path) && !(below.length > 0 && codes.every((code) => path.includes(code) || below.includes(code))))
        continue;
      const listing = await this.current(county, token);
      const ids: string[] = [];
      for (const [id, { township, village }] of listing.rows) {
        if (inFlight.has(id)) continue;
        if (codes.every((code) => path.includes(code) || code === township || code === village)) ids.push(id);
      }
      if (ids.length) yield ids.sort();
    }
    if (inFlight.size) yield [...inFlight].sort();
  }

  /**
   * Reads every county's listing into the process: an api process at start, in the background
   * (main.ts), so that the first filtered or sorted list does not wait for them. Bounded: the
   * county list, the token and one `_id` read per county (84 for a province, ~7.5 MB of JSON at
   * 50,000 groups, held as the first list call would hold them, ~10 MB), four at a time. A list
   * call meanwhile shares the loads under way. Intents need not be read first: a listing is
   * only ever "current under the token", and the list reads the groups of open intents itself.
   */
  async warm(): Promise<void> {
    await this.prepare();
    const token = await readWriteToken();
    const counties = await this.readModel.counties();
    await mapLimit(counties, 4, (c) => this.current(c.county, token));
  }

  /** One load per county at a time in this process (a warm-up and a list call share it). */
  private loadShared(county: string): Promise<Listing> {
    const key = this.key(county);
    let loading = this.loading.get(key);
    if (!loading) {
      loading = this.load(county).finally(() => this.loading.delete(key));
      this.loading.set(key, loading);
    }
    return loading;
  }

  /**
   * A county's listing brought up to date with its change log (folded and saved when behind).
   * `token` is the write token read after the open intents (write-token.ts): a held listing
   * found current under it is current without a lookup.
   */
  private async current(county: string, token: string): Promise<Listing> {
    const held = this.held.get(this.key(county));
    if (held && held.token === token) return held;
    const listing = held ?? (await this.loadShared(county));
    const named = new Set<string>();
    let seq = listing.seq;
    for (;;) {
      const record = await AudienceChangeModel.findById(`${county}:${seq + 1}`, { ids: 1 }).lean<{ ids: string[] }>();
      if (!record) break;
      seq += 1;
      for (const id of record.ids) named.add(id);
    }
    if (seq === listing.seq) {
      const kept = { ...listing, token };
      this.held.set(this.key(county), kept);
      return kept;
    }
    const rows = new Map(listing.rows);
    await this.reread(county, rows, [...named]);
    const next = { county, seq, rows };
    await this.save(next);
    const kept = { ...next, token };
    this.held.set(this.key(county), kept);
    return kept;
  }

  /** Reads `ids` again by `_id` into a county's rows (gone or moved away: dropped). */
  private async reread(county: string, rows: Listing['rows'], ids: string[]): Promise<void> {
    const states = await mapLimit(ids, 8, (id) =>
      mongoose.isValidObjectId(id) ? this.groups().findById(id, ROW_FIELDS).lean<Placed>().exec() : Promise.resolve(null),
    );
    for (const [i, id] of ids.entries()) {
      const state = states[i];
      if (state && countyOf(state.regionPath) === county) rows.set(id, rowOf(state));
      else rows.delete(id);
    }
  }

  private async load(county: string): Promise<Listing> {
    const doc = await GroupListingModel.findById(county).lean<{ seq: number; rows: string }>();
    if (!doc) return { county, seq: 0, rows: new Map() };
    const { rows, short } = unpack(doc.rows);
    // Rows in the first layout (saved by older code after this layout was built): read again,
    // and saved in this layout so that the next process does not read them again. The rows
    // read now may be newer than seq: harmless, a record after seq makes its groups read again.
    if (short.length) {
      await this.reread(county, rows, short);
      await this.save({ county, seq: doc.seq, rows });
    }
    return { county, seq: doc.seq, rows };
  }

  /** Forgets this process's listings (tests: a fresh process). */
  forget(): void {
    this.held.clear();
  }

  private async save(listing: Listing): Promise<void> {
    await GroupListingModel.replaceOne(
      { _id: listing.county },
      { seq: listing.seq, rows: pack(listing.rows) },
      { upsert: true },
    ).catch((error) => {
      // Two readers upserting a missing listing at once: the other one's is as good.
      if (!isDuplicateKey(error)) throw error;
    });
  }

  /** The last seq of a county's change log, walking up from its digest's (records are never deleted). */
  private async tail(county: string): Promise<number> {
    let seq = (await AudienceDigestModel.findById(county, { seq: 1 }).lean<{ seq: number }>())?.seq ?? 0;
    while (await AudienceChangeModel.exists({ _id: `${county}:${seq + 1}` })) seq += 1;
    return seq;
  }
}

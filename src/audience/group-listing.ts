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

const listingSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    seq: { type: Number, required: true },
    /** JSON of [id, township, village][] (FerretDB stores no nested arrays). */
    rows: { type: String, required: true },
  },
  { versionKey: false },
);
/** One listing per county, `_id` = the county code, read by _id only; also the `_built` marker. */
export const GroupListingModel = mongoose.model('GroupListing', listingSchema, 'grouplistings');

const BUILT = '_built';

interface Listing {
  county: string;
  seq: number;
  /** id → [township, village]. */
  rows: Map<string, [string, string]>;
}

interface Placed {
  _id: mongoose.Types.ObjectId | string;
  regionPath: string[];
}

export type PlacedReader = mongoose.Model<Placed>;

function pack(rows: Listing['rows']): string {
  return JSON.stringify([...rows].map(([id, [township, village]]) => [id, township, village]));
}

function unpack(packed: string): Listing['rows'] {
  return new Map((JSON.parse(packed) as [string, string, string][]).map(([id, t, v]) => [id, [t, v]]));
}

export class GroupListing {
  /** Listings this process has read, per database and county: current while record seq+1 is missing. */
  private readonly held = new Map<string, Listing>();
  private readonly built = new Set<string>();

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
    const cursor = this.groups().find({}, { _id: 1, regionPath: 1 }).lean<Placed>().cursor({ batchSize: 5_000 });
    for await (const group of cursor) {
      const county = countyOf(group.regionPath);
      if (!county) continue;
      let listing = listings.get(county);
      if (!listing) {
        listing = { county, seq: 0, rows: new Map() };
        listings.set(county, listing);
      }
      listing.rows.set(String(group._id), [group.regionPath[4]!, group.regionPath[5]!]);
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
    await this.prepare();
    // Writes in flight first: a listing read after them cannot miss one that finished between.
    const inFlight = await this.readModel.inFlight();
    const counties = await this.readModel.counties();
    // A code at or above county level names whole counties; one below it, rows of any county.
    const whole = (path: string[]) => codes.every((code) => path.includes(code));
    const below = codes.filter((code) => !counties.some((c) => c.path.includes(code)));
    const wanted = counties.filter((c) => whole(c.path) || below.length > 0);
    const listings = await mapLimit(wanted, 8, (c) => this.current(c.county));
    const ids = new Set<string>(inFlight.keys());
    for (const [i, listing] of listings.entries()) {
      const path = wanted[i]!.path;
      for (const [id, [township, village]] of listing.rows) {
        if (codes.every((code) => path.includes(code) || code === township || code === village)) ids.add(id);
      }
    }
    return [...ids];
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
    const counties = (await this.readModel.counties()).sort((a, b) => (a.county < b.county ? -1 : 1));
    const whole = (path: string[]) => codes.every((code) => path.includes(code));
    const below = codes.filter((code) => !counties.some((c) => c.path.includes(code)));
    for (const { county, path } of counties) {
      // A county holds groups under a code below county level only if the code lies under it
      // (a code names its region's descendants: every ancestor of it is in their paths).
      if (!whole(path) && !(below.length > 0 && codes.every((code) => path.includes(code) || below.includes(code))))
        continue;
      const listing = await this.current(county);
      const ids: string[] = [];
      for (const [id, [township, village]] of listing.rows) {
        if (inFlight.has(id)) continue;
        if (codes.every((code) => path.includes(code) || code === township || code === village)) ids.push(id);
      }
      if (ids.length) yield ids.sort();
    }
    if (inFlight.size) yield [...inFlight].sort();
  }

  /** A county's listing brought up to date with its change log (folded and saved when behind). */
  private async current(county: string): Promise<Listing> {
    const listing = this.held.get(this.key(county)) ?? (await this.load(county));
    const named = new Set<string>();
    let seq = listing.seq;
    for (;;) {
      const record = await AudienceChangeModel.findById(`${county}:${seq + 1}`, { ids: 1 }).lean<{ ids: string[] }>();
      if (!record) break;
      seq += 1;
      for (const id of record.ids) named.add(id);
    }
    if (seq === listing.seq) {
      this.held.set(this.key(county), listing);
      return listing;
    }
    const ids = [...named];
    const states = await mapLimit(ids, 8, (id) =>
      mongoose.isValidObjectId(id)
        ? this.groups().findById(id, { regionPath: 1 }).lean<Placed>().exec()
        : Promise.resolve(null),
    );
    const rows = new Map(listing.rows);
    for (const [i, id] of ids.entries()) {
      const state = states[i];
      if (state && countyOf(state.regionPath) === county) rows.set(id, [state.regionPath[4]!, state.regionPath[5]!]);
      else rows.delete(id);
    }
    const next = { county, seq, rows };
    await this.save(next);
    this.held.set(this.key(county), next);
    return next;
  }

  private async load(county: string): Promise<Listing> {
    const doc = await GroupListingModel.findById(county).lean<{ seq: number; rows: string }>();
    return doc ? { county, seq: doc.seq, rows: unpack(doc.rows) } : { county, seq: 0, rows: new Map() };
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

// Per-county totals of the selectable groups (issue 25, screens): a province's audience totals
// summed 50,000 digest rows read from 84 digests (~36 KB of JSON each) on every call. Most
// selections decide a county's groups by their tags and channel alone (a whole county chosen
// or not, tags included or excluded), so each county keeps its groups bucketed by (tag set,
// channel) with their member totals and villages, and such a selection sums a few buckets.
//
// Contract (collection `audiencecountytotals`, `_id` = the county code, read by `_id` only):
// - A document `{ seq, packed }` holds the totals of the county's digest at log position `seq`
//   (read-model.ts): the version token. It is used only while record `<county>:<seq+1>` does
//   not exist, i.e. while it is the digest's current state; otherwise the reader brings the
//   digest up to date (`current`), buckets it and saves the result. Two savers racing each
//   save a self-consistent document; a lower seq landing last only makes the next reader
//   bucket the digest again.
// - Nothing writes these documents but readers, so the group writers are unchanged, and an
//   install from before they existed (digests only) is bucketed by its first totals call per
//   county (and kept by the process under the same token).
// - Under the write token (write-token.ts): a process keeps, per county, the token under which
//   it found its totals current, and needs no lookup for it while the token reads the same. One
//   shared summary (collection `audiencetotalssummary`, `_id` 'all', `{ token, counties }`)
//   holds every county's totals as found current under `token` by the reader that saved it,
//   so a fresh process (an api restart) answers a province with two `_id` reads. A summary
//   under an older token only seeds the per-county checks. Saved by readers only, in one
//   replace, after the checks and under the token read before them: a crash at any point
//   leaves the old summary (stale: its token no longer reads) or the new one; two savers
//   racing each save a self-consistent summary, an older token landing last only makes the
//   next province call check its counties again. A call that covers fewer counties than the
//   stored summary does not replace it.
// - A county whose groups the selection judges one by one (a township, village or group of it
//   named, a radius, a scope below the county) or any write in flight (an open intent) is
//   summed from its digest rows as before (totals.ts `totalsOf`).
import mongoose from 'mongoose';
import { mapLimit } from '../lib/concurrency.js';
import { GROUP_CHANNELS, type GroupChannel } from './model.js';
import { AudienceChangeModel, type CountyDigest } from './read-model.js';
import type { AudienceTotals, ChannelTotals, CountyEntry, Selection } from './totals.js';
import { readWriteToken } from './write-token.js';

const totalsSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    seq: { type: Number, required: true },
    /** JSON of `Packed` (FerretDB stores no nested arrays). */
    packed: { type: String, required: true },
  },
  { versionKey: false },
);
export const AudienceCountyTotalsModel = mongoose.model('AudienceCountyTotals', totalsSchema, 'audiencecountytotals');

const summarySchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    /** The write token read before its counties were found current (write-token.ts). */
    token: { type: String, required: true },
    /** JSON of [county, seq, Packed][]. */
    counties: { type: String, required: true },
  },
  { versionKey: false },
);
/** One document, `_id` 'all': every county's totals current under its token (read by `_id` only). */
export const AudienceTotalsSummaryModel = mongoose.model(
  'AudienceTotalsSummary',
  summarySchema,
  'audiencetotalssummary',
);
const SUMMARY = 'all';
/** Up to this many lookups (one per county kept in the process, two otherwise) are made rather than reading the summary. */
const CHECK_DIRECTLY = 8;

/** One bucket: the county's groups with exactly these tags on this channel. */
export interface Bucket {
  tags: string[];
  kind: string;
  groups: number;
  members: number;
  /** Indices into the county's `villages`. */
  villages: number[];
}

export interface CountyTotals {
  county: string;
  seq: number;
  townships: string[];
  villages: string[];
  buckets: Bucket[];
}

type Packed = { t: string[]; v: string[]; b: [string[], string, number, number, number[]][] };

/** Buckets a digest's rows. */
export function bucketsOf(digest: CountyDigest): CountyTotals {
  const villages: string[] = [];
  const villageAt = new Map<string, number>();
  const townships = new Set<string>();
  const buckets = new Map<string, Bucket & { seen: Set<number> }>();
  for (const row of digest.rows.values()) {
    townships.add(row.township);
    let v = villageAt.get(row.village);
    if (v === undefined) {
      v = villages.length;
      villages.push(row.village);
      villageAt.set(row.village, v);
    }
    const tags = [...new Set(row.tags)].sort();
    const key = JSON.stringify([tags, row.kind]);
    let bucket = buckets.get(key);
    if (!bucket) {
      bucket = { tags, kind: row.kind, groups: 0, members: 0, villages: [], seen: new Set() };
      buckets.set(key, bucket);
    }
    bucket.groups += 1;
    bucket.members += row.members;
    if (!bucket.seen.has(v)) {
      bucket.seen.add(v);
      bucket.villages.push(v);
    }
  }
  return {
    county: digest.county,
    seq: digest.seq,
    townships: [...townships],
    villages,
    buckets: [...buckets.values()].map(({ seen: _, ...bucket }) => bucket),
  };
}

function packObject(totals: CountyTotals): Packed {
  return {
    t: totals.townships,
    v: totals.villages,
    b: totals.buckets.map((b) => [b.tags, b.kind, b.groups, b.members, b.villages]),
  };
}

function pack(totals: CountyTotals): string {
  return JSON.stringify(packObject(totals));
}

/** The summary's counties: JSON of [county, seq, packed][]. */
function packSummary(all: CountyTotals[]): string {
  return JSON.stringify(all.map((totals) => [totals.county, totals.seq, packObject(totals)]));
}

function unpackSummary(text: string): CountyTotals[] {
  return (JSON.parse(text) as [string, number, Packed][]).map(([county, seq, packed]) =>
    unpackObject(county, seq, packed),
  );
}

function unpack(county: string, seq: number, text: string): CountyTotals {
  return unpackObject(county, seq, JSON.parse(text) as Packed);
}

function unpackObject(county: string, seq: number, packed: Packed): CountyTotals {
  return {
    county,
    seq,
    townships: packed.t,
    villages: packed.v,
    buckets: packed.b.map(([tags, kind, groups, members, villages]) => ({ tags, kind, groups, members, villages })),
  };
}

/** Whether the county's totals can answer this selection (its groups judged by tags and channel only). */
export function bucketsAnswer(
  entry: CountyEntry,
  scopeCode: string,
  selection: Selection,
  totals: CountyTotals,
): boolean {
  if (selection.groups.length || selection.excludeGroups.length || selection.nearVillages) return false;
  if (!entry.path.includes(scopeCode)) return false;
  const places = new Set([...totals.townships, ...totals.villages]);
  return ![...selection.regions, ...selection.excludeRegions].some((code) => places.has(code));
}

/** Whether a selection could be answered from buckets at all (before reading any). */
export function mayUseBuckets(selection: Selection): boolean {
  return !selection.groups.length && !selection.excludeGroups.length && !selection.nearVillages;
}

export function emptyTotals(): AudienceTotals {
  const byChannel = Object.fromEntries(
    GROUP_CHANNELS.map((kind) => [kind, { groupCount: 0, memberTotal: 0 }]),
  ) as Record<GroupChannel, ChannelTotals>;
  return { groupCount: 0, villageCount: 0, memberTotal: 0, byChannel, manualTaskCount: 0 };
}

/** Adds one county's share of the selection, from its buckets, to `into`. */
export function addBuckets(into: AudienceTotals, entry: CountyEntry, selection: Selection, totals: CountyTotals): void {
  if (entry.path.some((code) => selection.excludeRegions.includes(code))) return;
  const whole = entry.path.some((code) => selection.regions.includes(code));
  const tags = new Set(selection.tags);
  const excludeTags = new Set(selection.excludeTags);
  const villages = new Uint8Array(totals.villages.length);
  for (const bucket of totals.buckets) {
    if (!whole && !bucket.tags.some((tag) => tags.has(tag))) continue;
    if (bucket.tags.some((tag) => excludeTags.has(tag))) continue;
    into.groupCount += bucket.groups;
    into.memberTotal += bucket.members;
    const channel = into.byChannel[bucket.kind as GroupChannel];
    if (channel) {
      channel.groupCount += bucket.groups;
      channel.memberTotal += bucket.members;
    }
    for (const v of bucket.villages) villages[v] = 1;
  }
  for (const marked of villages) into.villageCount += marked;
  into.manualTaskCount = into.byChannel.manual.groupCount;
}

/** Adds totals of disjoint counties (`totalsOf` over other digests) to `into`. */
export function addTotals(into: AudienceTotals, part: AudienceTotals): void {
  into.groupCount += part.groupCount;
  into.villageCount += part.villageCount;
  into.memberTotal += part.memberTotal;
  for (const kind of GROUP_CHANNELS) {
    into.byChannel[kind].groupCount += part.byChannel[kind].groupCount;
    into.byChannel[kind].memberTotal += part.byChannel[kind].memberTotal;
  }
  into.manualTaskCount = into.byChannel.manual.groupCount;
}

/**
 * The counties' totals, each current with its change log. Under the write token
 * (write-token.ts): counties this process found current under the token read now need no
 * lookup; the others come from the shared summary when it was saved under that token (one
 * `_id` read for every county of the install); only when the token moved are they checked one
 * by one (this process's copy or the stored document while record seq+1 is absent, one `_id`
 * lookup per county, else bucketed from the digest brought up to date by `current` and stored),
 * and the summary is saved again under the token read before the checks.
 */
export class CountyTotalsSource {
  /** Per database and county, the totals this process last used (only ever used after the seq check). */
  private readonly kept = new Map<string, CountyTotals>();
  /** Per database and county, the write token under which its kept totals were found current. */
  private readonly verified = new Map<string, string>();

  private key(county: string): string {
    return `${AudienceCountyTotalsModel.db.name}/${county}`;
  }

  private async currentAt(county: string, seq: number): Promise<boolean> {
    return !(await AudienceChangeModel.exists({ _id: `${county}:${seq + 1}` }));
  }

  async of(county: string, current: () => Promise<CountyDigest>): Promise<CountyTotals> {
    const kept = this.kept.get(this.key(county));
    if (kept && (await this.currentAt(county, kept.seq))) return kept;
    const stored = await AudienceCountyTotalsModel.findById(county).lean<{ seq: number; packed: string }>();
    if (stored && stored.seq !== kept?.seq && (await this.currentAt(county, stored.seq))) {
      const totals = unpack(county, stored.seq, stored.packed);
      this.kept.set(this.key(county), totals);
      return totals;
    }
    const totals = bucketsOf(await current());
    await AudienceCountyTotalsModel.replaceOne(
      { _id: county },
      { seq: totals.seq, packed: pack(totals) },
      { upsert: true },
    ).catch(
      () => undefined, // two readers upserting a missing one at once: the other's is as good
    );
    this.kept.set(this.key(county), totals);
    return totals;
  }

  /**
   * The totals of `counties`, current at the call. Call only with no write in flight (no open
   * intent read just before): the token read here then covers every finished write.
   */
  async all(counties: string[], current: (county: string) => Promise<CountyDigest>): Promise<CountyTotals[]> {
    const token = await readWriteToken();
    const unverified = () => counties.filter((county) => this.verified.get(this.key(county)) !== token);
    if (unverified().length) {
      // A few counties (a county's call, a small city's in a warm process) are checked directly:
      // cheaper than the whole province's summary.
      const lookups = unverified().reduce((sum, county) => sum + (this.kept.has(this.key(county)) ? 1 : 2), 0);
      const stored =
        lookups > CHECK_DIRECTLY
          ? await AudienceTotalsSummaryModel.findById(SUMMARY).lean<{ token: string; counties: string }>()
          : undefined;
      const entries = stored ? unpackSummary(stored.counties) : [];
      for (const totals of entries) {
        if (stored!.token === token) {
          this.kept.set(this.key(totals.county), totals);
          this.verified.set(this.key(totals.county), token);
        } else if ((this.kept.get(this.key(totals.county))?.seq ?? -1) < totals.seq) {
          // Older than the token: only a starting point, checked against the log below.
          this.kept.set(this.key(totals.county), totals);
        }
      }
      const checked = unverified();
      if (checked.length) {
        await mapLimit(checked, 8, async (county) => {
          await this.of(county, () => current(county));
          this.verified.set(this.key(county), token);
        });
        // Saved when it covers at least what the stored summary covers (a county's call after a
        // write does not shrink the province's summary to its county).
        const covered = new Set(counties);
        if (stored === null || (stored && entries.every((totals) => covered.has(totals.county)))) {
          const all = counties.map((county) => this.kept.get(this.key(county))!);
          await AudienceTotalsSummaryModel.replaceOne(
            { _id: SUMMARY },
            { token, counties: packSummary(all) },
            { upsert: true },
          ).catch(() => undefined); // two savers at once: the other's is as good
        }
      }
    }
    return counties.map((county) => this.kept.get(this.key(county))!);
  }

  /** Forgets this process's copies (tests: a fresh process). */
  forget(): void {
    this.kept.clear();
    this.verified.clear();
  }
}

export const countyTotals = new CountyTotalsSource();

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
// - A county whose groups the selection judges one by one (a township, village or group of it
//   named, a radius, a scope below the county) or any write in flight (an open intent) is
//   summed from its digest rows as before (totals.ts `totalsOf`).
import mongoose from 'mongoose';
import { mapLimit } from '../lib/concurrency.js';
import { GROUP_CHANNELS, type GroupChannel } from './model.js';
import { AudienceChangeModel, type CountyDigest } from './read-model.js';
import type { AudienceTotals, ChannelTotals, CountyEntry, Selection } from './totals.js';

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

function pack(totals: CountyTotals): string {
  const packed: Packed = {
    t: totals.townships,
    v: totals.villages,
    b: totals.buckets.map((b) => [b.tags, b.kind, b.groups, b.members, b.villages]),
  };
  return JSON.stringify(packed);
}

function unpack(county: string, seq: number, text: string): CountyTotals {
  const packed = JSON.parse(text) as Packed;
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
 * The counties' totals, each current with its change log: this process's copy or the stored
 * document while record seq+1 is absent (one `_id` lookup per county), else bucketed from the
 * digest brought up to date by `current` and stored.
 */
export class CountyTotalsSource {
  /** Per database and county, the totals this process last used (only ever used after the seq check). */
  private readonly kept = new Map<string, CountyTotals>();

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

  /** Eight counties at a time. */
  all(counties: string[], current: (county: string) => Promise<CountyDigest>): Promise<CountyTotals[]> {
    return mapLimit(counties, 8, (county) => this.of(county, () => current(county)));
  }

  /** Forgets this process's copies (tests: a fresh process). */
  forget(): void {
    this.kept.clear();
  }
}

export const countyTotals = new CountyTotalsSource();

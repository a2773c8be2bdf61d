// The values (groups, villages) that more than one county index numbers: a group that moved
// county, whose deliveries before and after the move sit in two counties' bitmaps. A distinct
// figure across counties is then the sum of each county's popcount less the repeats of these
// few values (tally.ts), instead of a union of every group and village the counties name: the
// province admin's 30-day report named about 50,000 group ids per day row at 50,000 groups.
//
// Kept per process, from the county indexes the reports read (county-index.ts keeps those
// while their stored lengths are unchanged): indexes are append-only, so only the values an
// index numbers beyond what was seen are looked at (a new generation of an index, after the
// database was emptied, starts this over). Read-only over the database, nothing to repair
// after a crash. Listing a value whose position no bitmap holds is harmless (it counts in no
// county); every value of the indexes a report is given is listed before its figures are made.
import type { CountyIndex } from './county-index.js';

/** Where a repeated value sits: one entry per county index numbering it. */
export type Places = ReadonlyArray<{ county: string; at: number }>;

/** Positions below 2^22 per county (a county numbers far fewer groups). */
const SLOT = 2 ** 22;

class Repeats {
  private readonly counties: string[] = [];
  private readonly slots = new Map<string, number>();
  /** Each value's first place, packed as slot × SLOT + position. */
  private readonly first = new Map<string, number>();
  /** Values numbered by two or more counties, with every place. */
  readonly shared = new Map<string, Array<{ county: string; at: number }>>();

  add(county: string, values: readonly string[], from: number): void {
    let slot = this.slots.get(county);
    if (slot === undefined) {
      slot = this.counties.length;
      this.counties.push(county);
      this.slots.set(county, slot);
    }
    for (let at = from; at < values.length; at++) {
      const value = values[at]!;
      const before = this.first.get(value);
      if (before === undefined) {
        this.first.set(value, slot * SLOT + at);
        continue;
      }
      let places = this.shared.get(value);
      if (!places) {
        places = [{ county: this.counties[Math.floor(before / SLOT)]!, at: before % SLOT }];
        this.shared.set(value, places);
      }
      places.push({ county, at });
    }
  }
}

let groups = new Repeats();
let villages = new Repeats();
/** Per county: the generation and how many groups and villages have been added. */
let seen = new Map<string, { generation: string; groups: number; villages: number }>();

/** The repeated values among these counties' indexes (and any other this process has seen). */
export interface CrossCounty {
  counties: ReadonlySet<string>;
  groups: ReadonlyMap<string, Places>;
  villages: ReadonlyMap<string, Places>;
}

/** Notes what these indexes number beyond what was seen, then gives the repeated values. */
export function crossCounty(indexes: ReadonlyMap<string, CountyIndex>): CrossCounty {
  const generationChanged = [...indexes].some(([county, index]) => {
    const known = seen.get(county);
    return known !== undefined && known.generation !== index.generationId;
  });
  if (generationChanged) {
    groups = new Repeats();
    villages = new Repeats();
    seen = new Map();
  }
  for (const [county, index] of indexes) {
    const known = seen.get(county) ?? { generation: index.generationId, groups: 0, villages: 0 };
    const numbered = { groups: index.numbered('groups'), villages: index.numbered('villages') };
    groups.add(county, numbered.groups, known.groups);
    villages.add(county, numbered.villages, known.villages);
    seen.set(county, {
      generation: index.generationId,
      groups: Math.max(known.groups, numbered.groups.length),
      villages: Math.max(known.villages, numbered.villages.length),
    });
  }
  return { counties: new Set(indexes.keys()), groups: groups.shared, villages: villages.shared };
}

/** Tests: forget every index seen (a test that empties the database keeps its process). */
export function forgetCrossCounty(): void {
  groups = new Repeats();
  villages = new Repeats();
  seen = new Map();
}

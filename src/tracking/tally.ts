// Adds up entries of the statistics into one row's figures. Counts are sums; groups and
// villages reached are unions: within a county a bitmap OR, across counties the sum of each
// county's count less the repeats of the values several county indexes number
// (cross-county.ts: a group that moved between counties counts once).

import type { ChannelMessages } from './contribution.js';
import { addCounts, type Counts, zeroCounts } from './counts.js';
import type { CrossCounty, Places } from './cross-county.js';
import { addChannels, type Reach } from './packed.js';
import type { ReachSet } from './reach-set.js';

export interface ReachFigures {
  deliveries: number;
  /** Messages that reached a group: sent by a robot or confirmed by the officer. */
  messages: number;
  sent: number;
  confirmed: number;
  awaiting: number;
  failed: number;
  uncertain: number;
  skipped: number;
  pending: number;
  groupsReached: number;
  villagesReached: number;
  personTimes: number;
  /** Messages per channel kind (every channel delivered by, 0 when none reached); sums to `messages`. */
  channels: ChannelMessages;
}

export function figuresOf(
  counts: Counts,
  groups: number,
  villages: number,
  channels: ChannelMessages = {},
): ReachFigures {
  return {
    channels,
    deliveries: counts.total,
    messages: counts.sent + counts.confirmed,
    sent: counts.sent,
    confirmed: counts.confirmed,
    awaiting: counts.awaiting,
    failed: counts.failed,
    uncertain: counts.uncertain,
    skipped: counts.skipped,
    pending: counts.pending,
    groupsReached: groups,
    villagesReached: villages,
    personTimes: counts.reachedMembers,
  };
}

interface CountySets {
  groups: ReachSet;
  villages: ReachSet;
  /** False while the sets are the first entry's own (copied before anything is added to them). */
  owned: boolean;
}

export class Tally {
  private readonly counts = zeroCounts();
  private readonly channels: ChannelMessages = {};
  private readonly reached = new Map<string, CountySets>();

  add(countyCode: string, reach: Reach): void {
    addCounts(this.counts, reach.counts);
    addChannels(this.channels, reach.channels);
    const sets = this.reached.get(countyCode);
    if (!sets) {
      // Most rows of the common report are one cell: no copy until a second one comes.
      this.reached.set(countyCode, { groups: reach.groups, villages: reach.villages, owned: false });
      return;
    }
    if (!sets.owned) {
      sets.groups = sets.groups.copy();
      sets.villages = sets.villages.copy();
      sets.owned = true;
    }
    sets.groups.addAll(reach.groups);
    sets.villages.addAll(reach.villages);
  }

  get counties(): string[] {
    return [...this.reached.keys()];
  }

  /**
   * `cross` must cover every county of this tally when it spans more than one: each
   * county's popcount, less the repeats of the values several counties number (a group
   * counted in two counties counts once). Work: the counties' bitmaps and the few repeated
   * values, never a list of the groups reached.
   */
  figures(cross: CrossCounty | null): ReachFigures {
    if (this.reached.size <= 1) {
      const [sets] = this.reached.values();
      return figuresOf(this.counts, sets?.groups.size ?? 0, sets?.villages.size ?? 0, this.channels);
    }
    if (!cross) throw new Error('county indexes not loaded');
    let groups = 0;
    let villages = 0;
    for (const [county, sets] of this.reached) {
      if (!cross.counties.has(county)) throw new Error(`county index ${county} not loaded`);
      groups += sets.groups.size;
      villages += sets.villages.size;
    }
    groups -= this.repeats(cross.groups, 'groups');
    villages -= this.repeats(cross.villages, 'villages');
    return figuresOf(this.counts, groups, villages, this.channels);
  }

  /** How many times values counted in more than one of this tally's counties were counted again. */
  private repeats(shared: ReadonlyMap<string, Places>, kind: 'groups' | 'villages'): number {
    let again = 0;
    for (const places of shared.values()) {
      let counted = 0;
      for (const { county, at } of places) if (this.reached.get(county)?.[kind].has(at)) counted += 1;
      if (counted > 1) again += counted - 1;
    }
    return again;
  }
}

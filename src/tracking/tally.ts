// Adds up entries of the statistics into one row's figures. Counts are sums; groups and
// villages reached are unions: within a county a bitmap OR, across counties a union of the
// ids the county indexes name (a group that moved between counties counts once).
import type { CountyIndex } from './county-index.js';
import { type Counts, addCounts, zeroCounts } from './counts.js';
import type { ChannelMessages } from './contribution.js';
import { type Reach, addChannels } from './packed.js';
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

export function figuresOf(counts: Counts, groups: number, villages: number, channels: ChannelMessages = {}): ReachFigures {
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

  /** `indexes` must hold every county of this tally when it spans more than one. */
  figures(indexes: ReadonlyMap<string, CountyIndex>): ReachFigures {
    if (this.reached.size <= 1) {
      const [sets] = this.reached.values();
      return figuresOf(this.counts, sets?.groups.size ?? 0, sets?.villages.size ?? 0, this.channels);
    }
    const groups = new Set<string>();
    const villages = new Set<string>();
    for (const [county, sets] of this.reached) {
      const index = indexes.get(county);
      if (!index) throw new Error(`county index ${county} not loaded`);
      for (const id of index.groupIds(sets.groups)) groups.add(id);
      for (const code of index.villageCodes(sets.villages)) villages.add(code);
    }
    return figuresOf(this.counts, groups.size, villages.size, this.channels);
  }
}

// Figures across counties from popcounts less the repeated values (tracking/cross-county.ts,
// tally.ts), checked against a union of the ids themselves: while indexes grow (a group that
// moves after a process first read the indexes) and after an index of a new generation (the
// database emptied under a running process).
import { beforeEach, describe, expect, it } from 'vitest';
import { zeroCounts } from '../../src/tracking/counts.js';
import { CountyIndex } from '../../src/tracking/county-index.js';
import { crossCounty, forgetCrossCounty } from '../../src/tracking/cross-county.js';
import { Tally } from '../../src/tracking/tally.js';

type Reached = Array<{ county: string; groups: string[]; villages: string[] }>;

/** Numbers each county's reached values in its index, then tallies them. */
function tallyOf(indexes: Map<string, CountyIndex>, reached: Reached): Tally {
  const tally = new Tally();
  for (const { county, groups, villages } of reached) {
    const index = indexes.get(county)!;
    const sets = index.setsOf({ groups, villages }, { groups, villages });
    tally.add(county, { counts: zeroCounts(), channels: {}, ...sets });
  }
  return tally;
}

const union = (reached: Reached, kind: 'groups' | 'villages') => new Set(reached.flatMap((r) => r[kind])).size;

describe('figures across counties', () => {
  beforeEach(() => forgetCrossCounty());

  it('counts a value several counties number once, as indexes grow and after a new generation', () => {
    const indexes = new Map(['a', 'b', 'c'].map((county) => [county, new CountyIndex(county)]));
    const first: Reached = [
      { county: 'a', groups: ['g1', 'g2', 'g3'], villages: ['v1'] },
      { county: 'b', groups: ['g4', 'g1'], villages: ['v2', 'v1'] },
    ];
    let tally = tallyOf(indexes, first);
    let figures = tally.figures(crossCounty(indexes));
    expect([figures.groupsReached, figures.villagesReached]).toEqual([
      union(first, 'groups'),
      union(first, 'villages'),
    ]);

    // The indexes grow after this process listed them: g2 and g4 reached in c, g1 in all three.
    const later: Reached = [
      ...first,
      { county: 'c', groups: ['g2', 'g4', 'g1', 'g9'], villages: ['v9'] },
      { county: 'a', groups: ['g4'], villages: ['v2'] },
    ];
    tally = tallyOf(indexes, later);
    figures = tally.figures(crossCounty(indexes));
    expect([figures.groupsReached, figures.villagesReached]).toEqual([
      union(later, 'groups'),
      union(later, 'villages'),
    ]);
    expect(figures.groupsReached).toBe(5);

    // The database emptied: new indexes (new generations) number the same ids differently.
    const fresh = new Map(['a', 'b'].map((county) => [county, new CountyIndex(county)]));
    // Old positions would pair a:0 with b:1 here (g1 and v1 before): two values, no repeat.
    const again: Reached = [
      { county: 'a', groups: ['g1'], villages: ['v3'] },
      { county: 'b', groups: ['g5', 'g6'], villages: ['v4', 'v5'] },
    ];
    tally = tallyOf(fresh, again);
    figures = tally.figures(crossCounty(fresh));
    expect([figures.groupsReached, figures.villagesReached]).toEqual([3, 3]);
  });

  it('refuses a tally over counties whose indexes were not given', () => {
    const indexes = new Map(['a', 'b'].map((county) => [county, new CountyIndex(county)]));
    const tally = tallyOf(indexes, [
      { county: 'a', groups: ['g1'], villages: [] },
      { county: 'b', groups: ['g2'], villages: [] },
    ]);
    expect(() => tally.figures(crossCounty(new Map([['a', indexes.get('a')!]])))).toThrow(/county index b/);
  });
});

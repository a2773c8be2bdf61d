// Reached sets as bitmaps over a county index: unions and distinct counts must be exact
// whatever the order and position of their members, and survive their packed form.
import { describe, expect, it } from 'vitest';
import { zeroCounts } from '../../src/tracking/counts.js';
import { packCells, packParts, sumOf, unpackCells, unpackParts } from '../../src/tracking/packed.js';
import { ReachSet } from '../../src/tracking/reach-set.js';

const setOf = (...indices: number[]) => ReachSet.of(indices);
const roundTrip = (set: ReachSet) => ReachSet.decode(set.encode());

describe('reach sets', () => {
  it('counts distinct members and lists them in order after a round trip through its code', () => {
    const set = setOf(900, 3, 17, 3, 64);
    expect(set.size).toBe(4);
    expect(roundTrip(set).indices()).toEqual([3, 17, 64, 900]);
    expect(roundTrip(ReachSet.empty()).size).toBe(0);
    expect(ReachSet.empty().encode()).toBe('');
  });

  it('keeps only the runs of bytes that hold members in its code', () => {
    const byte = (...bits: number[]) => Buffer.from(bits).toString('base64url');
    expect(setOf(8000, 8001, 8007).encode()).toBe(`1000:${byte(0b1000_0011)}`);
    // Close members share a run; a member far away starts another.
    expect(setOf(0, 8 * 5, 8 * 500).encode()).toBe(`0:${byte(1, 0, 0, 0, 0, 1)},500:${byte(1)}`);
    expect(roundTrip(setOf(0, 40, 4000, 4001, 9999)).indices()).toEqual([0, 40, 4000, 4001, 9999]);
  });

  it('unions sets that lie before, after, inside or apart from each other exactly', () => {
    const random = (seed: number) => Array.from({ length: 40 }, (_, i) => (seed * 7919 + i * 104729) % 700);
    const cases = [
      [setOf(1, 2, 3), setOf(500, 501)],
      [setOf(500, 501), setOf(1, 2, 3)],
      [setOf(0, 700), setOf(300, 301)],
      [setOf(), setOf(5)],
      [setOf(5), setOf()],
      [ReachSet.of(random(1)), ReachSet.of(random(2))],
    ] as const;
    for (const [a, b] of cases) {
      const expected = [...new Set([...a.indices(), ...b.indices()])].sort((x, y) => x - y);
      const union = ReachSet.empty();
      union.addAll(a);
      union.addAll(b);
      expect(union.indices()).toEqual(expected);
      expect(roundTrip(union).size).toBe(expected.length);
    }
  });

  it('does not change a set that was added to another or copied', () => {
    for (const a of [setOf(1, 2), roundTrip(setOf(1, 2))]) {
      const union = ReachSet.empty();
      union.addAll(a);
      union.addAll(setOf(3, 9));
      const copy = a.copy();
      copy.addAll(setOf(0));
      expect(a.indices()).toEqual([1, 2]);
      expect(union.indices()).toEqual([1, 2, 3, 9]);
    }
  });

  it('refuses a code that is not a reach set', () => {
    expect(() => ReachSet.decode('abc')).toThrow(/not a reach set/);
  });
});

describe('packed parts and cells', () => {
  const counts = { ...zeroCounts(), total: 5, sent: 3, failed: 2, reachedMembers: 123 };

  it('reads back the parts and cells it packed', () => {
    const part = {
      batchId: 'occ|440106001|0',
      day: '2024-03-05',
      campaignId: 'c1',
      counts,
      channels: { wecom: 2, manual: 1, wecom_group: 0 },
      groups: setOf(1, 2),
      villages: setOf(0),
    };
    const [back] = unpackParts(packParts([part]));
    expect({ ...back, groups: back!.groups.indices(), villages: back!.villages.indices() }).toEqual({
      ...part,
      groups: [1, 2],
      villages: [0],
    });
    const cell = (month: string, townshipCode: string, category: string) => ({
      month,
      townshipCode,
      category,
      counts,
      channels: { dingtalk: 3 },
      groups: setOf(9),
      villages: setOf(),
    });
    const cells = [
      cell('2024-01', '440106001', 'anti_fraud'),
      cell('2024-02', '440106001', 'anti_theft'),
      cell('2024-02', '440106002', 'anti_fraud'),
    ];
    const backCells = unpackCells(packCells(cells));
    expect(backCells.map((c) => [c.month, c.townshipCode, c.category])).toEqual(
      cells.map((c) => [c.month, c.townshipCode, c.category]),
    );
    expect(backCells[1]!.counts).toEqual(counts);
    expect(backCells[1]!.channels).toEqual({ dingtalk: 3 });
    expect(backCells[2]!.groups.indices()).toEqual([9]);
  });

  it('reads a document of an older layout as empty', () => {
    expect(unpackParts([{ batchId: 'x' }])).toEqual([]);
    expect(unpackCells(undefined)).toEqual([]);
  });

  it('sums counts and unites reached sets', () => {
    const total = sumOf([
      { counts, channels: { wecom: 2, manual: 1 }, groups: setOf(1, 2), villages: setOf(0) },
      { counts, channels: { wecom: 1, wecom_group: 2 }, groups: setOf(2, 3), villages: setOf(0) },
    ]);
    expect(total.channels).toEqual({ wecom: 3, manual: 1, wecom_group: 2 });
    expect(total.counts.total).toBe(10);
    expect(total.counts.reachedMembers).toBe(246);
    expect(total.groups.size).toBe(3);
    expect(total.villages.size).toBe(1);
  });
});

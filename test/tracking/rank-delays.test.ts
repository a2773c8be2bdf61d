// The rankings' packed delays (tracking/rank-delays.ts): what is packed is unpacked the same,
// small and large values, repeats and the empty list; a legacy seconds → count object reads as
// the same list; merging and the median agree with sorting every delay.
import { describe, expect, it } from 'vitest';
import { delaysOf, medianOf, mergeDelays, packDelays, unpackDelays } from '../../src/tracking/rank-delays.js';

describe('packed confirmation delays', () => {
  it('unpacks what it packs, from 0 to years, with repeats', () => {
    const values = [0, 0, 1, 31, 32, 33, 1023, 1024, 21_599, 21_600, 86_400, 2_000_000, 99_999_999, 99_999_999];
    expect(unpackDelays(packDelays(values))).toEqual(values);
    expect(packDelays([])).toBe('');
    expect(unpackDelays('')).toEqual([]);
    expect(packDelays([5, 36]).length).toBe(2); // differences under 32: one character each
    expect(packDelays([5, 37]).length).toBe(3); // 32: two
    expect(() => unpackDelays('a"b')).toThrow();
  });

  it('reads a legacy object as the same sorted list, merges and takes medians like a full sort', () => {
    expect(delaysOf({ '600': 2, '59': 1 })).toEqual([59, 600, 600]);
    let seed = 3;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * 30_000);
    };
    const lists = Array.from({ length: 6 }, (_, i) => Array.from({ length: 5 + i * 7 }, next).sort((a, b) => a - b));
    const legacy: Record<string, number> = {};
    for (const v of lists[0]!) legacy[v] = (legacy[v] ?? 0) + 1;
    const stored = [legacy, ...lists.slice(1).map(packDelays)];
    const all = lists.flat().sort((a, b) => a - b);
    expect(unpackDelays(mergeDelays(stored))).toEqual(all);
    const n = all.length;
    expect(medianOf(stored)).toBe(n % 2 ? all[(n - 1) / 2] : (all[n / 2 - 1]! + all[n / 2]!) / 2);
    expect(medianOf([packDelays(all.slice(0, 3))])).toBe(all[1]);
    expect(medianOf([])).toBeNull();
    expect(medianOf(['', {}])).toBeNull();
  });
});

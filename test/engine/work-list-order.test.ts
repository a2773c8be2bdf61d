// The order a worker tries the due batches in (issue 25 item 5: three workers contending on
// the same batches after every re-look was the likely cause of the 2.24x scaling ratio).
// Urgent batches first, then the normal ones, each kind from a random place on, wrapping around, at
// every look (the first look and each re-look), so workers reading the list at once do not all
// start with its first batch.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { spread } from '../../src/engine/worker.js';

const normal = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `n${i}`, urgent: false }));

describe('the order a worker tries the work list in', () => {
  afterEach(() => vi.restoreAllMocks());

  it('tries every urgent batch before any normal one, each kind from a random place', () => {
    const list = [{ id: 'u0', urgent: true }, { id: 'u1', urgent: true }, { id: 'u2', urgent: true }, ...normal(5)];
    for (const r of [0, 0.4, 0.99]) {
      vi.spyOn(Math, 'random').mockReturnValue(r);
      const order = spread(list);
      expect([...order.slice(0, 3)].sort()).toEqual(['u0', 'u1', 'u2']);
      expect([...order].sort()).toEqual(list.map((e) => e.id).sort());
    }
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    expect(spread(list)).toEqual(['u1', 'u2', 'u0', 'n2', 'n3', 'n4', 'n0', 'n1']);
  });

  it('starts the normal batches at a random place and wraps around, every batch once', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    expect(spread(normal(6))).toEqual(['n3', 'n4', 'n5', 'n0', 'n1', 'n2']);
  });

  it('gives three workers reading the same 32 entries different first batches', () => {
    const starts = new Set<string>();
    for (const r of [0.05, 0.4, 0.8]) {
      vi.spyOn(Math, 'random').mockReturnValue(r);
      starts.add(spread(normal(32))[0]!);
    }
    expect(starts.size).toBe(3);
  });

  it('keeps an empty list empty', () => {
    expect(spread([])).toEqual([]);
  });
});

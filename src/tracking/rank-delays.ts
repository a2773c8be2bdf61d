// The confirmation delays of a rankings cell (rank-tally.ts), packed: every confirmed task's
// delay in whole seconds, sorted, written as the differences between neighbours (the first
// from 0), each a little-endian run of 5-bit groups, one character of the URL-safe base64
// alphabet per group with 32 added while more groups follow. A difference under 32 s is one
// character, under 1,024 s two, under 9 hours three. A median needs every delay (any period's
// median is exact only from them all), so the province's 30 days read one per confirmation:
// packed, 2–3 bytes each instead of the 9–10 of a `{"<seconds>": count}` object, and decoded
// by a loop over characters instead of a Map per object key.
//
// Pure functions; a legacy object (seconds → count, written before the packing) is read too
// (`delaysOf`), so documents not yet converted by the one-time backfill answer the same.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

/** Packed delays, or the legacy seconds → count object. */
export type Delays = string | Record<string, number>;

/** `sorted` (whole seconds, ascending, ≥ 0) packed. */
export function packDelays(sorted: ArrayLike<number>): string {
  let out = '';
  let previous = 0;
  for (let i = 0; i < sorted.length; i++) {
    let rest = sorted[i]! - previous;
    previous = sorted[i]!;
    while (rest >= 32) {
      out += ALPHABET[(rest & 31) | 32];
      rest = Math.floor(rest / 32);
    }
    out += ALPHABET[rest];
  }
  return out;
}

/** The delays of `packed`, ascending, appended to `into`. */
export function unpackDelays(packed: string, into: number[] = []): number[] {
  let value = 0;
  let scale = 1;
  let previous = 0;
  for (let i = 0; i < packed.length; i++) {
    const digit = VALUE[packed.charCodeAt(i)]!;
    if (digit < 0) throw new Error(`not packed delays: ${packed.slice(0, 40)}`);
    value += (digit & 31) * scale;
    if (digit & 32) {
      scale *= 32;
      continue;
    }
    previous += value;
    into.push(previous);
    value = 0;
    scale = 1;
  }
  return into;
}

/** The delays of a cell, ascending, appended to `into` (packed or a legacy object). */
export function delaysOf(delays: Delays, into: number[] = []): number[] {
  if (typeof delays === 'string') return unpackDelays(delays, into);
  const start = into.length;
  for (const [seconds, count] of Object.entries(delays)) for (let i = 0; i < count; i++) into.push(Number(seconds));
  const added = into.slice(start).sort((a, b) => a - b);
  into.splice(start, added.length, ...added);
  return into;
}

/** Several cells' delays in one packed list. */
export function mergeDelays(lists: readonly Delays[]): string {
  if (lists.length === 1 && typeof lists[0] === 'string') return lists[0];
  const all: number[] = [];
  for (const list of lists) delaysOf(list, all);
  return packDelays(Float64Array.from(all).sort());
}

/** The median of several cells' delays in whole seconds (the mean of the two middle ones for an even count), null for none. */
export function medianOf(lists: readonly Delays[]): number | null {
  const all: number[] = [];
  for (const list of lists) delaysOf(list, all);
  const n = all.length;
  if (n === 0) return null;
  const sorted = lists.length === 1 ? all : Float64Array.from(all).sort();
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

// A set of reached groups (or villages) as a bitmap over a county's index (county-index.ts):
// unions are a byte-wise OR and distinct counts a popcount, so distinct figures stay exact
// however cells, parts and months are combined. Stored as `${firstByte}:${base64url}` with
// zero bytes trimmed at both ends; the index numbers a township's groups next to each other,
// so a cell's set is a few bytes.
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, n) => {
  let bits = 0;
  for (let v = n; v; v >>= 1) bits += v & 1;
  return bits;
});

export class ReachSet {
  private constructor(
    /** Byte position of `bytes[0]` in the whole bitmap. */
    private offset: number,
    private bytes: Uint8Array,
  ) {}

  static empty(): ReachSet {
    return new ReachSet(0, new Uint8Array(0));
  }

  static of(indices: Iterable<number>): ReachSet {
    const list = [...indices];
    if (list.length === 0) return ReachSet.empty();
    const first = Math.min(...list) >> 3;
    const bytes = new Uint8Array((Math.max(...list) >> 3) - first + 1);
    for (const i of list) bytes[(i >> 3) - first]! |= 1 << (i & 7);
    return new ReachSet(first, bytes);
  }

  static decode(code: string): ReachSet {
    if (!code) return ReachSet.empty();
    const colon = code.indexOf(':');
    const offset = Number(code.slice(0, colon));
    if (colon < 1 || !Number.isInteger(offset) || offset < 0) throw new Error(`not a reach set: ${code}`);
    return new ReachSet(offset, new Uint8Array(Buffer.from(code.slice(colon + 1), 'base64url')));
  }

  encode(): string {
    let start = 0;
    let end = this.bytes.length;
    while (start < end && this.bytes[start] === 0) start++;
    while (end > start && this.bytes[end - 1] === 0) end--;
    if (start === end) return '';
    return `${this.offset + start}:${Buffer.from(this.bytes.subarray(start, end)).toString('base64url')}`;
  }

  get size(): number {
    let n = 0;
    for (const byte of this.bytes) n += POPCOUNT[byte]!;
    return n;
  }

  /** Adds every member of `other` to this set. */
  addAll(other: ReachSet): void {
    if (other.bytes.length === 0) return;
    if (this.bytes.length === 0) {
      this.offset = other.offset;
      this.bytes = other.bytes.slice();
      return;
    }
    const start = Math.min(this.offset, other.offset);
    const end = Math.max(this.offset + this.bytes.length, other.offset + other.bytes.length);
    if (start !== this.offset || end !== this.offset + this.bytes.length) {
      const grown = new Uint8Array(end - start);
      grown.set(this.bytes, this.offset - start);
      this.offset = start;
      this.bytes = grown;
    }
    const shift = other.offset - this.offset;
    for (let i = 0; i < other.bytes.length; i++) this.bytes[shift + i]! |= other.bytes[i]!;
  }

  indices(): number[] {
    const out: number[] = [];
    this.bytes.forEach((byte, at) => {
      for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) out.push((this.offset + at) * 8 + bit);
    });
    return out;
  }
}

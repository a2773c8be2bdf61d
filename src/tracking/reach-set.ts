// A set of reached groups (or villages) as a bitmap over a county's index (county-index.ts):
// unions are a byte-wise OR and distinct counts a popcount, so distinct figures stay exact
// however cells, parts and months are combined. Stored as the runs of non-zero bytes,
// `${firstByte}:${base64url}` each, comma-separated (runs closer than GAP zero bytes are
// one run); the index numbers a township's groups next to each other, so a cell's set is
// usually one run of a few bytes, and a group added later costs one more run, not the gap.
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, n) => {
  let bits = 0;
  for (let v = n; v; v >>= 1) bits += v & 1;
  return bits;
});

/** Zero bytes that split a run: a new run costs about as many characters as 6 zero bytes. */
const GAP = 6;

function parseRun(run: string): { offset: number; bytes: Uint8Array } {
  const colon = run.indexOf(':');
  const offset = Number(run.slice(0, colon));
  if (colon < 1 || !Number.isInteger(offset) || offset < 0) throw new Error(`not a reach set: ${run}`);
  return { offset, bytes: Buffer.from(run.slice(colon + 1), 'base64url') };
}

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
    const runs = code.split(',').map(parseRun);
    if (runs.length === 1) return new ReachSet(runs[0]!.offset, runs[0]!.bytes);
    const start = runs[0]!.offset;
    const last = runs.at(-1)!;
    const bytes = new Uint8Array(last.offset + last.bytes.length - start);
    for (const run of runs) bytes.set(run.bytes, run.offset - start);
    return new ReachSet(start, bytes);
  }

  copy(): ReachSet {
    return new ReachSet(this.offset, new Uint8Array(this.bytes));
  }

  encode(): string {
    const runs: string[] = [];
    const bytes = this.bytes;
    for (let at = 0; at < bytes.length; ) {
      if (bytes[at] === 0) {
        at++;
        continue;
      }
      let last = at; // the run's last non-zero byte
      for (let i = at + 1; i < bytes.length && i - last <= GAP; i++) if (bytes[i] !== 0) last = i;
      runs.push(`${this.offset + at}:${Buffer.from(bytes.subarray(at, last + 1)).toString('base64url')}`);
      at = last + 1;
    }
    return runs.join(',');
  }

  get size(): number {
    let n = 0;
    for (const byte of this.bytes) n += POPCOUNT[byte]!;
    return n;
  }

  /** Whether `n` is a member. */
  has(n: number): boolean {
    const at = (n >> 3) - this.offset;
    return at >= 0 && at < this.bytes.length && (this.bytes[at]! & (1 << (n & 7))) !== 0;
  }

  /** Adds every member of `other` to this set. */
  addAll(other: ReachSet): void {
    if (other.bytes.length === 0) return;
    if (this.bytes.length === 0) {
      this.offset = other.offset;
      this.bytes = new Uint8Array(other.bytes); // a copy: other must not change with this
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

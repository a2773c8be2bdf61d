// What changed between two versions of a text, for the reviewer: lines kept, removed and
// added (longest common subsequence), and within a changed line the characters that changed.

export interface Piece {
  kind: 'same' | 'del' | 'add';
  text: string;
}

/** Longest-common-subsequence diff of two token lists. */
function lcs<T>(a: T[], b: T[]): { kind: Piece['kind']; item: T }[] {
  const n = a.length;
  const m = b.length;
  const table: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i]![j] = a[i] === b[j] ? table[i + 1]![j + 1]! + 1 : Math.max(table[i + 1]![j]!, table[i]![j + 1]!);
    }
  }
  const out: { kind: Piece['kind']; item: T }[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ kind: 'same', item: a[i]! });
      i++;
      j++;
    } else if (table[i + 1]![j]! >= table[i]![j + 1]!) out.push({ kind: 'del', item: a[i++]! });
    else out.push({ kind: 'add', item: b[j++]! });
  }
  while (i < n) out.push({ kind: 'del', item: a[i++]! });
  while (j < m) out.push({ kind: 'add', item: b[j++]! });
  return out;
}

/** Characters changed between two short texts, runs of one kind merged. */
export function diffChars(before: string, after: string): Piece[] {
  const a = [...before];
  const b = [...after];
  if (a.length * b.length > 400_000) {
    return [
      { kind: 'del', text: before },
      { kind: 'add', text: after },
    ];
  }
  const pieces: Piece[] = [];
  for (const { kind, item } of lcs(a, b)) {
    const last = pieces.at(-1);
    if (last?.kind === kind) last.text += item;
    else pieces.push({ kind, text: item });
  }
  return pieces;
}

export interface LineChange {
  kind: 'same' | 'del' | 'add' | 'changed';
  /** For a changed line: its characters, removed and added. */
  pieces: Piece[];
}

/** Lines of two texts: unchanged, removed, added, or changed (a removal followed by an addition). */
export function diffLines(before: string, after: string): LineChange[] {
  const steps = lcs(before.split('\n'), after.split('\n'));
  const out: LineChange[] = [];
  for (let k = 0; k < steps.length; k++) {
    const step = steps[k]!;
    const next = steps[k + 1];
    if (step.kind === 'del' && next?.kind === 'add') {
      out.push({ kind: 'changed', pieces: diffChars(step.item, next.item) });
      k++;
      continue;
    }
    out.push({ kind: step.kind, pieces: [{ kind: step.kind, text: step.item }] });
  }
  return out;
}

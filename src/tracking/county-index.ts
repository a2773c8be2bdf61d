// A county's numbering of the groups and villages its deliveries go to, so parts and cells
// can hold their reached sets as small bitmaps (reach-set.ts). Append-only: a number never
// changes meaning, so every bitmap ever written stays valid. A batch's whole audience (one
// township) is numbered when the batch is first seen, reached or not, so a township's
// groups get neighbouring numbers and its cells' bitmaps stay a few bytes. Written by the
// roll-up lease holder only, before any part or cell that uses a new number.
import { randomBytes } from 'node:crypto';
import { mapLimit } from '../lib/concurrency.js';
import { ReachSet } from './reach-set.js';
import { CountyIndexModel, ReachIndexLengthsModel } from './rollup-model.js';

interface Audience {
  groups: readonly string[];
  villages: readonly string[];
}

class Numbering {
  private readonly position = new Map<string, number>();

  constructor(readonly values: string[]) {
    values.forEach((value, i) => {
      this.position.set(value, i);
    });
  }

  /** The set of these values, numbering the new ones (in the order given) after the known ones. */
  setOf(values: Iterable<string>): { set: ReachSet; added: boolean } {
    let added = false;
    const numbers: number[] = [];
    for (const value of values) {
      let n = this.position.get(value);
      if (n === undefined) {
        n = this.values.length;
        this.values.push(value);
        this.position.set(value, n);
        added = true;
      }
      numbers.push(n);
    }
    return { set: ReachSet.of(numbers), added };
  }

  valuesOf(set: ReachSet): string[] {
    return set.indices().map((n) => this.values[n]!);
  }
}

export class CountyIndex {
  private readonly groups: Numbering;
  private readonly villages: Numbering;
  private changed = false;

  constructor(
    readonly countyCode: string,
    groups: string[] = [],
    villages: string[] = [],
    /** Whether the index is stored already (a new one is inserted, a known one replaced). */
    private stored = false,
    /**
     * Set when the index is first stored (random): a copy kept by a reader is of this index,
     * not of one stored again under the same county after the database was emptied. '' for
     * indexes stored by older code.
     */
    private generation = stored ? '' : randomBytes(6).toString('base64url'),
  ) {
    this.groups = new Numbering(groups);
    this.villages = new Numbering(villages);
  }

  /** The reached sets of a batch; numbers its audience first (sorted), so new groups sit side by side. */
  setsOf(reached: Audience, audience: Audience): { groups: ReachSet; villages: ReachSet } {
    const numbered = [
      this.groups.setOf([...audience.groups].sort()).added,
      this.villages.setOf([...audience.villages].sort()).added,
    ];
    const groups = this.groups.setOf(reached.groups);
    const villages = this.villages.setOf(reached.villages);
    this.changed ||= numbered.includes(true) || groups.added || villages.added;
    return { groups: groups.set, villages: villages.set };
  }

  groupIds(set: ReachSet): string[] {
    return this.groups.valuesOf(set);
  }

  villageCodes(set: ReachSet): string[] {
    return this.villages.valuesOf(set);
  }

  /** Every value this index numbers, in number order (read-only: the index appends to it). */
  numbered(kind: 'groups' | 'villages'): readonly string[] {
    return this[kind].values;
  }

  /** The index's generation (see the constructor): its numbers mean nothing to another generation. */
  get generationId(): string {
    return this.generation;
  }

  /** `${groups}/${villages}/${generation}`: how many of each this index numbers. */
  get length(): string {
    return `${this.groups.values.length}/${this.villages.values.length}/${this.generation}`;
  }

  get dirty(): boolean {
    return this.changed;
  }

  async save(): Promise<void> {
    if (!this.changed) return;
    const doc = {
      _id: this.countyCode,
      groups: JSON.stringify(this.groups.values),
      villages: JSON.stringify(this.villages.values),
      generation: this.generation,
    };
    if (this.stored) await CountyIndexModel.replaceOne({ _id: this.countyCode }, doc);
    else await CountyIndexModel.create(doc);
    this.stored = true;
    this.changed = false;
  }
}

const LOOKUPS_AT_ONCE = 8;

export async function loadCountyIndex(countyCode: string): Promise<CountyIndex> {
  const doc = await CountyIndexModel.findById(countyCode).lean();
  if (!doc) return new CountyIndex(countyCode);
  return new CountyIndex(countyCode, JSON.parse(doc.groups), JSON.parse(doc.villages), true, doc.generation ?? '');
}

/** The indexes of these counties, looked up by `_id`. */
export async function loadCountyIndexes(countyCodes: Iterable<string>): Promise<Map<string, CountyIndex>> {
  const codes = [...new Set(countyCodes)];
  const indexes = await mapLimit(codes, LOOKUPS_AT_ONCE, loadCountyIndex);
  return new Map(indexes.map((index) => [index.countyCode, index]));
}

const LENGTHS_ID = 'lengths';

function parseLengths(doc: { lengths?: string } | null): Record<string, string> {
  return doc?.lengths ? (JSON.parse(doc.lengths) as Record<string, string>) : {};
}

/** True when an index of length `have` numbers everything one of length `need` does (both `${groups}/${villages}/${generation}`). */
function covers(have: string, need: string): boolean {
  const [hg, hv, hgen] = have.split('/');
  const [ng, nv, ngen] = need.split('/');
  return (hgen ?? '') === (ngen ?? '') && Number(hg) >= Number(ng) && Number(hv) >= Number(nv);
}

/**
 * Fold side: records the lengths of these (just saved) indexes in the one lengths document.
 * Call after saving them and before writing anything that uses their new numbers.
 */
export async function saveIndexLengths(indexes: Iterable<CountyIndex>): Promise<void> {
  const doc = await ReachIndexLengthsModel.findById(LENGTHS_ID).lean();
  const lengths = parseLengths(doc);
  let changed = !doc;
  for (const index of indexes) {
    if (lengths[index.countyCode] === index.length) continue;
    lengths[index.countyCode] = index.length;
    changed = true;
  }
  if (!changed) return;
  const sorted = Object.fromEntries(Object.entries(lengths).sort(([a], [b]) => (a < b ? -1 : 1)));
  await ReachIndexLengthsModel.replaceOne(
    { _id: LENGTHS_ID },
    { _id: LENGTHS_ID, lengths: JSON.stringify(sorted) },
    { upsert: true },
  );
}

/** Backfill: the lengths of every stored index (an install whose indexes were saved by older code). */
export async function rebuildIndexLengths(): Promise<void> {
  const lengths: Record<string, string> = {};
  for await (const doc of CountyIndexModel.find({}).lean().cursor()) {
    const counted = [JSON.parse(doc.groups) as unknown[], JSON.parse(doc.villages) as unknown[]];
    lengths[doc._id] = `${counted[0]!.length}/${counted[1]!.length}/${doc.generation ?? ''}`;
  }
  await ReachIndexLengthsModel.replaceOne(
    { _id: LENGTHS_ID },
    { _id: LENGTHS_ID, lengths: JSON.stringify(lengths) },
    { upsert: true },
  );
}

/** The indexes this process has read, kept while their stored length is unchanged (they only grow). */
const kept = new Map<string, CountyIndex>();

/**
 * Read side: the indexes of these counties, from this process's copies where the lengths
 * document says they are complete, the others (and any county it does not list) by `_id`.
 * Read the lengths AFTER the cells or parts whose numbers they name: the fold writes an
 * index and its length before any cell that uses its new numbers.
 */
export async function countyIndexesFor(countyCodes: Iterable<string>): Promise<Map<string, CountyIndex>> {
  const codes = [...new Set(countyCodes)];
  const lengths = parseLengths(await ReachIndexLengthsModel.findById(LENGTHS_ID).lean());
  const stale = codes.filter((code) => {
    const copy = kept.get(code);
    return !copy || !lengths[code] || !covers(copy.length, lengths[code]!);
  });
  const read = await loadCountyIndexes(stale);
  for (const [code, index] of read) if (lengths[code]) kept.set(code, index);
  return new Map(codes.map((code) => [code, read.get(code) ?? kept.get(code)!]));
}

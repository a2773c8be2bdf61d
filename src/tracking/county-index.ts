// A county's numbering of the groups and villages its deliveries go to, so parts and cells
// can hold their reached sets as small bitmaps (reach-set.ts). Append-only: a number never
// changes meaning, so every bitmap ever written stays valid. A batch's whole audience (one
// township) is numbered when the batch is first seen, reached or not, so a township's
// groups get neighbouring numbers and its cells' bitmaps stay a few bytes. Written by the
// roll-up lease holder only, before any part or cell that uses a new number.
import { mapLimit } from '../lib/concurrency.js';
import { CountyIndexModel } from './rollup-model.js';
import { ReachSet } from './reach-set.js';

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

  get dirty(): boolean {
    return this.changed;
  }

  async save(): Promise<void> {
    if (!this.changed) return;
    const doc = {
      _id: this.countyCode,
      groups: JSON.stringify(this.groups.values),
      villages: JSON.stringify(this.villages.values),
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
  return new CountyIndex(countyCode, JSON.parse(doc.groups), JSON.parse(doc.villages), true);
}

/** The indexes of these counties, looked up by `_id`. */
export async function loadCountyIndexes(countyCodes: Iterable<string>): Promise<Map<string, CountyIndex>> {
  const codes = [...new Set(countyCodes)];
  const indexes = await mapLimit(codes, LOOKUPS_AT_ONCE, loadCountyIndex);
  return new Map(indexes.map((index) => [index.countyCode, index]));
}

// The packed form of a ledger's parts and a county-year's cells: one JSON string per
// document (FerretDB decodes one string far faster than as many sub-documents, and its cost
// then follows the string's length; see rollup-model.ts). Each entry is an array: its keys,
// the counts in COUNT_KEYS order, the reached groups and villages as encoded ReachSets, then
// the messages per channel ({"wecom": 12, "manual": 3}, layout 3). A cell's keys (month, township, category) are positions in lists kept once
// per document, which halves a county-year's size.
import type { ChannelMessages } from './contribution.js';
import { COUNT_KEYS, type Counts, addCounts, zeroCounts } from './counts.js';
import { ReachSet } from './reach-set.js';

export interface Reach {
  counts: Counts;
  /** Messages (sent + confirmed) per channel kind; sums to counts.sent + counts.confirmed. */
  channels: ChannelMessages;
  groups: ReachSet;
  villages: ReachSet;
}

/** One batch's share of a bucket (month × township × category). */
export interface Part extends Reach {
  batchId: string;
  day: string;
  campaignId: string;
}

/** One month × township × category of a county-year: the sum of its bucket's parts. */
export interface Cell extends Reach {
  month: string;
  townshipCode: string;
  category: string;
}

/** Cells as stored: the distinct keys once, each cell naming them by position. */
interface PackedCells {
  months: string[];
  townships: string[];
  categories: string[];
  cells: Packed[];
}

type Packed = Array<string | number | ChannelMessages>;

function packReach(keys: Array<string | number>, reach: Reach): Packed {
  return [
    ...keys,
    ...COUNT_KEYS.map((key) => reach.counts[key]),
    reach.groups.encode(),
    reach.villages.encode(),
    reach.channels,
  ];
}

function unpackReach(entry: Packed, keyCount: number): { keys: string[]; reach: Reach } {
  const counts = zeroCounts();
  COUNT_KEYS.forEach((key, i) => {
    counts[key] = Number(entry[keyCount + i]);
  });
  const sets = keyCount + COUNT_KEYS.length;
  return {
    keys: entry.slice(0, keyCount).map(String),
    reach: {
      counts,
      channels: { ...(entry[sets + 2] as ChannelMessages | undefined) },
      groups: ReachSet.decode(String(entry[sets])),
      villages: ReachSet.decode(String(entry[sets + 1])),
    },
  };
}

function unpackAll(packed: unknown): Packed[] {
  // A document of an older layout holds something else: read as empty, the rebuild that a
  // layout change triggers (rollups.ts, sweep) rewrites it.
  if (typeof packed !== 'string' || packed === '') return [];
  return JSON.parse(packed) as Packed[];
}

export function packParts(parts: Part[]): string {
  return JSON.stringify(parts.map((p) => packReach([p.batchId, p.day, p.campaignId], p)));
}

export function unpackParts(packed: unknown): Part[] {
  return unpackAll(packed).map((entry) => {
    const { keys, reach } = unpackReach(entry, 3);
    return { batchId: keys[0]!, day: keys[1]!, campaignId: keys[2]!, ...reach };
  });
}

export function packCells(cells: Cell[]): string {
  const lists = {
    months: new Map<string, number>(),
    townships: new Map<string, number>(),
    categories: new Map<string, number>(),
  };
  const at = (list: Map<string, number>, key: string) => {
    if (!list.has(key)) list.set(key, list.size);
    return list.get(key)!;
  };
  const packed = cells.map((c) => {
    const keys = [at(lists.months, c.month), at(lists.townships, c.townshipCode), at(lists.categories, c.category)];
    return packReach(keys, c);
  });
  const doc: PackedCells = {
    months: [...lists.months.keys()],
    townships: [...lists.townships.keys()],
    categories: [...lists.categories.keys()],
    cells: packed,
  };
  return JSON.stringify(doc);
}

export function unpackCells(packed: unknown): Cell[] {
  // A document of an older layout holds something else: read as empty (see unpackAll).
  if (typeof packed !== 'string' || !packed.startsWith('{')) return [];
  const doc = JSON.parse(packed) as PackedCells;
  return doc.cells.map((entry) => {
    const { keys, reach } = unpackReach(entry, 3);
    return {
      month: doc.months[Number(keys[0])]!,
      townshipCode: doc.townships[Number(keys[1])]!,
      category: doc.categories[Number(keys[2])]!,
      ...reach,
    };
  });
}

/** A county-year's cells with their counts only (the reached sets left encoded, never decoded). */
export function unpackCellCounts(
  packed: unknown,
): { month: string; townshipCode: string; category: string; counts: Counts }[] {
  if (typeof packed !== 'string' || !packed.startsWith('{')) return [];
  const doc = JSON.parse(packed) as PackedCells;
  return doc.cells.map((entry) => {
    const counts = zeroCounts();
    COUNT_KEYS.forEach((key, i) => {
      counts[key] = Number(entry[3 + i]);
    });
    return {
      month: doc.months[Number(entry[0])]!,
      townshipCode: doc.townships[Number(entry[1])]!,
      category: doc.categories[Number(entry[2])]!,
      counts,
    };
  });
}

/** Sums of the counts, unions of the reached sets (all of one county's index). */
export function sumOf(reaches: Iterable<Reach>): Reach {
  const total: Reach = { counts: zeroCounts(), channels: {}, groups: ReachSet.empty(), villages: ReachSet.empty() };
  for (const reach of reaches) {
    addCounts(total.counts, reach.counts);
    addChannels(total.channels, reach.channels);
    total.groups.addAll(reach.groups);
    total.villages.addAll(reach.villages);
  }
  return total;
}

export function addChannels(into: ChannelMessages, more: ChannelMessages): void {
  for (const channel in more) into[channel] = (into[channel] ?? 0) + more[channel]!;
}

// The fixed part of a batch's deliveries, packed beside the batch (issue 25 item 5).
//
// A delivery's group snapshot (name, robot, sealed credentials, village, township and
// officer names, the group it follows) never changes after planning, yet it made most of a
// batch document, which its worker rewrites at every checkpoint (FerretDB re-encodes the
// whole document, its cost following the number of fields). Batches planned since are
// written in two parts:
//
// - the batch document keeps per item only what changes or what the statistics and counts
//   read on every write: groupId, channel, memberCount, villageCode, status, attempts,
//   nextAt, lastError, sentAt;
// - one packed document per batch (`deliverybatchfixed`, `_id` = the batch's `fixedId`)
//   holds the rest as one JSON string: an array per item, in the items' order, starting with
//   its groupId. It is written once, before its batch, and read once when a worker takes the
//   batch, or by a reader that shows names (deliveries list, exports, follow-up recipients).
//
// Batches written before (no `fixedId`) keep every field in their items and are read and
// written as they are: `withFixedItems` returns them unchanged.
import mongoose from 'mongoose';
import type { BatchItem } from './model.js';

/** The fields written once at planning, in their packed order (after the groupId). */
export const FIXED_FIELDS = [
  'groupName',
  'robotKey',
  'credentialsSealed',
  'villageName',
  'townshipName',
  'officerName',
  'officerPhone',
  'via',
] as const;
type FixedField = (typeof FIXED_FIELDS)[number];
const FIXED = new Set<string>(FIXED_FIELDS);

const fixedSchema = new mongoose.Schema(
  {
    /** `${batchId}#${planning epoch}`: a planner that lost its part to another writes its own. */
    _id: { type: String, required: true },
    /** JSON: one array per item, `[groupId, ...FIXED_FIELDS]`. */
    packed: { type: String, required: true },
  },
  { versionKey: false },
);

export const BatchFixedModel = mongoose.model('DeliveryBatchFixed', fixedSchema, 'deliverybatchfixed');

type Packed = [string, ...unknown[]];

/** The packed fixed part of these items. */
export function packFixed(items: readonly ({ groupId: string } & { [field in FixedField]?: unknown })[]): string {
  return JSON.stringify(items.map((item) => [item.groupId, ...FIXED_FIELDS.map((field) => item[field] ?? null)]));
}

/** What the batch document keeps of each item (the packed layout): no fixed field. */
export function hotItems<T extends Partial<BatchItem>>(items: readonly T[]): T[] {
  return items.map((item) => {
    const hot: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(item)) if (!FIXED.has(key)) hot[key] = value;
    return hot as T;
  });
}

/** The items with their fixed fields filled in from the packed part (matched by groupId). */
export function mergeFixed<T extends { groupId: string }>(items: readonly T[], packed: string): (T & Partial<BatchItem>)[] {
  const rows = JSON.parse(packed) as Packed[];
  const byGroup = new Map(rows.map((row) => [row[0], row] as const));
  return items.map((item, i) => {
    const row = rows[i]?.[0] === item.groupId ? rows[i]! : byGroup.get(item.groupId);
    if (!row) return { ...item };
    const fixed: Partial<Record<FixedField, unknown>> = {};
    FIXED_FIELDS.forEach((field, j) => {
      fixed[field] = row[j + 1] ?? (field === 'credentialsSealed' ? undefined : null);
    });
    if (fixed.credentialsSealed === undefined) delete fixed.credentialsSealed;
    return { ...item, ...(fixed as Partial<BatchItem>) };
  });
}

/** Writes packed parts (once, before their batches); one already there is kept. */
export async function storeFixed(docs: { _id: string; packed: string }[]): Promise<void> {
  if (docs.length === 0) return;
  try {
    await BatchFixedModel.collection.insertMany(docs as never[], { ordered: false });
  } catch (error) {
    const raw = (error as { writeErrors?: { code?: number }[] | { code?: number } }).writeErrors;
    const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
    if (list.length === 0 || list.some((e) => e.code !== 11000)) throw error;
  }
}

/**
 * A batch with its items whole: its packed part read (one `_id` lookup) and merged when it
 * has one; a batch in the earlier layout (every field in its items) as it is.
 */
export async function withFixedItems<T extends { fixedId?: string | null; items?: { groupId: string }[] }>(
  batch: T,
): Promise<T> {
  if (!batch.fixedId || !batch.items) return batch;
  const doc = await BatchFixedModel.findById(batch.fixedId, { packed: 1 }).lean<{ packed: string }>();
  if (!doc) return batch;
  return { ...batch, items: mergeFixed(batch.items, doc.packed) };
}

/** `withFixedItems` for many batches, a few lookups at a time. */
export async function withFixedItemsAll<T extends { fixedId?: string | null; items?: { groupId: string }[] }>(
  batches: readonly T[],
): Promise<T[]> {
  const out: T[] = new Array(batches.length);
  let next = 0;
  const lane = async () => {
    while (next < batches.length) {
      const at = next++;
      out[at] = await withFixedItems(batches[at]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, batches.length) }, lane));
  return out;
}

/**
 * Retention: the packed part without the sealed credentials (what only a send needs). Returns
 * the packed part as it was read (retention reads the officers from it), or null when none.
 */
export async function dropFixedCredentials(fixedId: string): Promise<string | null> {
  const doc = await BatchFixedModel.findById(fixedId, { packed: 1 }).lean<{ packed: string }>();
  if (!doc) return null;
  const at = FIXED_FIELDS.indexOf('credentialsSealed') + 1;
  const rows = (JSON.parse(doc.packed) as Packed[]).map((row) => row.map((value, i) => (i === at ? null : value)));
  await BatchFixedModel.updateOne({ _id: fixedId }, { $set: { packed: JSON.stringify(rows) } });
  return doc.packed;
}

// One-off steps that bring data written by an older version up to the current layout (a new
// watch list or summary filled for existing data). Each runs at start (`prepareDatabase`)
// until it has finished once, then costs one `_id` read per start. A step must be idempotent:
// two processes starting at once may both run it, and a process may die half-way.
import mongoose from 'mongoose';

const backfillSchema = new mongoose.Schema(
  { _id: { type: String, required: true }, at: { type: Date, required: true } },
  { versionKey: false },
);
export const BackfillModel = mongoose.model('Backfill', backfillSchema, 'backfills');

/** Runs `step` unless the backfill `name` has finished before; marks it finished after. */
export async function backfillOnce(name: string, step: () => Promise<void>): Promise<boolean> {
  if (await BackfillModel.exists({ _id: name })) return false;
  await step();
  await BackfillModel.updateOne({ _id: name }, { $set: { at: new Date() } }, { upsert: true });
  return true;
}

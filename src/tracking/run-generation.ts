// The generation of a run's batches (issue 25): what a run's summary (tracking/run-summaries.ts)
// is checked against at read, so a summary is used only while nothing has written the run's
// batches since it was made.
//
// One small document per run in `rungenerations` (`_id` = the occurrence id), written only by
// the writers of the run's batches, never by the summaries' builders (FerretDB rewrites a whole
// document on update, so a builder's write could undo a writer's bump if they shared one).
// Contract:
// - A writer that may change a batch a summary can include (a batch with nothing pending as
//   it was last written: a confirmation, a late platform report, a resolution of an uncertain
//   manual delivery) calls `runWriteStarting` BEFORE its write and `runWriteDone` after it.
//   The first moves the generation on and records until when the write may still land
//   (`writingUntil`, the writer's lease with a margin); the second moves it on again and
//   clears that time if no other writer has moved it since.
// - The planner lists new batch ids with `runWriteStarting` (tracking/run-batches.ts
//   `listBatches`) before inserting them.
// - A builder reads the generation before it reads the batches, and makes a summary only when
//   no write may be in flight (`writingUntil` absent or past); the summary carries that
//   generation and is used only while it is still the run's. A write that lands while a
//   builder reads moves the generation on after it (the second bump), so a summary built from
//   what was read before the write is never used.
// - Writes to batches with something pending need no bump: no summary is made while a batch of
//   the run has something pending. Retention's compaction changes no figure (it drops only
//   the credentials and due times of settled deliveries) and needs none either.
import mongoose from 'mongoose';

const generationSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    gen: { type: Number, default: 0 },
    writingUntil: { type: Date },
  },
  { versionKey: false },
);

export const RunGenerationModel = mongoose.model('RunGeneration', generationSchema, 'rungenerations');

export interface RunGeneration {
  gen: number;
  /** Until when a write that has started may still land (absent: none in flight). */
  writingUntil: Date | null;
}

/** The run's generation (0 for a run never written since generations existed). */
export async function runGeneration(occurrenceId: string): Promise<RunGeneration> {
  const doc = await RunGenerationModel.findById(occurrenceId, { gen: 1, writingUntil: 1 }).lean<{
    gen?: number;
    writingUntil?: Date | null;
  }>();
  return { gen: doc?.gen ?? 0, writingUntil: doc?.writingUntil ?? null };
}

/** Before a write that may change a settled batch of the run: the run's summary is void from now. */
export async function runWriteStarting(occurrenceId: string, until: Date): Promise<void> {
  await RunGenerationModel.updateOne(
    { _id: occurrenceId },
    { $inc: { gen: 1 }, $max: { writingUntil: until } },
    { upsert: true },
  );
}

/** After that write (landed or refused): a summary read before it cannot match any more. */
export async function runWriteDone(occurrenceId: string, until: Date): Promise<void> {
  const cleared = await RunGenerationModel.updateOne(
    { _id: occurrenceId, writingUntil: until },
    { $inc: { gen: 1 }, $unset: { writingUntil: '' } },
  );
  // Another writer moved the time on: its own done clears it (or the time passes).
  if (cleared.matchedCount === 0) await RunGenerationModel.updateOne({ _id: occurrenceId }, { $inc: { gen: 1 } });
}

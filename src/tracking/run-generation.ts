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
// - The campaign's generation (`campaign|<campaignId>`, the campaign read from the run id
//   `<campaignId>@<runAt>`) moves on with every bump of any of its runs, in the same awaited
//   step (so before the write that follows a start, after the write for a done). A reader
//   that read it before everything else may keep what it computed from runs that all had
//   current summaries for as long as it is unchanged (tracking/deliveries/kept-pages.ts): one
//   `_id` read instead of one per run. Both are `$inc`: a lost update on FerretDB merges two
//   bumps into one but never leaves the value as it was.
// - The generation of every run (`campaign|*`) moves on with them, in the same step: what is
//   computed from runs of many campaigns (a case's reach over every campaign of its notice,
//   the cases list) is kept under it, the same way.
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

/** The campaign of a run id (`<campaignId>@<runAt ISO>`, engine/tick.ts). */
export function campaignOfRun(occurrenceId: string): string {
  const at = occurrenceId.indexOf('@');
  return at < 0 ? occurrenceId : occurrenceId.slice(0, at);
}

const campaignKey = (campaignId: string) => `campaign|${campaignId}`;

/** The campaign's generation: moves on with every bump of any of its runs (0: never bumped). */
export async function campaignGeneration(campaignId: string): Promise<number> {
  const doc = await RunGenerationModel.findById(campaignKey(campaignId), { gen: 1 }).lean<{ gen?: number }>();
  return doc?.gen ?? 0;
}

const ALL_RUNS = 'campaign|*';

/** The generation of every run: moves on with every bump of any run (0: never bumped). */
export async function allRunsGeneration(): Promise<number> {
  const doc = await RunGenerationModel.findById(ALL_RUNS, { gen: 1 }).lean<{ gen?: number }>();
  return doc?.gen ?? 0;
}

function bumpCampaign(occurrenceId: string): Promise<unknown> {
  return Promise.all([
    RunGenerationModel.updateOne(
      { _id: campaignKey(campaignOfRun(occurrenceId)) },
      { $inc: { gen: 1 } },
      { upsert: true },
    ),
    RunGenerationModel.updateOne({ _id: ALL_RUNS }, { $inc: { gen: 1 } }, { upsert: true }),
  ]);
}

/** Before a write that may change a settled batch of the run: the run's summary is void from now. */
export async function runWriteStarting(occurrenceId: string, until: Date): Promise<void> {
  await Promise.all([
    RunGenerationModel.updateOne(
      { _id: occurrenceId },
      { $inc: { gen: 1 }, $max: { writingUntil: until } },
      { upsert: true },
    ),
    bumpCampaign(occurrenceId),
  ]);
}

/** After that write (landed or refused): a summary read before it cannot match any more. */
export async function runWriteDone(occurrenceId: string, until: Date): Promise<void> {
  const [cleared] = await Promise.all([
    RunGenerationModel.updateOne(
      { _id: occurrenceId, writingUntil: until },
      { $inc: { gen: 1 }, $unset: { writingUntil: '' } },
    ),
    bumpCampaign(occurrenceId),
  ]);
  // Another writer moved the time on: its own done clears it (or the time passes).
  if (cleared.matchedCount === 0) await RunGenerationModel.updateOne({ _id: occurrenceId }, { $inc: { gen: 1 } });
}

import mongoose from 'mongoose';

/**
 * One claim per case outcome: `${noticeId}:expired` or `${noticeId}:solved`. The unique _id
 * lets exactly one scheduler (or one officer's click) draft the follow-up, on FerretDB too,
 * where a conditional update is not atomic.
 */
const outcomeClaimSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    noticeId: { type: String, required: true },
    kind: { type: String, required: true },
    by: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

export const CaseOutcomeClaimModel = mongoose.model('CaseOutcomeClaim', outcomeClaimSchema);

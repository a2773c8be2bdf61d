// A campaign's runs as staff see them: when, how many deliveries, and why a run was skipped.
import { OccurrenceModel } from './model.js';

export interface CampaignRun {
  id: string;
  runAt: Date;
  dueAt: Date;
  status: 'planning' | 'planned' | 'skipped';
  skipReason: string | null;
  deliveryCount: number;
  memberTotal: number;
}

export async function campaignRuns(campaignId: string, limit = 100): Promise<CampaignRun[]> {
  const docs = await OccurrenceModel.find({ campaignId }).sort({ runAt: -1 }).limit(limit).lean();
  return docs.map((doc) => ({
    id: String(doc._id),
    runAt: doc.runAt,
    dueAt: doc.dueAt,
    status: doc.status as CampaignRun['status'],
    skipReason: doc.skipReason ?? null,
    deliveryCount: doc.deliveryCount ?? 0,
    memberTotal: doc.memberTotal ?? 0,
  }));
}

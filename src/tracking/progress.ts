// Live progress of a campaign, summed from the `counts` of its batches (which the engine
// derives from the items on every write), per county for cross-county campaigns.
import type { Scope } from '../regions/scope.js';
import type { RegionService } from '../regions/service.js';
import { visibleCampaign } from './campaign-lookup.js';
import { DeliveryBatchModel } from './model.js';

export interface ProgressCounts {
  total: number;
  queued: number;
  sent: number;
  failed: number;
  uncertain: number;
  awaiting: number;
  confirmed: number;
  skipped: number;
  personTimes: number;
}

export interface CampaignProgress extends ProgressCounts {
  campaignId: string;
  title: string;
  /** True when nothing is queued any more (every delivery final). */
  finished: boolean;
  counties: Array<ProgressCounts & { countyCode: string; countyName: string }>;
}

const zero = (): ProgressCounts => ({
  total: 0,
  queued: 0,
  sent: 0,
  failed: 0,
  uncertain: 0,
  awaiting: 0,
  confirmed: 0,
  skipped: 0,
  personTimes: 0,
});

function add(into: ProgressCounts, counts: Record<string, number | undefined>): void {
  into.total += counts.total ?? 0;
  into.queued += counts.pending ?? 0;
  into.sent += counts.sent ?? 0;
  into.failed += counts.failed ?? 0;
  into.uncertain += counts.uncertain ?? 0;
  into.awaiting += counts.awaiting ?? 0;
  into.confirmed += counts.confirmed ?? 0;
  into.skipped += counts.skipped ?? 0;
  into.personTimes += counts.reachedMembers ?? 0;
}

export class ProgressService {
  constructor(private readonly regions: RegionService) {}

  async progress(scope: Scope, campaignId: string): Promise<CampaignProgress> {
    const campaign = await visibleCampaign(this.regions, scope, campaignId);
    const batches = await DeliveryBatchModel.find(
      { campaignId, ...scope.filter() },
      { _id: 0, counts: 1, countyCode: 1 },
    ).lean();
    const totals = zero();
    const counties = new Map<string, ProgressCounts>();
    for (const batch of batches) {
      const counts = batch.counts as unknown as Record<string, number>;
      add(totals, counts);
      const county = counties.get(batch.countyCode) ?? zero();
      counties.set(batch.countyCode, county);
      add(county, counts);
    }
    const rows = [];
    for (const [countyCode, counts] of [...counties.entries()].sort()) {
      const name = (await this.regions.find(countyCode))?.name ?? countyCode;
      rows.push({ countyCode, countyName: name, ...counts });
    }
    return { campaignId, title: campaign.title, ...totals, finished: totals.queued === 0, counties: rows };
  }
}

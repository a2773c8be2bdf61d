// Which campaigns a caller may see tracking data of. A campaign is on the caller's branch
// of the tree when it was made inside the caller's scope or above it (a city-wide campaign
// seen by a county: the county sees its own part of it; every read is also scope-filtered).
import mongoose from 'mongoose';
import { CampaignModel } from '../campaigns/model.js';
import { NotFound } from '../lib/errors.js';
import type { Scope } from '../regions/scope.js';
import type { RegionService } from '../regions/service.js';

export interface CampaignRef {
  id: string;
  title: string;
  noticeId: string;
}

export async function visibleCampaign(regions: RegionService, scope: Scope, id: string): Promise<CampaignRef> {
  if (!mongoose.isValidObjectId(id)) throw new NotFound(`推送 ${id}`);
  const doc = await CampaignModel.findById(id, { title: 1, noticeId: 1, regionPath: 1, regionCode: 1 }).lean();
  if (!doc) throw new NotFound(`推送 ${id}`);
  const inside = scope.contains(doc.regionPath);
  // Or the campaign's region is an ancestor of the scope: the scope lies under the campaign.
  const above = inside || Boolean((await regions.find(scope.regionCode))?.regionPath.includes(doc.regionCode));
  if (!above) throw new NotFound(`推送 ${id}`);
  return { id: String(doc._id), title: doc.title, noticeId: doc.noticeId };
}

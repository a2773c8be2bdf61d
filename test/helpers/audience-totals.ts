// The audience totals as the definition states them, computed over every group in the
// collection (the oracle the totals' tests compare the service's answers with). Written from
// the definition, never from src/audience: a group counts when it is active, not flagged, in
// the caller's scope, chosen by a region of its path, one of its tags or its id, and not left
// out by an excluded region, tag or id; its members count with it, per channel too.
import type mongoose from 'mongoose';
import type { AudienceSpec } from '../../src/audience/selection.js';
import { CHANNEL_KINDS } from '../../src/channels/kinds.js';

/** A group as stored (the fields the totals are defined on). */
export interface RawGroup {
  _id: mongoose.Types.ObjectId;
  regionCode: string;
  regionPath: string[];
  memberCount: number;
  channelKind: string;
  tags: string[];
  active: boolean;
  flaggedAt: Date | null;
}

/** Straight from the definition, over every group in the collection. */
export function rawTotals(docs: RawGroup[], scopeCode: string, spec: AudienceSpec) {
  const has = (list: string[] | undefined, values: string[] | undefined) =>
    (list ?? []).some((v) => (values ?? []).includes(v));
  const chosen = docs.filter(
    (g) =>
      g.active !== false && // stored without the field: the schema's default, active
      !g.flaggedAt &&
      g.regionPath.includes(scopeCode) &&
      (has(spec.regions, g.regionPath) || has(spec.tags, g.tags) || (spec.groups ?? []).includes(String(g._id))) &&
      !has(spec.excludeRegions, g.regionPath) &&
      !has(spec.excludeTags, g.tags) &&
      !(spec.excludeGroups ?? []).includes(String(g._id)),
  );
  const byChannel = Object.fromEntries(CHANNEL_KINDS.map((k) => [k, { groupCount: 0, memberTotal: 0 }]));
  for (const g of chosen) {
    byChannel[g.channelKind]!.groupCount += 1;
    byChannel[g.channelKind]!.memberTotal += g.memberCount;
  }
  return {
    groupCount: chosen.length,
    villageCount: new Set(chosen.map((g) => g.regionCode)).size,
    memberTotal: chosen.reduce((sum, g) => sum + g.memberCount, 0),
    byChannel,
    manualTaskCount: byChannel.manual!.groupCount,
  };
}

// Running totals of an audience selection over the county digests (read-model.ts): which
// digests a selection needs, then one pass over their rows. Pure apart from the reads the
// caller passes in, so the rules read in one place: (regions ∪ tags ∪ groups ∪ radius)
// − exclusions, inside the scope; the digests hold only selectable groups (active, unflagged).
import { GROUP_CHANNELS, type GroupChannel } from './model.js';
import type { CountyDigest } from './read-model.js';

export interface Selection {
  regions: string[];
  tags: string[];
  groups: string[];
  excludeRegions: string[];
  excludeTags: string[];
  excludeGroups: string[];
  /** Villages taken in by a radius term (code → region path), when one is given. */
  nearVillages: Map<string, string[]> | null;
}

export interface ChannelTotals {
  groupCount: number;
  memberTotal: number;
}

export interface AudienceTotals {
  groupCount: number;
  villageCount: number;
  memberTotal: number;
  /** Per channel (every channel listed, zeros included). */
  byChannel: Record<GroupChannel, ChannelTotals>;
  /** Groups on the manual channel: each becomes an officer's task to post by hand. */
  manualTaskCount: number;
  /** WeCom customer groups already at their receive cap this period (they will not receive it). */
  wecomOverCap?: number;
  /** The sentence the console shows before approval when some are. */
  capWarning?: string;
  /** What a radius term takes in, when one is given. */
  radius?: {
    /** Villages in scope within the radius (with coordinates). */
    villageCount: number;
    /** Selected groups in those villages (after exclusions). */
    groupCount: number;
    memberTotal: number;
    /** Villages in scope without coordinates: the radius cannot tell whether they are inside. */
    villagesWithoutCoordinates: number;
    /** The first of them, by code. */
    withoutCoordinates: { code: string; name: string }[];
  };
}

export interface CountyEntry {
  county: string;
  /** root, province, city, county. */
  path: string[];
}

/** Whether a county's groups can be inside a scope or region with this code and path. */
function countyMeets(entry: CountyEntry, code: string): boolean {
  // At or above the county: on its path. Below it (township, village): codes continue the
  // county's code (regions/levels.ts codeFitsParent), so its first six digits name the county.
  return entry.path.includes(code) || (code.length > 6 && code.startsWith(entry.county));
}

/** The digests a selection must read: those in scope, narrowed to the named regions when it names nothing else. */
export function countiesFor(entries: CountyEntry[], scopeCode: string, selection: Selection): CountyEntry[] {
  const inScope = entries.filter((entry) => countyMeets(entry, scopeCode));
  if (selection.tags.length || selection.groups.length) return inScope;
  const codes = [...selection.regions, ...(selection.nearVillages ? selection.nearVillages.keys() : [])];
  return inScope.filter((entry) => codes.some((code) => countyMeets(entry, code)));
}

function emptyChannels(): Record<GroupChannel, ChannelTotals> {
  return Object.fromEntries(GROUP_CHANNELS.map((kind) => [kind, { groupCount: 0, memberTotal: 0 }])) as Record<
    GroupChannel,
    ChannelTotals
  >;
}

export function totalsOf(
  digests: CountyDigest[],
  scopeCode: string,
  selection: Selection,
  withoutCoordinates: { code: string; name: string }[] | null,
): AudienceTotals {
  const regions = new Set(selection.regions);
  const tags = new Set(selection.tags);
  const groups = new Set(selection.groups);
  const excludeRegions = new Set(selection.excludeRegions);
  const excludeTags = new Set(selection.excludeTags);
  const excludeGroups = new Set(selection.excludeGroups);
  const near = selection.nearVillages;
  const villages = new Set<string>();
  const byChannel = emptyChannels();
  let groupCount = 0;
  let memberTotal = 0;
  let nearGroups = 0;
  let nearMembers = 0;
  for (const digest of digests) {
    const countyInScope = digest.path.includes(scopeCode);
    const countyInRegions = digest.path.some((code) => regions.has(code));
    const countyExcluded = digest.path.some((code) => excludeRegions.has(code));
    if (countyExcluded) continue;
    for (const row of digest.rows.values()) {
      if (!countyInScope && row.township !== scopeCode && row.village !== scopeCode) continue;
      const inNear = near?.has(row.village) ?? false;
      const included =
        countyInRegions ||
        regions.has(row.township) ||
        regions.has(row.village) ||
        groups.has(row.id) ||
        inNear ||
        row.tags.some((tag) => tags.has(tag));
      if (!included) continue;
      if (
        excludeRegions.has(row.township) ||
        excludeRegions.has(row.village) ||
        excludeGroups.has(row.id) ||
        row.tags.some((tag) => excludeTags.has(tag))
      ) {
        continue;
      }
      groupCount += 1;
      memberTotal += row.members;
      villages.add(row.village);
      const channel = byChannel[row.kind as GroupChannel];
      if (channel) {
        channel.groupCount += 1;
        channel.memberTotal += row.members;
      }
      if (inNear) {
        nearGroups += 1;
        nearMembers += row.members;
      }
    }
  }
  const totals: AudienceTotals = {
    groupCount,
    villageCount: villages.size,
    memberTotal,
    byChannel,
    manualTaskCount: byChannel.manual.groupCount,
  };
  if (near && withoutCoordinates) {
    totals.radius = {
      villageCount: near.size,
      groupCount: nearGroups,
      memberTotal: nearMembers,
      villagesWithoutCoordinates: withoutCoordinates.length,
      withoutCoordinates: withoutCoordinates.slice(0, 20),
    };
  }
  return totals;
}

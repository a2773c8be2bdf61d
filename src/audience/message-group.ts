// The group's part of a message (channels/message.ts MessageGroup) for the paths that start
// from a saved group: the test send and the previews of a card for one group. Its place and
// officer (the personalised strip and the text's sign-off) and its county's officer-text
// setting (a manual text without the link) come from here, so a preview for a group shows
// what the engine posts to it (the engine builds the same parts from its planned batch).
import type { CountyOfficerTextService } from '../channels/manual/county-text.js';
import { type ChannelKind, SHARED_MESSAGE_CHANNELS } from '../channels/kinds.js';
import type { MessageGroup } from '../channels/message.js';
import type { Scope } from '../regions/scope.js';
import type { RegionService } from '../regions/service.js';
import type { Personalisation } from '../render/content.js';
import type { GroupService } from './groups.js';
import type { AudienceMember, AudienceService } from './selection.js';

/** The personalised strip's and sign-off's fields of a group. */
export function personalOf(member: AudienceMember): Personalisation {
  return {
    villageName: member.villageName,
    townshipName: member.townshipName,
    officerName: member.officer?.name ?? null,
    officerPhone: member.officer?.phone ?? null,
  };
}

/** Whether a channel's text leaves the link out for a region: manual texts, where the county chose so. */
export async function omitsLinkInText(
  countyTexts: Pick<CountyOfficerTextService, 'withoutLink'>,
  channel: ChannelKind,
  regionPath: readonly string[],
): Promise<boolean> {
  const countyCode = regionPath[3];
  return channel === 'manual' && countyCode !== undefined && (await countyTexts.withoutLink(countyCode));
}

export interface GroupMessageDeps {
  groups: Pick<GroupService, 'get'>;
  audience: Pick<AudienceService, 'sendTargets'>;
  countyTexts: Pick<CountyOfficerTextService, 'withoutLink'>;
}

export interface PreviewTargetDeps extends GroupMessageDeps {
  regions: Pick<RegionService, 'find'>;
}

/** Whom a preview is for: the group's place and region, or the given place in the caller's region. */
export interface PreviewTarget {
  personal: Personalisation | null;
  /** The group's region path, or the caller's scope's: its county decides a manual text's link. */
  regionPath: readonly string[];
}

/**
 * The target of a preview: a chosen group (in the caller's scope) previews as the engine
 * posts to it; without one, the personal fields given, in the caller's own region (so a
 * county's editors preview their county's officer texts; a wider scope previews the default).
 */
export async function previewTarget(
  deps: PreviewTargetDeps,
  scope: Scope,
  choice: { groupId?: string; personal?: Personalisation | null },
): Promise<PreviewTarget> {
  if (choice.groupId) {
    const found = await deps.groups.get(scope, choice.groupId);
    const [member] = (await deps.audience.sendTargets([found.id])) as [AudienceMember];
    // As dispatch.ts posts it: one message for all of a customer-group owner's groups.
    const personal = SHARED_MESSAGE_CHANNELS.has(member.channelKind) ? null : personalOf(member);
    return { personal, regionPath: member.regionPath };
  }
  const region = await deps.regions.find(scope.regionCode);
  return { personal: choice.personal ?? null, regionPath: region?.regionPath ?? [] };
}

/** The group's part of a channel's message for a preview target. */
export async function previewGroup(
  countyTexts: Pick<CountyOfficerTextService, 'withoutLink'>,
  target: PreviewTarget,
  channel: ChannelKind,
  link: string,
): Promise<MessageGroup> {
  return {
    link,
    personal: target.personal,
    omitLinkInText: await omitsLinkInText(countyTexts, channel, target.regionPath),
  };
}

// What the campaigns room needs from rooms it does not own; context.ts wires the real
// services in. Keeping them as interfaces lets campaign rules be read on their own.
import type { Scope } from '../regions/scope.js';

/** Region subtrees ∪ tags ∪ explicit groups − exclusions (the audience room's selection). */
export interface AudienceSpec {
  regions: string[];
  tags: string[];
  /** Villages within radiusKm of a point (the audience room checks the values). */
  near?: { lat: number; lng: number; radiusKm: number } | null;
  groups: string[];
  excludeRegions: string[];
  excludeTags: string[];
  excludeGroups: string[];
  /** Older retraction follow-ups: the groups that received this one campaign. */
  recipientsOf?: string | null;
  /**
   * Follow-ups (retraction, solved, expired): every group that received this notice through
   * any campaign (sent, uncertain, awaiting or confirmed), resolved once no delivery of the
   * notice is still in flight. Replaces the terms above when set.
   */
  recipientsOfNotice?: string | null;
}

export interface AudienceSummary {
  groupCount: number;
  villageCount: number;
  memberTotal: number;
  /** WeCom customer groups at their receive cap (they will not receive it), and the sentence saying so. */
  wecomOverCap?: number;
  capWarning?: string;
}

export interface NoticeSummary {
  id: string;
  title: string;
  category: string;
  /** Why it cannot be sent now (not approved, archived, retracted), or null when it can. */
  problem: string | null;
}

export interface CampaignPorts {
  /** Counts the audience inside the scope; throws Forbidden for groups outside it. */
  summarizeAudience(scope: Scope, spec: AudienceSpec): Promise<AudienceSummary>;
  /** The notice as the campaign's author may see it (NotFound outside the scope). */
  findNotice(scope: Scope, noticeId: string): Promise<NoticeSummary>;
  /** Marks a notice as retracted once its campaign is retracted. */
  markNoticeRetracted(noticeId: string): Promise<void>;
}

/** How campaign state changes reach deliveries already planned (the engine implements it). */
export interface DeliveryControl {
  hold(campaignId: string, held: boolean): Promise<void>;
  skipPending(campaignId: string, reason: string): Promise<number>;
  /** A notice was withdrawn (retracted): every campaign's batches of it are looked at now. */
  noticeWithdrawn(noticeId: string): Promise<void>;
  /** Whether any delivery of the notice was ever planned (so something may have gone out). */
  noticePlanned(noticeId: string): Promise<boolean>;
}

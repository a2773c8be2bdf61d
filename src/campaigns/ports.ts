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
  /** Archived or withdrawn: it can never be sent again (not even once approved). */
  withdrawn: boolean;
}

export interface CampaignPorts {
  /** Counts the audience inside the scope; throws Forbidden for groups outside it. */
  summarizeAudience(scope: Scope, spec: AudienceSpec): Promise<AudienceSummary>;
  /** The notice as the campaign's author may see it (NotFound outside the scope). */
  findNotice(scope: Scope, noticeId: string): Promise<NoticeSummary>;
  /** Marks a notice as retracted once its campaign is retracted (a no-op when it is already). */
  markNoticeRetracted(noticeId: string): Promise<void>;
  /** Whether the notice has been withdrawn (retracted, or a case outcome). */
  noticeWithdrawn(noticeId: string): Promise<boolean>;
  /** Withdraws the campaign's open officer tasks for good (idempotent; the manual channel's). */
  withdrawTasks(campaignId: string, reason: 'retracted' | 'cancelled' | 'case_closed'): Promise<void>;
}

/** How campaign state changes reach deliveries already planned (the engine implements it). */
export interface DeliveryControl {
  /**
   * Lists the campaign's batches with pending deliveries now (parked ones too), so a worker
   * applies the campaign's state to them: sends (approved, resumed) or skips (cancelled).
   */
  requeue(campaignId: string): Promise<void>;
  /**
   * The campaign was cancelled or retracted: its batches no worker holds have their pending
   * deliveries recorded skipped with `reason` now, in bulk (engine/skip.ts); the held ones
   * are listed so their holder applies it.
   */
  stop(campaignId: string, reason: string): Promise<void>;
  /** A notice was withdrawn: every campaign's batches of it are looked at now. Returns those campaigns. */
  noticeWithdrawn(noticeId: string): Promise<string[]>;
  /** Whether any delivery of the notice was ever planned (so something may have gone out). */
  noticePlanned(noticeId: string): Promise<boolean>;
  /** The counties (code and region path) of the notice's recipients outside the region `regionCode`. */
  recipientCountiesOutside(noticeId: string, regionCode: string): Promise<{ code: string; regionPath: string[] }[]>;
  /** When the engine created the campaign's latest run (null: none), whatever the campaign recorded. */
  lastRunAt(campaignId: string): Promise<Date | null>;
}

// Shapes of the API's answers the console reads (the OpenAPI document at /docs is the reference).
export type Role = 'admin' | 'editor' | 'reviewer' | 'coordinator' | 'officer' | 'viewer';

export interface User {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  regionCode: string;
  phone: string | null;
  active: boolean;
  mustChangePassword?: boolean;
  createdAt: string;
}

export interface Region {
  code: string;
  name: string;
  level: string;
  parentCode: string | null;
  childCount?: number;
}

export type Category =
  | 'anti_fraud'
  | 'anti_theft'
  | 'accident_prevention'
  | 'anti_vice'
  | 'patrol_report'
  | 'wanted_clue'
  | 'general';

export type NoticeStatus = 'draft' | 'in_review' | 'approved' | 'archived';

export interface Wanted {
  caseSummary: string;
  suspectDescription: string;
  reward: string;
  contactName: string;
  contactPhone: string;
  deadline: string;
  /** The case officer (a user id): tips go to their inbox. */
  contactUserId?: string | null;
  /** Where it happened: coordinates, or a village that lends its own. */
  incident?: { lat: number; lng: number } | { villageCode: string } | null;
  radiusKm?: number | null;
}

export interface NoticeContent {
  category: Category;
  title: string;
  body: string;
  summary: string | null;
  media: { sha256: string; caption: string | null }[];
  video: { url: string; posterSha256: string } | null;
  issuingUnit: string;
  hotline: string;
  validFrom: string | null;
  validUntil: string | null;
  tags: string[];
  wanted: Wanted | null;
}

export interface Notice {
  id: string;
  regionCode: string;
  status: NoticeStatus;
  version: number;
  approvedVersion: number | null;
  authorId: string;
  editorIds: string[];
  submittedBy: string | null;
  reviewNote: string | null;
  content: NoticeContent;
  versions: { version: number; approvedBy: string; approvedAt: string }[];
  createdAt: string;
  updatedAt: string;
}

export interface NoticeListItem extends Omit<Notice, 'content' | 'versions' | 'editorIds'> {
  title: string;
  category: Category;
  /** Set once the notice was withdrawn (停止并撤回). */
  retractedAt?: string | null;
}

/** A page of campaigns' 进度 and 触达 (GET /api/campaigns/summaries). */
export interface CampaignSummary {
  campaignId: string;
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

export interface NoticeVersion {
  noticeId: string;
  version: number;
  content: NoticeContent;
  approvedBy: string;
  approvedAt: string;
}

export type CampaignStatus = 'draft' | 'in_review' | 'approved' | 'paused' | 'completed' | 'cancelled';
export type CardStyle = 'text' | 'rich' | 'image';
export type Priority = 'normal' | 'urgent';

export interface AudienceSpec {
  regions: string[];
  tags: string[];
  groups: string[];
  excludeRegions: string[];
  excludeTags: string[];
  excludeGroups: string[];
}

export type Schedule =
  | { kind: 'now' }
  | { kind: 'once'; at: string }
  | { kind: 'cron'; cron: string; startAt?: string | null; endAt: string };

export interface Campaign {
  id: string;
  title: string;
  noticeId: string;
  audience: AudienceSpec;
  schedule: { kind: string; at?: string; cron?: string; startAt?: string | null; endAt?: string };
  cardStyle: CardStyle;
  priority: Priority;
  status: CampaignStatus;
  authorId: string;
  authorName: string;
  regionCode: string;
  reviewerId: string | null;
  reviewNote: string | null;
  approvedAt: string | null;
  nextRunAt: string | null;
  revision: number;
  retractionOf: string | null;
  retractedAt: string | null;
  createdAt: string;
  audienceSummary?: { groupCount: number; villageCount: number; memberTotal: number };
}

export interface AudienceTotals {
  groupCount: number;
  villageCount: number;
  memberTotal: number;
  /** Present once the API breaks totals down (groups per channel, manual tasks). */
  byChannel?:
    | Record<string, { groupCount: number; memberTotal?: number }>
    | Array<{ channel: string; groupCount: number }>;
  manualTaskCount?: number;
  /** WeCom customer groups at their receive cap (they will not receive it), and the sentence to show. */
  wecomOverCap?: number;
  capWarning?: string;
}

export interface Group {
  id: string;
  name: string;
  regionCode: string;
  channelKind: string;
  memberCount: number;
  tags: string[];
  active: boolean;
  officer: { name: string; phone: string | null } | null;
}

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
  finished: boolean;
  /** Groups the officers have yet to post to (awaiting, tasks not expired): not done. */
  awaitingOfficers: number;
  counties: Array<ProgressCounts & { countyCode: string; countyName: string }>;
  townships?: Array<ProgressCounts & { townshipCode: string; townshipName: string }>;
}

export interface TextCard {
  format: string;
  channel: string;
  maxBytes: number;
  title: string;
  content: string;
  bytes: number;
  truncated: boolean;
  url: string;
  pictureUrl: string | null;
}

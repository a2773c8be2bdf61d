// The API's shapes the console reads, named after the domain (CONSOLE.md's words). Each is the
// generated type of the operation that answers it (schema.d.ts, from the service's OpenAPI
// document via `npm run api:types`): no hand-kept copies, so vue-tsc fails where a screen
// reads a field the server no longer gives.
import type { ApiBody, ApiReply, Row } from './shapes';

export type User = ApiReply<'/api/auth/me'>;
export type Role = User['role'];

export type Region = Row<'/api/regions'>;

export type Notice = ApiReply<'/api/notices/{id}'>;
export type NoticeContent = Notice['content'];
export type Category = NoticeContent['category'];
export type NoticeStatus = Notice['status'];
export type Wanted = NonNullable<NoticeContent['wanted']>;
export type NoticeListItem = Row<'/api/notices'>;
export type NoticeVersion = ApiReply<'/api/notices/{id}/versions/{version}'>;

/** A page of campaigns' 进度 and 触达 (GET /api/campaigns/summaries). */
export type CampaignSummary = Row<'/api/campaigns/summaries'>;

export type Campaign = ApiReply<'/api/campaigns/{id}'>;
export type CampaignStatus = Campaign['status'];
export type CardStyle = Campaign['cardStyle'];
export type Priority = Campaign['priority'];
export type AudienceSpec = Campaign['audience'];
/** A campaign's schedule as the wizard sends it. */
export type Schedule = ApiBody<'/api/campaigns'>['schedule'];

export type AudienceTotals = ApiReply<'/api/audience/preview', 'post'>;

export type Group = Row<'/api/groups'>;

export type CampaignProgress = ApiReply<'/api/campaigns/{id}/progress'>;
export type ProgressCounts = Omit<CampaignProgress['counties'][number], 'countyCode' | 'countyName'>;

export type TextCard = ApiReply<'/api/notices/{id}/preview/text', 'post'>;

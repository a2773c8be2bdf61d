// 日程: runs of the campaigns in scope by date, and the wizard's schedule preview.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ANY_ROLE, AUTHORS, REVIEWERS } from '../../auth/roles.js';

const PLANNERS = [...new Set([...AUTHORS, ...REVIEWERS])];
import { allow, principal } from '../../http/access.js';
import { DateTime, Nullable } from '../../lib/schemas.js';
import type { NoticeService } from '../../notices/service.js';
import type { QuietHours } from '../schedule.js';
import { CampaignCalendar } from './service.js';
import type { CampaignService } from '../service.js';
import { CAMPAIGN_STATUSES } from '../model.js';
import { toSchedule } from '../routes.js';
import { ScheduleBody } from '../schemas.js';

const CalendarQuery = Type.Object(
  {
    from: Type.String({ format: 'date-time', description: '开始（含）' }),
    to: Type.String({ format: 'date-time', description: '结束（不含），最多 100 天' }),
    status: Type.Optional(Type.Union(CAMPAIGN_STATUSES.map((s) => Type.Literal(s)))),
    category: Type.Optional(Type.String({ maxLength: 40 })),
  },
  { additionalProperties: false },
);

const CalendarEntryBody = Type.Object({
  campaignId: Type.String(),
  title: Type.String(),
  status: Type.Union(CAMPAIGN_STATUSES.map((s) => Type.Literal(s))),
  category: Nullable(Type.String()),
  priority: Type.String(),
  plannedAt: DateTime,
  sendsAt: DateTime,
  past: Type.Boolean(),
});

const SchedulePreviewBody = Type.Object(
  {
    schedule: ScheduleBody,
    priority: Type.Optional(Type.Union([Type.Literal('normal'), Type.Literal('urgent')])),
  },
  { additionalProperties: false },
);

const SchedulePreviewReply = Type.Object({
  runs: Type.Array(Type.Object({ plannedAt: DateTime, sendsAt: DateTime, deferred: Type.Boolean() })),
  quietHours: Type.Object({ start: Type.String(), end: Type.String() }),
  timeZone: Type.String(),
});

export interface CalendarRoutesOptions {
  campaigns: CampaignService;
  notices: NoticeService;
  timeZone: string;
  quietHours: QuietHours;
  now: () => Date;
}

export const calendarRoutes: FastifyPluginAsyncTypebox<CalendarRoutesOptions> = async (app, options) => {
  const { notices, now } = options;
  const calendar = new CampaignCalendar(
    options.campaigns,
    (scope, noticeId) => notices.categoryOf(scope, noticeId),
    { timeZone: options.timeZone, quietHours: options.quietHours },
  );
  app.get(
    '/api/calendar',
    {
      config: allow(ANY_ROLE),
      schema: {
        tags: ['campaigns'],
        summary: '日程：管辖范围内各推送任务的已发与计划批次（按静默时段顺延后的时间）',
        querystring: CalendarQuery,
        response: { 200: Type.Array(CalendarEntryBody) },
      },
    },
    async (request) => {
      const { from, to, status, category } = request.query;
      return calendar.entries(
        principal(request).scope,
        { from: new Date(from), to: new Date(to), status, category },
        now(),
      );
    },
  );

  app.post(
    '/api/campaigns/schedule-preview',
    {
      // Reviewers read a campaign's next runs before deciding.
      config: allow(PLANNERS),
      schema: {
        tags: ['campaigns'],
        summary: '预览发送时间：接下来五次（含静默时段顺延）',
        body: SchedulePreviewBody,
        response: { 200: SchedulePreviewReply },
      },
    },
    async (request) => calendar.preview(toSchedule(request.body.schedule), request.body.priority ?? 'normal', now()),
  );
};

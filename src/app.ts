// Builds the Fastify app: shared plugins, then each room's routes. No logic here.
import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { audienceRoutes } from './audience/routes.js';
import { sheetRoutes } from './audience/sheets/routes.js';
import { auditRoutes } from './audit/routes.js';
import { calendarRoutes } from './campaigns/calendar/routes.js';
import { campaignRoutes } from './campaigns/routes.js';
import { caseRoutes } from './cases/routes.js';
import { testSendRoutes } from './campaigns/test-send/routes.js';
import { engineRoutes } from './engine/routes.js';
import { authRoutes } from './auth/routes.js';
import { channelRoutes, taskPageGate } from './channels/routes.js';
import type { Context } from './context.js';
import { accessControl } from './http/access.js';
import { consoleSite } from './http/console.js';
import { apiDocs } from './http/docs.js';
import { errorHandling, frameworkErrors } from './http/errors.js';
import { securityHeaders } from './http/helmet.js';
import { inputGuard } from './http/input-guard.js';
import { methodNotAllowed } from './http/methods.js';
import { ops } from './http/ops.js';
import { validation } from './http/validation.js';
import { addressKey } from './lib/addresses.js';
import { mediaRoutes } from './media/routes.js';
import { noticeRoutes } from './notices/routes.js';
import { notificationRoutes } from './notifications/routes.js';
import { wecomGroupRoutes } from './channels/wecom-group/routes.js';
import { regionRoutes } from './regions/routes.js';
import { draftPreviewRoutes } from './render/drafts/routes.js';
import { renderRoutes } from './render/routes.js';
import { isResidentPath, residentsRoutes } from './residents/routes.js';
import { tipRoutes } from './tips/routes.js';
import { deliveryListRoutes } from './tracking/deliveries/routes.js';
import { trackingRoutes } from './tracking/routes.js';
import { workbenchRoutes } from './workbench/routes.js';

export interface AppOptions {
  /** Where logs go (tests capture them); default stdout. */
  logStream?: NodeJS.WritableStream;
}

// Anything that could carry a secret is censored in every log line.
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-jingxun-signature"]',
  '*.password',
  '*.newPassword',
  '*.currentPassword',
  '*.token',
  '*.secret',
  '*.key',
  '*.credentials',
  '*.webhookUrl',
];

export async function buildApp(ctx: Context, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: ctx.config.logLevel,
      redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
      serializers: {
        // Signed links (manual-task confirmation) carry their authority in ?sig=: keep it out of logs.
        // Residents' requests (/t, /n, the tip form and its redirect, /media) are logged without
        // address or query: a log line beside a tip's time must not name its sender (issue 26.3).
        req: (req: { method: string; url: string; ip?: string }) =>
          isResidentPath(req.url)
            ? { method: req.method, url: req.url.replace(/[?#].*$/, '') }
            : {
                method: req.method,
                url: req.url.replace(/([?&]sig=)[^&]*/g, '$1[redacted]'),
                remoteAddress: req.ip,
              },
      },
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    bodyLimit: ctx.config.bodyLimitBytes,
    // Only the configured proxies may name the client (TRUST_PROXY); by default nobody can.
    trustProxy: ctx.config.trustProxy,
    frameworkErrors,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(validation);
  await app.register(errorHandling);
  // First hooks: headers on every answer, also a 405 or a 429 refused in onRequest.
  await app.register(securityHeaders, { hsts: ctx.config.hsts });
  await app.register(methodNotAllowed);
  await app.register(rateLimit, {
    global: false,
    // Per client address; an IPv6 client by its /64 (issue 26.4).
    keyGenerator: (request) => addressKey(request.ip),
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      code: 'too_many_requests',
      message: `请求过于频繁，请 ${Math.ceil(context.ttl / 1000)} 秒后再试`,
    }),
  });
  await app.register(apiDocs, { enabled: ctx.config.apiDocs, loopbackOnly: ctx.config.apiDocsLoopbackOnly });
  await app.register(ops, {
    databaseReady: () => ctx.db.ping(),
    metricsToken: ctx.config.metricsToken,
    metricsOpen: ctx.config.metricsOpen,
    trustProxy: ctx.config.trustProxy !== false,
    publicBaseUrl: ctx.config.publicBaseUrl,
  });
  await app.register(inputGuard);
  await app.register(accessControl, { sessions: ctx.sessions });

  await app.register(authRoutes, {
    sessions: ctx.sessions,
    users: ctx.users,
    loginRatePerMinute: ctx.config.loginRatePerMinute,
    regionNames: (codes) => ctx.regions.names(codes),
  });
  await app.register(regionRoutes, { regions: ctx.regions, audit: ctx.audit });
  await app.register(auditRoutes, { audit: ctx.audit });
  await app.register(mediaRoutes, {
    media: ctx.media,
    audit: ctx.audit,
    publicBaseUrl: ctx.config.publicBaseUrl,
    withheld: (sha256) => ctx.notices.pictureWithdrawn(sha256),
  });
  await app.register(noticeRoutes, { notices: ctx.notices, timeZone: ctx.config.timeZone });
  await app.register(renderRoutes, {
    ...ctx,
    notices: ctx.notices,
    media: ctx.media,
    publicBaseUrl: ctx.config.publicBaseUrl,
    timeZone: ctx.config.timeZone,
    now: () => ctx.clock.now(),
  });
  await app.register(audienceRoutes, {
    groups: ctx.groups,
    audience: ctx.audience,
    channels: ctx.channels,
    audit: ctx.audit,
    clock: ctx.clock,
  });
  await app.register(campaignRoutes, { campaigns: ctx.campaigns, timeZone: ctx.config.timeZone });
  await app.register(notificationRoutes, {
    robots: ctx.officerRobots,
    notifier: ctx.notifier,
    users: ctx.users,
    campaigns: ctx.campaigns,
    audit: ctx.audit,
  });
  await app.register(engineRoutes, { campaigns: ctx.campaigns });
  await app.register(wecomGroupRoutes, {
    wecomGroups: ctx.wecomGroups,
    sync: ctx.wecomSync,
    regions: ctx.regions,
    users: ctx.users,
    campaigns: ctx.campaigns,
    audit: ctx.audit,
  });
  const now = () => ctx.clock.now();
  const { timeZone, quietHours, publicBaseUrl } = ctx.config;
  await app.register(calendarRoutes, { campaigns: ctx.campaigns, notices: ctx.notices, timeZone, quietHours, now });
  await app.register(testSendRoutes, {
    ...ctx,
    publicBaseUrl,
    timeZone,
    quietHours,
    dailyQuota: ctx.config.testSendDailyQuota,
    now,
  });
  await app.register(draftPreviewRoutes, { ...ctx, publicBaseUrl, timeZone, now });
  await app.register(sheetRoutes, { groups: ctx.groups, audit: ctx.audit, clock: ctx.clock });
  await app.register(channelRoutes, {
    manualTasks: ctx.manualTasks,
    countyTexts: ctx.countyTexts,
    regions: ctx.regions,
    audit: ctx.audit,
  });

  await app.register(trackingRoutes, ctx.tracking);
  await app.register(deliveryListRoutes, { regions: ctx.regions });
  await app.register(caseRoutes, { cases: ctx.cases });
  await app.register(tipRoutes, { tips: ctx.tips, timeZone: ctx.config.timeZone });
  await app.register(workbenchRoutes, { workbench: ctx.workbench, reviewFacts: ctx.reviewFacts });
  await app.register(residentsRoutes, {
    clicks: ctx.tracking.clicks,
    publication: ctx.publication,
    tips: ctx.tips,
    resolveLink: (code) => ctx.tracking.resolve(code),
    publicBaseUrl: ctx.config.publicBaseUrl,
    timeZone: ctx.config.timeZone,
  });

  await app.register(consoleSite, { gate: taskPageGate(ctx.manualTasks) });

  await app.ready();
  return app;
}

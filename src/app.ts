// Builds the Fastify app: shared plugins, then each room's routes. No logic here.
import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { audienceRoutes } from './audience/routes.js';
import { sheetRoutes } from './audience/sheets/routes.js';
import { auditRoutes } from './audit/routes.js';
import { campaignRoutes } from './campaigns/routes.js';
import { caseRoutes } from './cases/routes.js';
import { engineRoutes } from './engine/routes.js';
import { authRoutes } from './auth/routes.js';
import { channelRoutes } from './channels/routes.js';
import type { Context } from './context.js';
import { accessControl } from './http/access.js';
import { consoleSite } from './http/console.js';
import { apiDocs } from './http/docs.js';
import { errorHandling } from './http/errors.js';
import { inputGuard } from './http/input-guard.js';
import { ops } from './http/ops.js';
import { validation } from './http/validation.js';
import { mediaRoutes } from './media/routes.js';
import { noticeRoutes } from './notices/routes.js';
import { regionRoutes } from './regions/routes.js';
import { renderRoutes } from './render/routes.js';
import { residentsRoutes } from './residents/routes.js';
import { tipRoutes } from './tips/routes.js';
import { trackingRoutes } from './tracking/routes.js';

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
        req: (req: { method: string; url: string; ip?: string }) => ({
          method: req.method,
          url: req.url.replace(/([?&]sig=)[^&]*/g, '$1[redacted]'),
          remoteAddress: req.ip,
        }),
      },
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    bodyLimit: ctx.config.bodyLimitBytes,
    trustProxy: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(validation);
  await app.register(errorHandling);
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      code: 'too_many_requests',
      message: `请求过于频繁，请 ${Math.ceil(context.ttl / 1000)} 秒后再试`,
    }),
  });
  await app.register(apiDocs);
  await app.register(ops, { databaseReady: () => ctx.db.ping() });
  await app.register(inputGuard);
  await app.register(accessControl, { sessions: ctx.sessions });

  await app.register(authRoutes, { sessions: ctx.sessions, users: ctx.users, loginRatePerMinute: 20 });
  await app.register(regionRoutes, { regions: ctx.regions, audit: ctx.audit });
  await app.register(auditRoutes, { audit: ctx.audit });
  await app.register(mediaRoutes, {
    media: ctx.media,
    audit: ctx.audit,
    publicBaseUrl: ctx.config.publicBaseUrl,
    withheld: (sha256) => ctx.notices.pictureWithdrawn(sha256),
  });
  await app.register(noticeRoutes, { notices: ctx.notices });
  await app.register(renderRoutes, {
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
  await app.register(campaignRoutes, { campaigns: ctx.campaigns });
  await app.register(engineRoutes, { campaigns: ctx.campaigns });
  await app.register(sheetRoutes, { groups: ctx.groups, audit: ctx.audit, clock: ctx.clock });
  await app.register(channelRoutes, { manualTasks: ctx.manualTasks, audit: ctx.audit });

  await app.register(trackingRoutes, ctx.tracking);
  await app.register(caseRoutes, { cases: ctx.cases });
  await app.register(tipRoutes, { tips: ctx.tips, users: ctx.users, secrets: ctx.secrets });
  await app.register(residentsRoutes, {
    clicks: ctx.tracking.clicks,
    publication: ctx.publication,
    tips: ctx.tips,
    secret: () => ctx.tracking.secret.get(),
    publicBaseUrl: ctx.config.publicBaseUrl,
  });

  await app.register(consoleSite);

  await app.ready();
  return app;
}

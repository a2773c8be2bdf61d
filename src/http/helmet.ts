// Security headers (@fastify/helmet) on every answer. Two content security policies:
//  - the console's (a Vite + Vue 3 + Element Plus single-page app served from / with its
//    assets under /assets/): own scripts only, inline styles (Element Plus positions popups
//    with style attributes), images from data:/blob: URLs (previews of uploads), no CDN;
//  - a strict one for what residents and officers open from a card without logging in
//    (/n, /t, /media, signed task links: every PUBLIC route): no script at all, inline styles
//    for the page's own <style>, images from this server only.
// Both forbid framing (frame-ancestors 'none' and X-Frame-Options: DENY) and send no referrer
// (a signed task link carries its authority in ?sig=). HSTS and upgrade-insecure-requests
// only when the install is served over TLS (config.hsts), so a county intranet on plain
// http keeps working.
import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

type Directives = Record<string, string[]>;

export const CONSOLE_CSP: Directives = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'connect-src': ["'self'"],
  'font-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

export const PUBLIC_PAGE_CSP: Directives = {
  'default-src': ["'none'"],
  // The residents' pages use one external stylesheet (/n/assets/page.css) and no inline style.
  'style-src': ["'self'"],
  'img-src': ["'self'"],
  // The page's CJK font, served by the console build (/wqy-microhei.ttf).
  'font-src': ["'self'"],
  'base-uri': ["'none'"],
  // The tip form posts to this server.
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

const HSTS_MAX_AGE_SECONDS = 365 * 24 * 3600;

function options(directives: Directives, hsts: boolean): FastifyHelmetOptions {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: hsts ? { ...directives, 'upgrade-insecure-requests': [] } : directives,
    },
    strictTransportSecurity: hsts ? { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: true } : false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  };
}

export const securityHeaders = fp<{ hsts: boolean }>(async (app: FastifyInstance, { hsts }) => {
  const publicPage = {
    ...options(PUBLIC_PAGE_CSP, hsts),
    // Pictures and notice pages are meant to be shown anywhere (chat clients' previews).
    crossOriginResourcePolicy: { policy: 'cross-origin' as const },
  };
  // Before helmet's own onRoute hook: a PUBLIC route gets the strict policy as its helmet config.
  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (access && 'public' in access && access.public && !route.url.startsWith('/api/auth/')) {
      route.config = { ...route.config, helmet: publicPage } as typeof route.config;
    }
  });
  await app.register(helmet, options(CONSOLE_CSP, hsts));
});

declare module 'fastify' {
  interface FastifyContextConfig {
    helmet?: FastifyHelmetOptions & { skipRoute?: boolean };
  }
}

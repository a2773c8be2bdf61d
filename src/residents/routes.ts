// The residents' pages, reached from a card: /t/<code> counts the click and redirects to the
// notice's page /n/<noticeId>; a wanted notice's page carries the 提供线索 form, posted to
// /n/<noticeId>/tips as a plain HTML form (multipart, for the optional photo). Not under /api:
// no login, rate-limited per address, server-rendered HTML without script, friendly pages
// (never JSON) for anything unknown or refused.
import { readFileSync } from 'node:fs';
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import mongoose from 'mongoose';
import { PUBLIC } from '../http/access.js';
import { DomainError, InvalidInput, TooManyRequests } from '../lib/errors.js';
import type { TipInput, TipService } from '../tips/service.js';
import type { ClickService } from '../tracking/clicks.js';
import type { LinkTarget } from '../tracking/links.js';
import { CodeParams, NoticePageParams } from '../tracking/schemas.js';
import { STYLESHEET_PATH, missingPage, noticePage, tipAnswerPage, withdrawnPage } from './page.js';
import type { PublicationService } from './publication.js';

export interface ResidentsRoutesOptions {
  clicks: ClickService;
  publication: PublicationService;
  tips: TipService;
  /** What a /t/ code was made for (short codes from the database, long signed ones decoded). */
  resolveLink: (code: string) => Promise<LinkTarget | null>;
  publicBaseUrl: string;
  /** The install's time zone: the page's date is the approval's local day. */
  timeZone?: string;
  clicksPerMinute?: number;
  /** Posts of the tip form per address and minute (the tip limits proper are in tips/limits.ts). */
  tipPostsPerMinute?: number;
}

/**
 * Paths a resident's phone asks for: the tracked link, the notice page, the tip form and its
 * redirect, pictures. Their log lines carry neither address nor query (src/app.ts).
 */
export function isResidentPath(url: string): boolean {
  return /^\/(?:t|n|media)(?:\/|$|\?)/.test(url);
}

const STYLESHEET = readFileSync(new URL('../../templates/residents/page.css', import.meta.url), 'utf8');

/** Pages that can be withdrawn are cached briefly only (issue 15, finding 5). */
const PAGE_CACHE = 'public, max-age=60';
const TIP_PHOTO_MAX_BYTES = 10 * 1024 * 1024;

function html(reply: FastifyReply, status: number, body: string, cache = 'no-store') {
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', cache)
    .send(body);
}

const notFound = (reply: FastifyReply, what: string) => html(reply, 404, missingPage(what));

const STATUS: Record<string, number> = {
  invalid_input: 400,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  too_many_requests: 429,
};

/** The posted form: multipart (with a photo) or urlencoded (without). */
const TIP_FIELDS = ['text', 'phone', 'challenge', 'answer'] as const;

async function readTipForm(request: FastifyRequest): Promise<TipInput & { text: string; phone: string }> {
  const form = { text: '', phone: '', challenge: '', answer: '', photo: null as Buffer | null };
  if (!request.isMultipart()) {
    const body = (request.body ?? {}) as Record<string, string>;
    for (const name of TIP_FIELDS) form[name] = String(body[name] ?? '');
    return form;
  }
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'photo') throw new InvalidInput(`不支持的文件字段 "${part.fieldname}"`, part.fieldname);
        const data = await part.toBuffer();
        if (data.length > 0) form.photo = data;
      } else if ((TIP_FIELDS as readonly string[]).includes(part.fieldname)) {
        form[part.fieldname as (typeof TIP_FIELDS)[number]] = String(part.value ?? '');
      } else {
        throw new InvalidInput(`不支持的字段 "${part.fieldname}"`, part.fieldname);
      }
    }
  } catch (error) {
    if (error instanceof DomainError) throw error;
    const code = (error as { code?: string }).code ?? '';
    if (code === 'FST_REQ_FILE_TOO_LARGE') {
      throw new InvalidInput(`照片过大，最大 ${TIP_PHOTO_MAX_BYTES / 1024 / 1024} MB`, 'photo');
    }
    // Anything else reading the body can throw is the body's fault (cut short, no boundary, …).
    throw new InvalidInput('提交的表单不完整或格式不正确，请重新填写后提交', 'form');
  }
  return form;
}

export const residentsRoutes: FastifyPluginAsyncTypebox<ResidentsRoutesOptions> = async (app, options) => {
  const { clicks, publication, tips, resolveLink, publicBaseUrl } = options;
  const timeZone = options.timeZone ?? 'Asia/Shanghai';
  // The clicks' tallies are batched per process (tracking/click-flusher.ts): applied at shutdown.
  app.addHook('onClose', async () => clicks.close());
  await app.register(multipart, {
    limits: { fileSize: TIP_PHOTO_MAX_BYTES, files: 1, fields: 4, parts: 5, fieldSize: 64 * 1024 },
  });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 64 * 1024 },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );

  app.get(
    '/t/:code',
    {
      config: { ...PUBLIC, rateLimit: { max: options.clicksPerMinute ?? 60, timeWindow: 60_000 } },
      schema: { tags: ['residents'], summary: '跟踪链接：记录点击后跳转到通知页面（公开）', params: CodeParams },
    },
    async (request, reply) => {
      const target = await resolveLink(request.params.code);
      if (!target) return notFound(reply, '这个链接无效或已失效，请核对二维码或链接是否完整。');
      await clicks.record(target, request.ip, String(request.headers['user-agent'] ?? ''));
      return reply
        .header('cache-control', 'no-store')
        .redirect(`${publicBaseUrl}/n/${encodeURIComponent(target.noticeId)}`, 302);
    },
  );

  app.get(
    STYLESHEET_PATH,
    { config: PUBLIC, schema: { tags: ['residents'], summary: '通知页面样式表（公开）' } },
    async (_request, reply) =>
      reply
        .header('content-type', 'text/css; charset=utf-8')
        .header('cache-control', 'public, max-age=86400')
        .send(STYLESHEET),
  );

  app.get(
    '/n/:noticeId',
    {
      config: { ...PUBLIC, rateLimit: { max: 120, timeWindow: 60_000 } },
      schema: {
        tags: ['residents'],
        summary: '通知公开页面（已发送的通知；撤回或归档后只显示已撤回）',
        params: NoticePageParams,
        querystring: Type.Object({ tip: Type.Optional(Type.Literal('received')) }, { additionalProperties: true }),
      },
    },
    async (request, reply) => {
      const id = request.params.noticeId;
      if (!mongoose.isValidObjectId(id)) return notFound(reply, '没有找到这条通知。');
      const state = await publication.state(id);
      if (state.kind === 'missing') return notFound(reply, '没有找到这条通知，或通知尚未发布。');
      if (state.kind === 'withdrawn') return html(reply, 200, withdrawnPage(state), PAGE_CACHE);
      const received = request.query.tip === 'received';
      // A notice at its tip cap asks each sender a question (issue 26, finding 4): not cached.
      const challenge = state.tipForm === 'open' && !received ? tips.challengeFor(id) : null;
      const tip = state.tipForm ? { noticeId: id, state: state.tipForm, received, challenge } : null;
      return html(reply, 200, noticePage(state.notice, tip, timeZone), received || challenge ? 'no-store' : PAGE_CACHE);
    },
  );

  app.post(
    '/n/:noticeId/tips',
    {
      config: { ...PUBLIC, rateLimit: { max: options.tipPostsPerMinute ?? 30, timeWindow: 60_000 } },
      schema: {
        tags: ['residents'],
        summary:
          '提交线索（公开表单：text 必填，phone、photo 选填；通告线索较多时须答 challenge/answer 算术题；不记录 IP 和设备信息）',
        params: NoticePageParams,
        consumes: ['multipart/form-data', 'application/x-www-form-urlencoded'],
      },
    },
    async (request, reply) => {
      const id = request.params.noticeId;
      if (!mongoose.isValidObjectId(id)) return notFound(reply, '没有找到这条通知。');
      let form: Awaited<ReturnType<typeof readTipForm>> = { text: '', phone: '', photo: null };
      try {
        form = await readTipForm(request);
        await tips.submit(id, form, request.ip);
        return reply.header('cache-control', 'no-store').redirect(`/n/${id}?tip=received#tip`, 303);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        const status = STATUS[error.code] ?? 400;
        if (status === 404) return notFound(reply, '没有找到这条通知，或它不征集线索。');
        const state = await publication.state(id);
        if (status === 400 && state.kind === 'live' && state.tipForm) {
          // The form again, with the message and what was typed (a photo must be picked again).
          // A question asked or answered wrongly comes back as a fresh one.
          const challenge = tips.challengeFor(id);
          const view = { noticeId: id, state: state.tipForm, values: form, error: error.message, challenge };
          return html(reply, 400, noticePage(state.notice, view, timeZone));
        }
        if (error instanceof TooManyRequests) reply.header('retry-after', String(error.retryAfterSeconds));
        const title = status === 429 ? '提交过于频繁' : status === 409 ? '线索征集已结束' : '无法提交线索';
        return html(reply, status, tipAnswerPage(title, error.message));
      }
    },
  );
};

// Public pages residents reach from a card: /t/<code> counts the click and redirects to the
// notice's page /n/<noticeId>, which shows the approved notice text. Not under /api: no
// login, rate-limited per address, and anything unknown gets a friendly page, not JSON.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import mongoose from 'mongoose';
import { PUBLIC } from '../../http/access.js';
import { CATEGORY_LABELS } from '../../notices/categories.js';
import type { NoticeService } from '../../notices/service.js';
import type { RegionService } from '../../regions/service.js';
import type { ClickService } from '../clicks.js';
import { decodeTrackedCode } from '../links.js';
import { CodeParams, NoticePageParams } from '../schemas.js';

export interface PublicRoutesOptions {
  clicks: ClickService;
  notices: NoticeService;
  regions: RegionService;
  secret: () => Buffer;
  publicBaseUrl: string;
  clicksPerMinute?: number;
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>@font-face{font-family:'Jingxun Hei';src:local('PingFang SC'),local('Microsoft YaHei'),local('Noto Sans CJK SC'),local('WenQuanYi Micro Hei'),url('/wqy-microhei.ttf') format('truetype');font-display:swap}body{font-family:'Jingxun Hei','PingFang SC','Microsoft YaHei',sans-serif;font-size:17px;max-width:40em;margin:1.5em auto;padding:0 1em;line-height:1.75;color:#222}h1{font-size:1.4em;line-height:1.4}.meta{color:#555;font-size:.9em}a{color:#1d4e89}</style></head><body>${body}</body></html>`;
}

function notFound(reply: FastifyReply, what: string) {
  return reply
    .status(404)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(
      page(
        '页面不存在',
        `<h1>页面不存在</h1><p>${escapeHtml(what)}</p><p>如需报警请拨打 110，反诈咨询请拨打 96110。</p>`,
      ),
    );
}

/** Light markup of a notice body (paragraphs, **bold**, "- " lists) as safe HTML. */
function bodyHtml(body: string): string {
  return body
    .split(/\n{2,}/)
    .map((paragraph) => {
      const lines = paragraph
        .split('\n')
        .map((line) => escapeHtml(line).replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>'));
      if (lines.every((line) => line.startsWith('- ')))
        return `<ul>${lines.map((l) => `<li>${l.slice(2)}</li>`).join('')}</ul>`;
      return `<p>${lines.join('<br>')}</p>`;
    })
    .join('');
}

export const publicTrackingRoutes: FastifyPluginAsyncTypebox<PublicRoutesOptions> = async (app, options) => {
  const { clicks, notices, regions, secret, publicBaseUrl } = options;

  app.get(
    '/t/:code',
    {
      config: { ...PUBLIC, rateLimit: { max: options.clicksPerMinute ?? 60, timeWindow: 60_000 } },
      schema: { tags: ['tracking'], summary: '跟踪链接：记录点击后跳转到通知页面（公开）', params: CodeParams },
    },
    async (request, reply) => {
      const target = decodeTrackedCode(request.params.code, secret());
      if (!target) return notFound(reply, '这个链接无效或已失效，请核对二维码或链接是否完整。');
      await clicks.record(target, request.ip, String(request.headers['user-agent'] ?? ''));
      return reply
        .header('cache-control', 'no-store')
        .redirect(`${publicBaseUrl}/n/${encodeURIComponent(target.noticeId)}`, 302);
    },
  );

  app.get(
    '/n/:noticeId',
    {
      config: { ...PUBLIC, rateLimit: { max: 120, timeWindow: 60_000 } },
      schema: { tags: ['tracking'], summary: '通知公开页面（已审核通过的版本）', params: NoticePageParams },
    },
    async (request, reply) => {
      const id = request.params.noticeId;
      if (!mongoose.isValidObjectId(id)) return notFound(reply, '没有找到这条通知。');
      const root = regions.rootScope();
      const notice = await notices.get(root, id).catch(() => null);
      if (!notice || notice.approvedVersion == null) return notFound(reply, '没有找到这条通知，或通知尚未发布。');
      const { content } = await notices.getVersion(root, id, notice.approvedVersion);
      const label = CATEGORY_LABELS[content.category] ?? '';
      const html = page(
        content.title,
        `<p class="meta">${escapeHtml(label)}</p><h1>${escapeHtml(content.title)}</h1>${bodyHtml(content.body)}` +
          `<p class="meta">发布单位：${escapeHtml(content.issuingUnit)}　咨询/报警电话：<a href="tel:${escapeHtml(content.hotline.replace(/[^0-9+]/g, ''))}">${escapeHtml(content.hotline)}</a></p>`,
      );
      return reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'public, max-age=300')
        .send(html);
    },
  );
};

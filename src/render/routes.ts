// Previews of every card variant before scheduling (SPEC §3.2), for the API and console.
// The link in a preview is the notice's placeholder address; real sends get tracked
// short links from the tracking room, passed to render the same way.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AUTHORS, REVIEWERS } from '../auth/roles.js';
import { allow, principal } from '../http/access.js';
import { InvalidInput } from '../lib/errors.js';
import { IdParams } from '../lib/schemas.js';
import { mediaUrl } from '../media/routes.js';
import type { MediaStore } from '../media/store.js';
import type { NoticeService } from '../notices/service.js';
import { type PreviewTargetDeps, previewGroup, previewTarget } from '../audience/message-group.js';
import type { Scope } from '../regions/scope.js';
import type { Personalisation } from './content.js';
import { calendarDate, toCardNotice } from './from-notice.js';
import { ImageTooLarge } from './image/encode.js';
import { CHANNEL_KINDS, type ChannelKind } from '../channels/kinds.js';
import { WECOM_IMAGE_MAX_BYTES, limitsOf } from '../channels/limits.js';
import { contentLimit, formatFor, imageFor, textCardFor } from '../channels/message.js';
import { requestBody, requestBodyBytes, textCardBudget } from '../channels/request-body.js';
import { TextCardBody, imagePreviewBody, textPreviewBody } from './schemas.js';
import { CardTooLarge } from './text/render-text-card.js';

const TextPreviewBody = textPreviewBody(CHANNEL_KINDS);
const ImagePreviewBody = imagePreviewBody(CHANNEL_KINDS);

export interface RenderRoutesOptions extends PreviewTargetDeps {
  notices: NoticeService;
  media: MediaStore;
  publicBaseUrl: string;
  timeZone: string;
  now: () => Date;
}

const PREVIEWERS = [...new Set([...AUTHORS, ...REVIEWERS])];

export const renderRoutes: FastifyPluginAsyncTypebox<RenderRoutesOptions> = async (app, options) => {
  const { notices, media, publicBaseUrl, timeZone } = options;

  async function source(scope: Scope, id: string, version: 'working' | number | undefined) {
    if (version === undefined || version === 'working') {
      const notice = await notices.get(scope, id);
      return { content: notice.content, issuedOn: calendarDate(options.now(), timeZone) };
    }
    const approved = await notices.getVersion(scope, id, version);
    return { content: approved.content, issuedOn: calendarDate(approved.approvedAt, timeZone) };
  }

  const previewLink = (id: string) => `${publicBaseUrl}/n/${id}`;

  /** A chosen group's place and officer, or the personal fields given (not both). */
  async function targetOf(scope: Scope, choice: { groupId?: string; personal?: Personalisation | null }) {
    if (choice.groupId && choice.personal) {
      throw new InvalidInput('groupId 与 personal 只能二选一：按群预览时，村名与民警取自该群', 'personal');
    }
    return previewTarget(options, scope, choice);
  }

  app.post(
    '/api/notices/:id/preview/text',
    {
      config: allow(PREVIEWERS, 'notice'),
      schema: {
        tags: ['notices'],
        summary: '预览文字卡片（按渠道格式与字节上限）',
        params: IdParams,
        body: TextPreviewBody,
        response: { 200: TextCardBody },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { personal, cardStyle, groupId } = request.body;
      const channel = (request.body.channel ?? 'wecom') as ChannelKind;
      const format = request.body.format ?? (cardStyle ? formatFor(channel, cardStyle) : null);
      if (!format) throw new InvalidInput('请指定 format（文字格式）或 cardStyle（卡片样式）', 'format');
      const { scope } = principal(request);
      const { content, issuedOn } = await source(scope, id, request.body.version);
      const target = await targetOf(scope, { groupId, personal });
      const group = await previewGroup(options.countyTexts, target, channel, previewLink(id));
      const limits = { wecomTextMaxBytes: request.body.wecomTextMaxBytes };
      // Cut exactly as a send cuts it (channels/message.ts): against the whole request body where the channel limits that.
      const budget = textCardBudget(channel, contentLimit(channel, format, limits));
      const { maxBytes } = budget;
      const firstPicture = content.media[0]?.sha256 ?? content.video?.posterSha256;
      try {
        const card = textCardFor(
          channel,
          format,
          {
            card: toCardNotice(content, issuedOn),
            pictureUrl: firstPicture ? mediaUrl(publicBaseUrl, firstPicture) : null,
          },
          group,
          limits,
        );
        return {
          ...card,
          channel,
          maxBytes,
          bodyBytes: requestBodyBytes(channel, card),
          body: requestBody(channel, card),
          measuredOn: budget.measure ? ('body' as const) : ('content' as const),
        };
      } catch (error) {
        if (error instanceof CardTooLarge) {
          throw new InvalidInput(
            `标题、落款等固定内容已超过该渠道 ${maxBytes} 字节的上限，请缩短标题或发布单位`,
            'title',
          );
        }
        throw error;
      }
    },
  );

  app.post(
    '/api/notices/:id/preview/image',
    {
      config: allow(PREVIEWERS, 'notice'),
      schema: {
        tags: ['notices'],
        summary: '预览图片卡片（返回 PNG/JPEG；个性化条带可选）',
        params: IdParams,
        body: ImagePreviewBody,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const format = request.body.format ?? 'png';
      const channel = (request.body.channel ?? 'wecom') as ChannelKind;
      const { scope } = principal(request);
      const { content, issuedOn } = await source(scope, id, request.body.version);
      const { personal } = await targetOf(scope, request.body);
      // The card shows one picture: the first image, else the video's poster.
      const picture = content.media[0]?.sha256 ?? content.video?.posterSha256;
      const file = picture ? await media.read(picture) : null;
      const photos = file ? [file.data] : [];
      const maxBytes = limitsOf(channel).image ?? WECOM_IMAGE_MAX_BYTES;
      try {
        const card = await imageFor(
          channel,
          { card: toCardNotice(content, issuedOn), photos },
          { link: previewLink(id), personal },
          { format },
        );
        return reply
          .header('content-type', card.mime)
          .header('x-card-sha256', card.sha256)
          .header('x-card-width', String(card.width))
          .header('x-card-height', String(card.height))
          .header('x-card-quality', card.quality)
          .header('x-card-missing-glyphs', encodeURIComponent(card.missingGlyphs.join('')))
          .send(card.data);
      } catch (error) {
        if (error instanceof ImageTooLarge) {
          throw new InvalidInput(`图片卡片无法压缩到该渠道 ${maxBytes} 字节以内，请缩短正文或更换图片`, 'body');
        }
        throw error;
      }
    },
  );
};

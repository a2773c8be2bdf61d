// Previews of content that is still being typed (the console's notice form): every channel's
// text card as it would be posted, and the image card, from the form's fields rather than a
// saved notice, so the preview follows each keystroke without saving drafts. What each channel
// gets is decided by channels/message.ts, the engine's and the test send's own messageFor.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import { type PreviewTargetDeps, previewGroup, previewTarget } from '../../audience/message-group.js';
import { AUTHORS, REVIEWERS } from '../../auth/roles.js';
import { allow, principal } from '../../http/access.js';
import { InvalidInput } from '../../lib/errors.js';
import { Nullable, ObjectIdString } from '../../lib/schemas.js';
import { mediaUrl } from '../../media/routes.js';
import type { MediaStore } from '../../media/store.js';
import { CATEGORIES, type Category, defaultHotline } from '../../notices/categories.js';
import type { CardNotice } from '../content.js';
import { calendarDate } from '../from-notice.js';
import { ImageTooLarge } from '../image/encode.js';
import { fontCovers } from '../image/font.js';
import { CHANNEL_KINDS } from '../../channels/kinds.js';
import { WECOM_IMAGE_MAX_BYTES } from '../../channels/limits.js';
import { contentLimit, formatFor, imageFor, sendsImage, textFor } from '../../channels/message.js';
import { CardTooLarge } from '../text/render-text-card.js';

const PREVIEWERS = [...new Set([...AUTHORS, ...REVIEWERS])];

/** The channels a card goes out on, in the order the console shows them. */
export const PREVIEW_CHANNELS = CHANNEL_KINDS;

// Lenient on purpose: a half-typed form still previews (an empty title shows as empty).
const Text = (max: number) => Type.String({ maxLength: max });
export const DraftContentBody = Type.Object(
  {
    category: Type.Union(CATEGORIES.map((c) => Type.Literal(c))),
    title: Text(80),
    body: Text(20_000),
    summary: Type.Optional(Nullable(Text(300))),
    issuingUnit: Text(60),
    hotline: Type.Optional(Nullable(Text(30))),
    pictureSha256: Type.Optional(Nullable(Type.String({ pattern: '^[0-9a-f]{64}$' }))),
    wanted: Type.Optional(
      Nullable(
        Type.Object(
          {
            caseSummary: Text(500),
            suspectDescription: Text(300),
            reward: Text(60),
            contactName: Text(20),
            contactPhone: Text(30),
            deadline: Text(10),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);
type DraftContent = Static<typeof DraftContentBody>;

const Personal = Type.Object(
  {
    villageName: Type.String({ minLength: 1, maxLength: 40 }),
    townshipName: Type.Optional(Nullable(Text(40))),
    officerName: Type.Optional(Nullable(Text(20))),
    officerPhone: Type.Optional(Nullable(Text(30))),
  },
  { additionalProperties: false },
);
const CardStyle = Type.Union([Type.Literal('text'), Type.Literal('rich'), Type.Literal('image')], {
  default: 'rich',
});

const DraftTextBody = Type.Object(
  {
    content: DraftContentBody,
    cardStyle: Type.Optional(CardStyle),
    personal: Type.Optional(Nullable(Personal)),
    /** Preview for this group: its place, officer and county's officer-text setting (instead of `personal`). */
    groupId: Type.Optional(ObjectIdString),
  },
  { additionalProperties: false },
);
const DraftImageBody = Type.Object(
  { content: DraftContentBody, personal: Type.Optional(Nullable(Personal)) },
  { additionalProperties: false },
);

const DraftCardsReply = Type.Object({
  cards: Type.Array(
    Type.Object({
      channel: Type.String(),
      format: Type.String(),
      /** "image": this channel gets the image card; the text card is its caption-less fallback. */
      sentAs: Type.Union([Type.Literal('text'), Type.Literal('image')]),
      title: Type.String(),
      content: Type.String(),
      bytes: Type.Integer(),
      maxBytes: Type.Integer(),
      truncated: Type.Boolean(),
      error: Nullable(Type.String()),
    }),
  ),
  /** Characters the shipped CJK font cannot draw (shown as 〓 on the image card). */
  missingGlyphs: Type.Array(Type.String()),
});

function cardNotice(content: DraftContent, issuedOn: string): CardNotice {
  return {
    category: content.category as Category,
    title: content.title,
    body: content.body,
    summary: content.summary ?? null,
    issuingUnit: content.issuingUnit,
    hotline: content.hotline?.trim() || defaultHotline(content.category as Category),
    issuedOn,
    wanted: content.wanted ?? null,
  };
}

/** Distinct characters of the card's text that the font lacks (line breaks aside). */
export function missingGlyphs(content: DraftContent): string[] {
  const text = [
    content.title,
    content.body,
    content.summary ?? '',
    content.issuingUnit,
    ...Object.values(content.wanted ?? {}),
  ].join('');
  const missing = new Set<string>();
  for (const char of text) if (char > ' ' && !fontCovers(char)) missing.add(char);
  return [...missing];
}

export interface DraftPreviewOptions extends PreviewTargetDeps {
  media: MediaStore;
  publicBaseUrl: string;
  timeZone: string;
  now: () => Date;
}

export const draftPreviewRoutes: FastifyPluginAsyncTypebox<DraftPreviewOptions> = async (app, options) => {
  const { media, publicBaseUrl } = options;
  const link = `${publicBaseUrl}/n/preview`;
  const issuedOn = () => calendarDate(options.now(), options.timeZone);

  app.post(
    '/api/previews/text',
    {
      config: allow(PREVIEWERS),
      schema: {
        tags: ['notices'],
        summary: '预览未保存内容的文字卡片（各渠道的格式与字节上限）',
        body: DraftTextBody,
        response: { 200: DraftCardsReply },
      },
    },
    async (request) => {
      const { content, personal, groupId } = request.body;
      if (groupId && personal) throw new InvalidInput('groupId 与 personal 只能二选一：按群预览时，村名与民警取自该群', 'personal');
      const cardStyle = request.body.cardStyle ?? 'rich';
      const notice = cardNotice(content, issuedOn());
      const pictureUrl = content.pictureSha256 ? mediaUrl(publicBaseUrl, content.pictureSha256) : null;
      // Whom for: a chosen group, or the given place in the caller's own county (its officer-text setting).
      const target = await previewTarget(options, principal(request).scope, { groupId, personal });
      const groups = await Promise.all(PREVIEW_CHANNELS.map((channel) => previewGroup(options.countyTexts, target, channel, link)));
      const cards = PREVIEW_CHANNELS.map((channel, index) => {
        const format = formatFor(channel, cardStyle);
        const sentAs = sendsImage(channel, cardStyle) ? ('image' as const) : ('text' as const);
        const maxBytes = contentLimit(channel, format);
        try {
          const card = textFor(channel, { card: notice, cardStyle, pictureUrl, photos: [] }, groups[index]!);
          return { channel, sentAs, maxBytes, error: null, ...card };
        } catch (error) {
          if (!(error instanceof CardTooLarge)) throw error;
          const message = `标题、落款等固定内容已超过该渠道 ${maxBytes} 字节的上限，请缩短标题或发布单位`;
          return {
            channel,
            format,
            sentAs,
            maxBytes,
            title: '',
            content: '',
            bytes: 0,
            truncated: true,
            error: message,
          };
        }
      });
      return { cards, missingGlyphs: missingGlyphs(content) };
    },
  );

  app.post(
    '/api/previews/image',
    {
      config: allow(PREVIEWERS),
      schema: {
        tags: ['notices'],
        summary: '预览未保存内容的图片卡片（PNG；可带个性化条带）',
        body: DraftImageBody,
      },
    },
    async (request, reply) => {
      const { content, personal } = request.body;
      for (const field of ['title', 'body', 'issuingUnit'] as const) {
        if (!content[field].trim())
          throw new InvalidInput('图片卡片需要先填写标题、正文和发布单位', `content.${field}`);
      }
      const file = content.pictureSha256 ? await media.read(content.pictureSha256) : null;
      if (content.pictureSha256 && !file) throw new InvalidInput('图片不存在，请重新上传', 'media');
      try {
        const card = await imageFor(
          'wecom',
          { card: cardNotice(content, issuedOn()), photos: file ? [file.data] : [] },
          { link, personal: personal ?? null },
        );
        return reply
          .header('content-type', card.mime)
          .header('cache-control', 'no-store')
          .header('x-card-bytes', String(card.data.length))
          .header('x-card-missing-glyphs', encodeURIComponent(card.missingGlyphs.join('')))
          .send(card.data);
      } catch (error) {
        if (error instanceof ImageTooLarge) {
          throw new InvalidInput(`图片卡片无法压缩到 ${WECOM_IMAGE_MAX_BYTES} 字节以内，请缩短正文或更换图片`, 'body');
        }
        throw error;
      }
    },
  );
};

// What one channel receives for one notice and one group: the ONE place that decides image
// or text, which text format, and how the card is fitted to the channel's limits. The engine,
// the test send and every preview (saved notices, unsaved drafts) call messageFor, so what an
// author previews or test-sends is what gets posted, byte for byte (test/channels/message.test.ts).
import type { CardNotice, Personalisation } from '../render/content.js';
import type { ImageFormat } from '../render/image/encode.js';
import { type ImageCard, ImageCardRenderer } from '../render/image/render-image-card.js';
import { type TextCard, renderTextCard } from '../render/text/render-text-card.js';
import type { ChannelKind } from './kinds.js';
import {
  type ChannelFormat,
  IMAGE_CHANNELS,
  WECOM_IMAGE_MAX_BYTES,
  WECOM_NEWS_TITLE_MAX_BYTES,
  limitsOf,
  wecomTextLimit,
} from './limits.js';
import { textCardBudget } from './request-body.js';
import type { ChannelMessage } from './types.js';

/** A campaign's card style: plain text everywhere, the richest text each channel shows, or the image card. */
export type CardStyle = 'text' | 'rich' | 'image';

/** The notice as every group of a send gets it. */
export interface MessageNotice {
  card: CardNotice;
  cardStyle: CardStyle;
  /** Public URL of the notice's picture (link cards show it). */
  pictureUrl: string | null;
  /** The picture's bytes (image cards draw it). */
  photos: Buffer[];
}

/** The group's part: its place and officer, and its tracked link. */
export interface MessageGroup {
  personal: Personalisation | null;
  /** The group's tracked link (the QR code's target and the text's 详情 link). */
  link: string;
  /**
   * Leave the link out of a manual (officer-forwarded) text: the county's setting, for
   * officers who forward the picture, whose QR code carries the link. Required, so that no
   * path (engine, test send, a preview) can forget the county's choice: a preview that did
   * showed a link the officer's text does not carry.
   */
  omitLinkInText: boolean;
}

export interface MessageOptions {
  /** The renderer whose cache of shared card parts to use (the engine keeps its own). */
  images?: ImageCardRenderer;
  /** An install's WeCom text limit (2048 by default). */
  wecomTextMaxBytes?: number;
}

export interface PreparedMessage {
  /** What the channel's adapter posts. */
  message: ChannelMessage;
  /** The text format used (image messages: null). */
  format: ChannelFormat | null;
  /** The text card (for previews' byte counts); null for an image. */
  text: TextCard | null;
  /** Characters the font lacks, for an image card. */
  missingGlyphs: string[];
}

/** The text format a channel shows for a card style. */
export function formatFor(channel: ChannelKind, cardStyle: CardStyle): ChannelFormat {
  if (cardStyle === 'text' || channel === 'manual') return 'text';
  return channel === 'wecom' ? 'markdown' : 'link';
}

/** Whether the channel gets the image card for a card style. */
export function sendsImage(channel: ChannelKind, cardStyle: CardStyle): boolean {
  return cardStyle === 'image' && IMAGE_CHANNELS.has(channel);
}

/** The content limit of a text card on a channel (what a preview shows beside its byte count). */
export function contentLimit(channel: ChannelKind, format: ChannelFormat, options: MessageOptions = {}): number {
  return channel === 'wecom' && format === 'text'
    ? wecomTextLimit(options.wecomTextMaxBytes)
    : limitsOf(channel)[format];
}

/**
 * A text card in a given format, fitted to the channel as a send fits it (against the whole
 * request body where the channel limits that). Throws CardTooLarge when even an empty body
 * does not fit. messageFor uses the channel's own format; a preview may ask for another.
 */
export function textCardFor(
  channel: ChannelKind,
  format: ChannelFormat,
  notice: Omit<MessageNotice, 'cardStyle' | 'photos'>,
  group: MessageGroup,
  options: MessageOptions = {},
): TextCard {
  const link = channel === 'manual' && group.omitLinkInText ? '' : group.link;
  return renderTextCard(
    { notice: notice.card, link, pictureUrl: notice.pictureUrl, personal: group.personal },
    format,
    { ...textCardBudget(channel, contentLimit(channel, format, options)), titleMaxBytes: WECOM_NEWS_TITLE_MAX_BYTES },
  );
}

/** The text card a channel gets for the notice's card style. */
export function textFor(
  channel: ChannelKind,
  notice: MessageNotice,
  group: MessageGroup,
  options: MessageOptions = {},
): TextCard {
  return textCardFor(channel, formatFor(channel, notice.cardStyle), notice, group, options);
}

const defaultImages = new ImageCardRenderer({ cacheBytes: 32 * 1024 * 1024 });

/** The image card as a channel gets it, its QR code always on the link (previews may ask for JPEG). Throws ImageTooLarge. */
export function imageFor(
  channel: ChannelKind,
  notice: Pick<MessageNotice, 'card' | 'photos'>,
  group: Omit<MessageGroup, 'omitLinkInText'>,
  options: MessageOptions & { format?: ImageFormat } = {},
): Promise<ImageCard> {
  return (options.images ?? defaultImages).render(
    { notice: notice.card, link: group.link, photos: notice.photos, personal: group.personal },
    { format: options.format ?? 'png', maxBytes: limitsOf(channel).image ?? WECOM_IMAGE_MAX_BYTES },
  );
}

/** The message one channel posts for one notice to one group. */
export async function messageFor(
  channel: ChannelKind,
  notice: MessageNotice,
  group: MessageGroup,
  options: MessageOptions = {},
): Promise<PreparedMessage> {
  if (sendsImage(channel, notice.cardStyle)) {
    const image = await imageFor(channel, notice, group, options);
    return {
      message: {
        type: 'image',
        image: { data: image.data, mime: image.mime, title: notice.card.title, url: group.link },
      },
      format: null,
      text: null,
      missingGlyphs: image.missingGlyphs,
    };
  }
  const card = textFor(channel, notice, group, options);
  return { message: { type: 'text', card }, format: card.format, text: card, missingGlyphs: [] };
}

// Notice → image card (PNG or JPEG) under a channel's byte limit. The personalised path:
// the shared part (everything but the per-group strip and QR code) is drawn once and cached
// by a hash of its content; each group's card then costs one small text draw, its own QR
// code (so a scan is counted for its group and township), a composite and an encode.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import sharp, { type OverlayOptions } from 'sharp';
import type { CardNotice, Personalisation } from '../content.js';
import { phoneNumber, placeName } from '../format.js';
import { type ImageFormat, encodeUnder } from './encode.js';
import { STRIP_HEIGHT, type SharedCard, drawSharedCard, drawStripText, qrCode } from './layout.js';

export interface ImageCardInput {
  notice: CardNotice;
  /** The tracked link the QR code points to, made by the caller. */
  link: string;
  /** Pictures' bytes (normalised media); the first is drawn on the card. */
  photos?: Buffer[];
  personal?: Personalisation | null;
}

export interface ImageCardOptions {
  format: ImageFormat;
  maxBytes: number;
}

export interface ImageCard {
  data: Buffer;
  mime: 'image/png' | 'image/jpeg';
  width: number;
  height: number;
  sha256: string;
  /** Characters the shipped font lacks (emoji and rare CJK alike), each printed as one 〓. */
  missingGlyphs: string[];
  /** Which encoding step met the byte limit (full, palette-256, q80, …). */
  quality: string;
}

/** Bump when the layout changes, so cached shared parts of the old layout are not reused. */
const LAYOUT_VERSION = 3;

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

function sharedKey(input: ImageCardInput): string {
  return sha256(
    JSON.stringify({
      v: LAYOUT_VERSION,
      notice: input.notice,
      // A personalised card's QR code is the group's own, drawn per card: the shared part has none.
      link: input.personal ? null : input.link,
      photos: (input.photos ?? []).map((photo) => sha256(photo)),
      personalised: Boolean(input.personal),
    }),
  );
}

function stripLines(personal: Personalisation): [string, string | null] {
  const officer = personal.officerName
    ? `责任民警：${personal.officerName}${personal.officerPhone ? ` ${phoneNumber(personal.officerPhone)}` : ''}`
    : null;
  return [`${placeName(personal.villageName, personal.townshipName)} 群众请注意`, officer];
}

export interface ImageCardRendererOptions {
  /** Bytes of raw shared parts kept in memory; 0 turns the cache off (every card drawn whole). */
  cacheBytes: number;
}

export class ImageCardRenderer {
  private readonly cache: LRUCache<string, SharedCard> | null;
  /** Shared parts being drawn, so concurrent cards of one notice draw it once. */
  private readonly drawing = new Map<string, Promise<SharedCard>>();

  constructor(options: ImageCardRendererOptions) {
    this.cache =
      options.cacheBytes > 0
        ? new LRUCache<string, SharedCard>({ maxSize: options.cacheBytes, sizeCalculation: (card) => card.raw.length })
        : null;
  }

  private async shared(input: ImageCardInput): Promise<SharedCard> {
    const draw = () =>
      drawSharedCard({
        notice: input.notice,
        link: input.personal ? null : input.link,
        photos: input.photos ?? [],
        personalised: Boolean(input.personal),
      });
    if (!this.cache) return draw();
    const key = sharedKey(input);
    const cached = this.cache.get(key);
    if (cached) return cached;
    let pending = this.drawing.get(key);
    if (!pending) {
      pending = draw().finally(() => this.drawing.delete(key));
      this.drawing.set(key, pending);
    }
    const card = await pending;
    if (card.raw.length <= this.cache.maxSize) this.cache.set(key, card);
    return card;
  }

  async render(input: ImageCardInput, options: ImageCardOptions): Promise<ImageCard> {
    const shared = await this.shared(input);
    const missing = new Set(shared.missingGlyphs);
    const overlays: OverlayOptions[] = [];
    if (input.personal) overlays.push({ ...qrCode(input.link), ...shared.qrAt });
    if (input.personal && shared.stripTop !== null) {
      const strip = await drawStripText(stripLines(input.personal));
      for (const char of strip.missing) missing.add(char);
      overlays.push({
        input: strip.data,
        left: 40,
        top: shared.stripTop + Math.max(0, Math.round((STRIP_HEIGHT - strip.height) / 2)),
      });
    }
    const pipeline = () => {
      const image = sharp(shared.raw, { raw: { width: shared.width, height: shared.height, channels: 4 } });
      return overlays.length > 0 ? image.composite(overlays) : image;
    };
    const { data, quality } = await encodeUnder(pipeline, options.format, options.maxBytes);
    return {
      data,
      mime: options.format === 'png' ? 'image/png' : 'image/jpeg',
      width: shared.width,
      height: shared.height,
      sha256: sha256(data),
      missingGlyphs: [...missing],
      quality,
    };
  }
}

const defaultRenderer = new ImageCardRenderer({ cacheBytes: 96 * 1024 * 1024 });

/** Renders with the process-wide cache of shared parts. */
export function renderImageCard(input: ImageCardInput, options: ImageCardOptions): Promise<ImageCard> {
  return defaultRenderer.render(input, options);
}

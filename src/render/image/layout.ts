// The shared part of an image card: everything except the per-group strip. Drawn once per
// notice version and link, then cached (see render-image-card.ts).
import QRCode from 'qrcode';
import sharp, { type OverlayOptions } from 'sharp';
import type { CardNotice } from '../content.js';
import { chineseDate, phoneNumber } from '../format.js';
import { type Block, type Span, parseBody } from '../markup.js';
import { breakText, measure } from '../typeset/breaker.js';
import { blockLines, styledLines } from '../typeset/markup-lines.js';
import { fitToFont } from './font.js';
import { type DrawnText, drawMarkup, escapePango } from './text-block.js';
import { THEMES, type Theme, bannerFor, callToAction } from './themes.js';

export const CARD_WIDTH = 750;
const PAD = 40;
const CONTENT_WIDTH = CARD_WIDTH - 2 * PAD;
const BANNER_HEIGHT = 112;
export const STRIP_HEIGHT = 104;
const BODY_MAX_HEIGHT = 980;
const PHOTO_MAX_HEIGHT = 520;
const WANTED_PHOTO = { width: 260, height: 340 };
const QR_SIZE = 184;
const MARK_SIZE = 76;

/** The issuing unit's mark area: a white disc with 警 (an install's own emblem is not shipped). */
async function markArea(theme: Theme): Promise<Buffer> {
  const r = MARK_SIZE / 2;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${MARK_SIZE}" height="${MARK_SIZE}">` +
    `<circle cx="${r}" cy="${r}" r="${r - 2}" fill="#ffffff"/>` +
    `<circle cx="${r}" cy="${r}" r="${r - 7}" fill="none" stroke="${theme.primary}" stroke-width="3"/></svg>`;
  const disc = await sharp(Buffer.from(svg)).png().toBuffer();
  const glyph = await drawMarkup('<b>警</b>', { sizePx: 36, color: theme.primary });
  return sharp(disc)
    .composite([
      {
        input: glyph.data,
        left: Math.round((MARK_SIZE - glyph.width) / 2),
        top: Math.round((MARK_SIZE - glyph.height) / 2),
      },
    ])
    .png()
    .toBuffer();
}

export interface SharedCard {
  /** Raw RGBA pixels. */
  raw: Buffer;
  width: number;
  height: number;
  /** Top of the reserved per-group strip, or null when the card has none. */
  stripTop: number | null;
  /** Where the QR code is (or goes, when it is drawn per group). */
  qrAt: { top: number; left: number };
  theme: Theme;
  missingGlyphs: string[];
}

class Glyphs {
  readonly missing = new Set<string>();
  fit(text: string): string {
    const fitted = fitToFont(text);
    for (const char of fitted.missing) this.missing.add(char);
    return fitted.text;
  }
  spans(spans: Span[]): Span[] {
    return spans.map((span) => ({ ...span, text: this.fit(span.text) }));
  }
  blocks(blocks: Block[]): Block[] {
    return blocks.map((block) =>
      block.kind === 'paragraph'
        ? { ...block, lines: block.lines.map((line) => this.spans(line)) }
        : { ...block, items: block.items.map((item) => this.spans(item)) },
    );
  }
}

const BODY_STYLE = { sizePx: 30, lineSpacing: 14 };

/** A label in bold followed by its value, continuation lines hanging under the value. */
function labelled(label: string, value: string, sizePx: number, width: number, glyphs: Glyphs): string[] {
  const lead = `<b>${escapePango(label)}</b>`;
  return styledLines(
    [{ text: glyphs.fit(value), bold: false }],
    { sizePx, width },
    escapePango,
    lead,
    measure(label, sizePx, true),
    'under-text',
  );
}

/** Draws the body, cut on a line so it fits the card, ending with a pointer to the QR code. */
async function drawBody(body: string, theme: Theme, glyphs: Glyphs, maxHeight: number): Promise<DrawnText> {
  const style = { ...BODY_STYLE, color: theme.ink };
  const lines = blockLines(glyphs.blocks(parseBody(body)), { sizePx: style.sizePx, width: CONTENT_WIDTH }, escapePango);
  const lineHeight = Math.round(style.sizePx * 1.17) + style.lineSpacing;
  const pointer = '<b>……（全文请扫描下方二维码）</b>';
  let keep = Math.min(lines.length, Math.max(1, Math.floor((maxHeight + style.lineSpacing) / lineHeight)));
  const draw = (n: number) =>
    drawMarkup(lines.slice(0, n).join('\n') + (n < lines.length ? `\n${pointer}` : ''), style);
  if (keep < lines.length) keep = Math.max(1, keep - 1);
  let drawn = await draw(keep);
  while (drawn.height > maxHeight && keep > 1) {
    keep -= 1;
    drawn = await draw(keep);
  }
  return drawn;
}

/**
 * A QR code as raw pixels, QR_SIZE square: whole pixels per module on white, built from the
 * code's module matrix (no PNG encode and decode: it is drawn once per group's card).
 */
export function qrCode(link: string): OverlayOptions {
  const { modules } = QRCode.create(link, { errorCorrectionLevel: 'M' });
  const count = modules.size + 2; // a one-module quiet zone, as before
  const scale = Math.floor(QR_SIZE / count);
  const offset = Math.floor((QR_SIZE - scale * count) / 2) + scale;
  const data = Buffer.alloc(QR_SIZE * QR_SIZE * 4, 0xff);
  for (let row = 0; row < modules.size; row++) {
    for (let col = 0; col < modules.size; col++) {
      if (!modules.get(row, col)) continue;
      for (let dy = 0; dy < scale; dy++) {
        const start = ((offset + row * scale + dy) * QR_SIZE + offset + col * scale) * 4;
        for (let i = 0; i < scale; i++) data.writeUInt32BE(0x000000ff, start + i * 4);
      }
    }
  }
  return { input: data, raw: { width: QR_SIZE, height: QR_SIZE, channels: 4 } };
}

async function fitPhoto(photo: Buffer, width: number, height: number, cover: boolean) {
  const { data, info } = await sharp(photo, { limitInputPixels: 40_000_000 })
    .resize({ width, height, fit: cover ? 'cover' : 'inside', withoutEnlargement: !cover })
    .png({ compressionLevel: 0 })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export interface SharedCardInput {
  notice: CardNotice;
  /** The QR code's target; null: the QR is per group, drawn over `qr` by the personalised path. */
  link: string | null;
  photos: Buffer[];
  /** Reserve the strip the per-group part is drawn on. */
  personalised: boolean;
}

export async function drawSharedCard(input: SharedCardInput): Promise<SharedCard> {
  const { notice } = input;
  const theme = THEMES[notice.category];
  const glyphs = new Glyphs();
  const layers: OverlayOptions[] = [];
  let y = 0;

  // Banner: the issuing unit beside its mark area, and the category unless the title says it.
  layers.push({
    input: { create: { width: CARD_WIDTH, height: BANNER_HEIGHT, channels: 4, background: theme.primary } },
    top: 0,
    left: 0,
  });
  layers.push({ input: await markArea(theme), top: Math.round((BANNER_HEIGHT - MARK_SIZE) / 2), left: PAD });
  const bannerLeft = PAD + MARK_SIZE + 20;
  const bannerWidth = CARD_WIDTH - bannerLeft - PAD;
  const category = bannerFor(theme, notice.title);
  const unitSize = 34;
  const unitLine = breakText(glyphs.fit(notice.issuingUnit.trim()), {
    sizePx: unitSize,
    width: bannerWidth,
    bold: true,
  })
    .slice(0, 2)
    .map(escapePango);
  const bannerText = await drawMarkup(
    [
      `<span font_weight="bold" size="${unitSize * 1024}">${unitLine.join('\n')}</span>`,
      category ? `<span size="${24 * 1024}" fgalpha="85%">${escapePango(category)}</span>` : null,
    ]
      .filter(Boolean)
      .join('\n'),
    { sizePx: 24, color: '#ffffff', lineSpacing: 2 },
  );
  layers.push({
    input: bannerText.data,
    top: Math.max(4, Math.round((BANNER_HEIGHT - bannerText.height) / 2)),
    left: bannerLeft,
  });
  y = BANNER_HEIGHT + 36;

  // Title: balanced lines, never a stub of one or two characters on the last.
  const titleSize = 42;
  const titleLines = breakText(glyphs.fit(notice.title.trim()), {
    sizePx: titleSize,
    width: CONTENT_WIDTH,
    balance: true,
    bold: true,
  });
  const title = await drawMarkup(titleLines.map(escapePango).join('\n'), {
    sizePx: titleSize,
    color: theme.heading,
    bold: true,
    lineSpacing: 10,
  });
  layers.push({ input: title.data, top: y, left: PAD });
  y += title.height + 30;

  const firstPhoto = input.photos[0];
  if (theme.layout === 'wanted' && notice.wanted) {
    const w = notice.wanted;
    const columnLeft = firstPhoto ? PAD + WANTED_PHOTO.width + 28 : PAD;
    const columnWidth = CARD_WIDTH - PAD - columnLeft;
    // Each field as a small label over its value: the column is narrow beside the photo.
    // Reward and deadline, what a reader must not miss, in the accent colour and larger.
    const field = (label: string, value: string, size: number, strong: boolean) =>
      [
        `<span size="${22 * 1024}" foreground="${theme.muted}">${escapePango(label)}</span>`,
        ...breakText(glyphs.fit(value), { sizePx: size, width: columnWidth, bold: strong }).map((line) =>
          strong
            ? `<span size="${size * 1024}" foreground="${theme.primary}"><b>${escapePango(line)}</b></span>`
            : `<span size="${size * 1024}">${escapePango(line)}</span>`,
        ),
      ].join('\n');
    const column = await drawMarkup(
      [
        field('悬赏', w.reward, 32, true),
        field('截止日期', chineseDate(w.deadline), 32, true),
        field('嫌疑人特征', w.suspectDescription, 28, false),
        field('联系人', `${w.contactName} ${phoneNumber(w.contactPhone)}`, 28, false),
      ].join('\n'),
      { sizePx: 28, color: theme.ink, lineSpacing: 8 },
    );
    let blockHeight = column.height;
    if (firstPhoto) {
      const photo = await fitPhoto(firstPhoto, WANTED_PHOTO.width, WANTED_PHOTO.height, true);
      layers.push({ input: photo.data, top: y, left: PAD });
      blockHeight = Math.max(blockHeight, photo.height);
    }
    layers.push({ input: column.data, top: y, left: columnLeft });
    y += blockHeight + 28;
    const summary = await drawMarkup(labelled('简要案情：', w.caseSummary, 28, CONTENT_WIDTH, glyphs).join('\n'), {
      sizePx: 28,
      color: theme.ink,
      lineSpacing: 12,
    });
    layers.push({ input: summary.data, top: y, left: PAD });
    y += summary.height + 24;
  }

  const body = await drawBody(notice.body, theme, glyphs, BODY_MAX_HEIGHT);
  layers.push({ input: body.data, top: y, left: PAD });
  y += body.height + 30;

  if (firstPhoto && theme.layout === 'notice') {
    const photo = await fitPhoto(firstPhoto, CONTENT_WIDTH, PHOTO_MAX_HEIGHT, false);
    layers.push({ input: photo.data, top: y, left: PAD + Math.round((CONTENT_WIDTH - photo.width) / 2) });
    y += photo.height + 30;
  }

  // Footer: a rule, the QR code of the tracked link, and who issued the notice.
  layers.push({
    input: { create: { width: CONTENT_WIDTH, height: 2, channels: 4, background: theme.primary } },
    top: y,
    left: PAD,
  });
  y += 26;
  const qrAt = { top: y, left: PAD };
  if (input.link !== null) layers.push({ ...qrCode(input.link), ...qrAt });
  const footerWidth = CONTENT_WIDTH - QR_SIZE - 28;
  const footerSize = 26;
  const footer = await drawMarkup(
    [
      ...labelled('发布单位：', notice.issuingUnit, footerSize, footerWidth, glyphs),
      ...labelled('报警求助：', notice.hotline, footerSize, footerWidth, glyphs).map((line) => `<b>${line}</b>`),
      ...labelled('发布日期：', chineseDate(notice.issuedOn), footerSize, footerWidth, glyphs),
      `<span foreground="${theme.primary}"><b>${escapePango(callToAction(notice.category))}</b></span>`,
    ].join('\n'),
    { sizePx: footerSize, color: theme.ink, lineSpacing: 12 },
  );
  layers.push({
    input: footer.data,
    top: y + Math.max(0, Math.round((QR_SIZE - footer.height) / 2)),
    left: PAD + QR_SIZE + 28,
  });
  y += Math.max(QR_SIZE, footer.height) + 30;

  let stripTop: number | null = null;
  if (input.personalised) {
    stripTop = y;
    layers.push({
      input: { create: { width: CARD_WIDTH, height: STRIP_HEIGHT, channels: 4, background: theme.primary } },
      top: y,
      left: 0,
    });
    y += STRIP_HEIGHT;
  }

  const height = y;
  const raw = await sharp({ create: { width: CARD_WIDTH, height, channels: 4, background: theme.paper } })
    .composite(layers)
    .raw()
    .toBuffer();
  return { raw, width: CARD_WIDTH, height, stripTop, qrAt, theme, missingGlyphs: [...glyphs.missing] };
}

/** The per-group strip's text: the place as people say it, the responsible officer. */
export async function drawStripText(lines: [string, string | null]): Promise<DrawnText & { missing: string[] }> {
  const glyphs = new Glyphs();
  const size = 28;
  const first = breakText(glyphs.fit(lines[0]), { sizePx: size, width: CONTENT_WIDTH, bold: true })
    .slice(0, 1)
    .map((line) => `<b>${escapePango(line)}</b>`);
  const second = lines[1]
    ? breakText(glyphs.fit(lines[1]), { sizePx: size, width: CONTENT_WIDTH }).slice(0, 1).map(escapePango)
    : [];
  const drawn = await drawMarkup([...first, ...second].join('\n'), { sizePx: size, color: '#ffffff', lineSpacing: 8 });
  return { ...drawn, missing: [...glyphs.missing] };
}

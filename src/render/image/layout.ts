// The shared part of an image card: everything except the per-group strip. Drawn once per
// notice version and link, then cached (see render-image-card.ts).
import QRCode from 'qrcode';
import sharp, { type OverlayOptions } from 'sharp';
import type { CardNotice } from '../content.js';
import { type Span, parseBody } from '../markup.js';
import { fitToFont } from './font.js';
import { type DrawnText, drawMarkup, drawText, escapePango } from './text-block.js';
import { THEMES, type Theme } from './themes.js';

export const CARD_WIDTH = 750;
const PAD = 40;
const CONTENT_WIDTH = CARD_WIDTH - 2 * PAD;
const BANNER_HEIGHT = 112;
export const STRIP_HEIGHT = 104;
const BODY_MAX_HEIGHT = 980;
const PHOTO_MAX_HEIGHT = 520;
const WANTED_PHOTO = { width: 260, height: 340 };
const QR_SIZE = 184;

export interface SharedCard {
  /** Raw RGBA pixels. */
  raw: Buffer;
  width: number;
  height: number;
  /** Top of the reserved per-group strip, or null when the card has none. */
  stripTop: number | null;
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
}

function spansMarkup(spans: Span[], glyphs: Glyphs): string {
  return spans
    .map((span) => {
      const text = escapePango(glyphs.fit(span.text));
      return span.bold ? `<b>${text}</b>` : text;
    })
    .join('');
}

/** Body as Pango markup: paragraphs indented the Chinese way, lists with bullets. */
function bodyMarkup(body: string, glyphs: Glyphs): string {
  const lines: string[] = [];
  for (const block of parseBody(body)) {
    if (block.kind === 'paragraph') lines.push(...block.lines.map((line) => `　　${spansMarkup(line, glyphs)}`));
    else
      lines.push(...block.items.map((item, i) => `${block.ordered ? `${i + 1}.` : '•'} ${spansMarkup(item, glyphs)}`));
  }
  return lines.join('\n');
}

/** Draws the body, cut on a character so it fits the card, ending with a pointer to the QR code. */
async function drawBody(body: string, theme: Theme, glyphs: Glyphs, maxHeight: number): Promise<DrawnText> {
  const style = { sizePx: 30, color: theme.ink, width: CONTENT_WIDTH, lineSpacing: 14 };
  // Never hand Pango more than could ever fit: a 20,000-character body would exceed
  // cairo's largest surface (32,767 px) and fail. The lines and characters kept here are
  // about twice what fits the card; the loop below cuts to the exact height.
  const roughLines = Math.ceil(maxHeight / (style.sizePx + style.lineSpacing));
  const roughChars = roughLines * Math.ceil(CONTENT_WIDTH / style.sizePx);
  let chars = Array.from(
    body
      .split('\n')
      .slice(0, roughLines * 2)
      .join('\n'),
  ).slice(0, roughChars * 2);
  const cutEarly = chars.length < Array.from(body).length;
  const pointer = '……\n<b>（全文请扫描下方二维码）</b>';
  let drawn = await drawMarkup(bodyMarkup(chars.join(''), glyphs) + (cutEarly ? pointer : ''), style);
  // Each pass cuts in proportion to the overflow; a few passes always converge.
  for (let pass = 0; drawn.height > maxHeight && pass < 8; pass++) {
    const keep = Math.max(0, Math.floor(chars.length * (maxHeight / drawn.height) * 0.97) - 12);
    chars = chars.slice(0, keep);
    const cut = chars.join('').trimEnd();
    drawn = await drawMarkup(bodyMarkup(cut, glyphs) + pointer, style);
  }
  return drawn;
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
  link: string;
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

  // Banner: the category's band with its name and the issuing unit.
  layers.push({
    input: { create: { width: CARD_WIDTH, height: BANNER_HEIGHT, channels: 4, background: theme.primary } },
    top: 0,
    left: 0,
  });
  const banner = await drawText(theme.banner, { sizePx: 46, color: '#ffffff', bold: true });
  layers.push({ input: banner.data, top: Math.round((BANNER_HEIGHT - banner.height) / 2), left: PAD });
  const unit = await drawText(glyphs.fit(notice.issuingUnit), {
    sizePx: 22,
    color: '#ffffffcc',
    width: 300,
    align: 'centre',
  });
  layers.push({
    input: unit.data,
    top: Math.round((BANNER_HEIGHT - unit.height) / 2),
    left: CARD_WIDTH - PAD - unit.width,
  });
  y = BANNER_HEIGHT + 36;

  const title = await drawText(glyphs.fit(notice.title.trim()), {
    sizePx: 42,
    color: theme.heading,
    bold: true,
    width: CONTENT_WIDTH,
    lineSpacing: 10,
  });
  layers.push({ input: title.data, top: y, left: PAD });
  y += title.height + 30;

  const firstPhoto = input.photos[0];
  if (theme.layout === 'wanted' && notice.wanted) {
    const w = notice.wanted;
    const columnLeft = firstPhoto ? PAD + WANTED_PHOTO.width + 28 : PAD;
    const fields = [
      ['嫌疑人特征', w.suspectDescription],
      ['悬赏', w.reward],
      ['联系人', `${w.contactName} ${w.contactPhone}`],
      ['截止日期', w.deadline],
    ]
      .map(([label, value]) => `<b>${label}：</b>${escapePango(glyphs.fit(value ?? ''))}`)
      .join('\n');
    const column = await drawMarkup(fields, {
      sizePx: 28,
      color: theme.ink,
      width: CARD_WIDTH - PAD - columnLeft,
      lineSpacing: 14,
    });
    let blockHeight = column.height;
    if (firstPhoto) {
      const photo = await fitPhoto(firstPhoto, WANTED_PHOTO.width, WANTED_PHOTO.height, true);
      layers.push({ input: photo.data, top: y, left: PAD });
      blockHeight = Math.max(blockHeight, photo.height);
    }
    layers.push({ input: column.data, top: y, left: columnLeft });
    y += blockHeight + 28;
    const summary = await drawMarkup(`<b>简要案情：</b>${escapePango(glyphs.fit(w.caseSummary))}`, {
      sizePx: 28,
      color: theme.ink,
      width: CONTENT_WIDTH,
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
  const qr = await QRCode.toBuffer(input.link, { type: 'png', width: QR_SIZE, margin: 1, errorCorrectionLevel: 'M' });
  layers.push({ input: qr, top: y, left: PAD });
  const footer = await drawMarkup(
    [
      `发布单位：${escapePango(glyphs.fit(notice.issuingUnit))}`,
      `报警求助：<b>${escapePango(glyphs.fit(notice.hotline))}</b>`,
      `发布日期：${escapePango(notice.issuedOn)}`,
      '扫码查看全文、提供线索',
    ].join('\n'),
    { sizePx: 26, color: theme.ink, width: CONTENT_WIDTH - QR_SIZE - 28, lineSpacing: 12 },
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
  return { raw, width: CARD_WIDTH, height, stripTop, theme, missingGlyphs: [...glyphs.missing] };
}

/** The per-group strip's text: village and township, the responsible officer. */
export async function drawStripText(lines: [string, string | null]): Promise<DrawnText & { missing: string[] }> {
  const glyphs = new Glyphs();
  const markup = [`<b>${escapePango(glyphs.fit(lines[0]))}</b>`, lines[1] ? escapePango(glyphs.fit(lines[1])) : null]
    .filter(Boolean)
    .join('\n');
  const drawn = await drawMarkup(markup, { sizePx: 28, color: '#ffffff', width: CONTENT_WIDTH, lineSpacing: 8 });
  return { ...drawn, missing: [...glyphs.missing] };
}

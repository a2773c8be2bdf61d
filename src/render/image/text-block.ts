// One block of text drawn by Pango (through sharp) with the shipped font: Chinese line
// breaking ('word-char' breaks between words, and inside a word only when it must).
import sharp from 'sharp';
import { FONT_FAMILY, FONT_FILE } from './font.js';

export interface TextStyle {
  sizePx: number;
  color: string;
  bold?: boolean;
  /** Wrap width in pixels; unset: one line. */
  width?: number;
  /** Extra pixels between lines. */
  lineSpacing?: number;
  align?: 'left' | 'centre';
}

export interface DrawnText {
  data: Buffer;
  width: number;
  height: number;
}

// Pango markup is XML: C0 controls (but tab and newline), DEL and lone surrogates make it
// refuse the whole text, and the card would fail for every group; drop the controls and
// show a lone surrogate as U+FFFD.
const NOT_IN_MARKUP = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function escapePango(text: string): string {
  return text
    .replace(NOT_IN_MARKUP, '')
    .replace(LONE_SURROGATE, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** Draws Pango markup (escape user text with escapePango) into a transparent PNG. */
export async function drawMarkup(markup: string, style: TextStyle): Promise<DrawnText> {
  const weight = style.bold ? 'bold' : 'normal';
  const { data, info } = await sharp({
    text: {
      text: `<span foreground="${style.color}" font_weight="${weight}">${markup}</span>`,
      font: `${FONT_FAMILY} ${style.sizePx}px`,
      fontfile: FONT_FILE,
      ...(style.width ? { width: style.width } : {}),
      wrap: 'word-char',
      align: style.align === 'centre' ? 'centre' : 'left',
      spacing: style.lineSpacing ?? 0,
      rgba: true,
      dpi: 72,
    },
  })
    .png({ compressionLevel: 0 })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export function drawText(text: string, style: TextStyle): Promise<DrawnText> {
  return drawMarkup(escapePango(text), style);
}

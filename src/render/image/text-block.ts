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

// Pango markup is XML: C0 controls (but tab, newline and carriage return), DEL and lone
// surrogates make it refuse the whole text, and the card would fail for every group. Drop
// the controls; show a lone surrogate as U+FFFD. (for…of walks code points: a paired
// surrogate arrives as one code point above U+FFFF.)
function markupSafe(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f) continue;
    out += code >= 0xd800 && code <= 0xdfff ? '\ufffd' : char;
  }
  return out;
}

export function escapePango(text: string): string {
  return markupSafe(text)
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

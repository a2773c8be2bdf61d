// The CJK font shipped with the project (media/fonts/, WenQuanYi Micro Hei, Apache-2.0),
// used by file path so a card looks the same on every machine, whatever fonts it has.
// Its cmap is read once (fontkit) so characters it lacks are handled before drawing:
// Pango would otherwise fall back to whatever the machine has, or draw a box. Read on first
// use, fontkit with it: every process that serves the API imports this module, and opening
// the 5 MB font costs a tenth of a second or two of CPU that a process never drawing a card
// (most test files, a worker of robot-free groups) need not pay. The font ships in the
// repository; a damaged one now fails the first card drawn instead of the process's start.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const FONT_FILE = fileURLToPath(new URL('../../../media/fonts/wqy-microhei.ttc', import.meta.url));
export const FONT_FAMILY = 'WenQuanYi Micro Hei';
/** Printed in place of a character the font lacks (the Chinese typesetting mark for a missing character). */
export const MISSING_MARK = '〓';

type FontLike = {
  hasGlyphForCodePoint(codePoint: number): boolean;
  glyphForCodePoint(codePoint: number): { advanceWidth: number };
  familyName: string;
  unitsPerEm: number;
};

function openFont(): FontLike {
  const fontkit = createRequire(import.meta.url)('fontkit') as typeof import('fontkit');
  const opened = fontkit.openSync(FONT_FILE) as unknown as FontLike | { fonts: FontLike[] };
  const fonts = 'fonts' in opened ? opened.fonts : [opened];
  const font = fonts.find((f) => f.familyName === FONT_FAMILY);
  if (!font) throw new Error(`${FONT_FILE} does not contain the family ${FONT_FAMILY}`);
  return font;
}

let opened: FontLike | undefined;
const theFont = (): FontLike => (opened ??= openFont());

export function fontCovers(char: string): boolean {
  const codePoint = char.codePointAt(0);
  return codePoint !== undefined && theFont().hasGlyphForCodePoint(codePoint);
}

/** Advance width of a character in em (1 for one the font lacks: it is printed as 〓, 1 em wide). */
export function fontAdvanceEm(codePoint: number): number {
  const font = theFont();
  if (codePoint === 0x3013 || !font.hasGlyphForCodePoint(codePoint)) return 1;
  return font.glyphForCodePoint(codePoint).advanceWidth / font.unitsPerEm;
}

// Joiners and variation selectors are invisible: they never need a glyph of their own.
const INVISIBLE = /[\u200d\ufe0e\ufe0f]/gu;
const graphemes = new Intl.Segmenter('zh', { granularity: 'grapheme' });

export interface FittedText {
  text: string;
  /** Distinct characters (as a reader sees them) the font lacks; each is printed as one 〓. */
  missing: string[];
}

/**
 * Text with every character drawable by the shipped font. Works on what a reader sees as
 * one character (an emoji sequence, a flag, a hanzi outside the font): each missing one
 * is printed as one 〓, emoji and rare CJK alike, so nothing vanishes without a trace.
 */
export function fitToFont(text: string): FittedText {
  const missing = new Set<string>();
  let out = '';
  for (const { segment } of graphemes.segment(text)) {
    const visible = segment.replace(INVISIBLE, '');
    if (visible === '' || [...visible].every((char) => char === '\n' || char === '\t' || fontCovers(char))) {
      out += visible;
      continue;
    }
    missing.add(segment);
    out += MISSING_MARK;
  }
  return { text: out, missing: [...missing] };
}

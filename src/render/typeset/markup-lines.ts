// Styled text (spans with bold) → Pango markup whose lines are already broken by our
// breaker: paragraphs indented two em, list items with their marker and a hanging indent
// (continuation lines start under the item's text, behind an invisible copy of the marker).
import type { Block, Span } from '../markup.js';
import { breakLines, measure } from './breaker.js';

/** Text escaped for Pango. */
export type Escaper = (text: string) => string;

export interface LineStyle {
  sizePx: number;
  width: number;
}

/** Two ideographic spaces: the Chinese paragraph indent, exactly 2 em in a CJK font. */
export const PARAGRAPH_INDENT = '\u3000\u3000';

function flatten(spans: Span[]): { text: string; bold: boolean[] } {
  let text = '';
  const bold: boolean[] = [];
  for (const span of spans) {
    text += span.text;
    for (let i = 0; i < span.text.length; i++) bold.push(span.bold);
  }
  return { text, bold };
}

/** The part [start, end) of styled text as markup, bold runs as <b>. */
function slice(text: string, bold: boolean[], start: number, end: number, esc: Escaper): string {
  let out = '';
  let at = start;
  while (at < end) {
    const isBold = bold[at] ?? false;
    let stop = at;
    while (stop < end && (bold[stop] ?? false) === isBold) stop += 1;
    const part = esc(text.slice(at, stop));
    out += isBold ? `<b>${part}</b>` : part;
    at = stop;
  }
  return out;
}

/** An invisible copy of some text: it takes exactly its width. */
export const invisible = (markup: string) => `<span fgalpha="1">${markup}</span>`;

/**
 * Lines of markup for styled text: `lead` is drawn before the first line (an indent, a label
 * or a list marker, already markup) and is `leadWidthPx` wide; `hang` is how far the
 * following lines start in (0: at the margin; the lead's width: a hanging indent).
 */
export function styledLines(
  spans: Span[],
  style: LineStyle,
  esc: Escaper,
  lead = '',
  leadWidthPx = 0,
  hang: 'margin' | 'under-text' = 'margin',
): string[] {
  const { text, bold } = flatten(spans);
  const restIndent = hang === 'under-text' ? leadWidthPx : 0;
  const ranges = breakLines(text, {
    sizePx: style.sizePx,
    width: style.width,
    firstIndentPx: leadWidthPx,
    restIndentPx: restIndent,
    bold: bold.some(Boolean),
  });
  if (ranges.length === 0) return [lead];
  return ranges.map(([start, end], i) => {
    let e = end;
    while (e > start && text[e - 1] === ' ') e -= 1;
    const body = slice(text, bold, start, e, esc);
    if (i === 0) return lead + body;
    return hang === 'under-text' && lead ? invisible(lead) + body : body;
  });
}

/** A body's blocks as broken lines of markup. */
export function blockLines(blocks: Block[], style: LineStyle, esc: Escaper): string[] {
  const indentPx = measure(PARAGRAPH_INDENT, style.sizePx);
  const lines: string[] = [];
  for (const block of blocks) {
    if (block.kind === 'paragraph') {
      for (const line of block.lines) lines.push(...styledLines(line, style, esc, PARAGRAPH_INDENT, indentPx));
      continue;
    }
    block.items.forEach((item, i) => {
      const marker = `${PARAGRAPH_INDENT}${block.ordered ? `${i + 1}. ` : '• '}`;
      lines.push(...styledLines(item, style, esc, esc(marker), measure(marker, style.sizePx), 'under-text'));
    });
  }
  return lines;
}

// The card breaker's rules for a browser's own line breaking (the residents' pages: plain
// HTML and CSS, no script). A browser breaks Chinese between any two characters; here each
// run the breaker never breaks inside (a word, an amount, a date, a quoted word, with its
// closing punctuation) is kept on one line (`<span class="w">`, white-space: nowrap), and a
// paragraph's last MIN_LAST_LINE characters or more are joined into one such run, so its last
// line is never a one- or two-character widow. Balance and `text-wrap: pretty` are left to the
// stylesheet. Pure: text in, HTML out; everything escaped.
import type { Span } from '../markup.js';
import { MIN_LAST_LINE, breakOpportunities, charCount } from './breaker.js';

/** A run longer than this (a URL, a long number) is left to the browser: it may need to break. */
const MAX_KEPT = 16;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

const length = (text: string) => [...text].length;

/**
 * The [start, end) runs of a paragraph's text that a line must not break inside: the breaker's
 * pieces, the last ones joined until the tail has MIN_LAST_LINE characters (punctuation aside).
 */
export function keptRuns(text: string): Array<[number, number]> {
  const breaks = [...breakOpportunities(text)].filter((i) => i > 0 && i < text.length).sort((a, b) => a - b);
  const bounds = [0, ...breaks, text.length];
  const runs: Array<[number, number]> = [];
  for (let i = 1; i < bounds.length; i++) runs.push([bounds[i - 1]!, bounds[i]!]);
  while (runs.length > 1) {
    const last = runs.at(-1)!;
    const before = runs.at(-2)!;
    if (charCount(text.slice(last[0], last[1])) >= MIN_LAST_LINE) break;
    if (length(text.slice(before[0], last[1]).trimEnd()) > MAX_KEPT) break;
    runs.splice(-2, 2, [before[0], last[1]]);
  }
  return runs;
}

/** One line of styled spans (bold) as HTML whose kept runs stay on one line. */
export function typesetSpans(spans: Span[]): string {
  const text = spans.map((span) => span.text).join('');
  // Each span's [start, end) in the line, to cut the runs along bold boundaries.
  const bounds: Array<{ start: number; end: number; bold: boolean }> = [];
  let at = 0;
  for (const span of spans) {
    bounds.push({ start: at, end: at + span.text.length, bold: span.bold });
    at += span.text.length;
  }
  return keptRuns(text)
    .map(([start, end]) => {
      const inner = bounds
        .filter((b) => b.start < end && b.end > start)
        .map((b) => {
          const part = escapeHtml(text.slice(Math.max(start, b.start), Math.min(end, b.end)));
          return b.bold ? `<strong>${part}</strong>` : part;
        })
        .join('');
      const kept = text.slice(start, end).trim();
      return length(kept) > 1 && length(kept) <= MAX_KEPT ? `<span class="w">${inner}</span>` : inner;
    })
    .join('');
}

/** Plain text as HTML whose kept runs stay on one line. */
export function typesetText(text: string): string {
  return typesetSpans([{ text, bold: false }]);
}

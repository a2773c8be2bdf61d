// Chinese line breaking for cards (pure: text and widths in, lines out; no drawing).
//
// Where a line may break:
//   - between words, as the runtime's ICU dictionary segments them (Intl.Segmenter 'zh',
//     granularity 'word'; Node 20 and 24 ship full ICU with the CJK dictionary), never inside
//     a word it knows, nor inside one of the notice words it does not know (notice-words.ts);
//   - never inside a protected run: a number with its unit or currency (人民币5000元, 175厘米,
//     30%), a date or time (2025年5月20日, 21时30分), a phone number (138 0013 8000, 020-12345678),
//     a short quoted word (“安全账户”, 《反电信网络诈骗法》);
//   - 避头尾: never before closing punctuation (，。、；：？！）」》” …) and never after opening
//     punctuation (“（《「【).
// How lines are filled:
//   - greedily, then the paragraph's last line is given at least MIN_LAST_LINE characters by
//     moving whole pieces down from the line above (no one- or two-character widow);
//   - balanced (titles): the narrowest width that keeps the greedy line count, so the lines
//     come out even and the last is never a stub.
// A piece wider than the whole line (a long URL, a 40-character word) is broken by character.
import { advanceEm } from './measure.js';
import { NOTICE_WORDS } from './notice-words.js';

/** A paragraph's last line keeps at least this many characters (no widow of one or two). */
export const MIN_LAST_LINE = 3;

const words = new Intl.Segmenter('zh', { granularity: 'word' });
const graphemes = new Intl.Segmenter('zh', { granularity: 'grapheme' });

/** Characters that never start a line (closing punctuation, small marks). */
const NO_START = new Set(
  '，。、；：？！）》」』】〕〉”’…—～·．,.;:?!)]}%‰℃〃々ゝゞヽヾ々ー'.split('').concat(['……', '——']),
);
/** Characters that never end a line (opening punctuation). */
const NO_END = new Set('（《「『【〔〈“‘([{'.split(''));

const UNITS =
  '(?:元|万元|亿元|美元|港元|块|角|分钱|万|亿|千|百|%|‰|℃|厘米|公分|毫米|公里|千米|米|公斤|千克|斤|克|吨|岁|周岁|个月|个|名|人|次|起|天|日|小时|分钟|秒|号|楼|层|室|栋|幢|单元|户|辆|台|部|处|条|家|间|元/斤|平方米|平米|亩|元左右|余元|余人|多元|多人|余起|多起|余|多|年|月|周)';
const NUMBER = '\\d[\\d,，.]*';
const PROTECTED: RegExp[] = [
  // Dates and times: 2025年5月20日, 5月20日晚, 21时30分, 9时, 2025-06-01, 21:30
  /\d{2,4}年\d{1,2}月(?:\d{1,2}日)?|\d{1,2}月\d{1,2}日|\d{1,2}时(?:\d{1,2}分)?|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}:\d{2}/gu,
  // Phone numbers, grouped or not: 138 0013 8000, 020-12345678, 110 / 96110 stays breakable at the slash.
  /\+?\d[\d -]{5,}\d/gu,
  // Amounts and measures: 人民币5000元, 约175厘米, 两万余元 is words, 3处, 30%.
  new RegExp(`(?:人民币|约|共|近|超|逾)?${NUMBER}(?:\\s?${UNITS})?`, 'gu'),
  // Short quoted words and titles.
  /[“‘「『《【][^“”‘’「」『』《》【】\n]{1,10}[”’」』》】]/gu,
  // Latin words and numbers with letters (APP, 5G, iPhone15).
  /[A-Za-z0-9][A-Za-z0-9._@/-]*/gu,
];

// Words ICU's dictionary cuts inside (notice-words.ts), longest first so 电动自行车 wins over 电动车.
PROTECTED.push(new RegExp([...NOTICE_WORDS].sort((a, b) => b.length - a.length).join('|'), 'gu'));

export interface Piece {
  text: string;
  /** Start offset in the source text. */
  start: number;
}

/** Offsets (in UTF-16 units) where a line may break: the start of each unbreakable piece. */
export function breakOpportunities(text: string): Set<number> {
  const breaks = new Set<number>();
  for (const { index } of words.segment(text)) if (index > 0) breaks.add(index);
  // Inside a grapheme never; inside a protected run never.
  const inside = new Set<number>();
  for (const pattern of PROTECTED) {
    for (const match of text.matchAll(pattern)) {
      const start = match.index ?? 0;
      for (let i = start + 1; i < start + match[0].length; i++) inside.add(i);
    }
  }
  for (const i of inside) breaks.delete(i);
  // 避头尾 on the characters either side of each break.
  for (const i of [...breaks]) {
    const before = text[i - 1] ?? '';
    const after = text[i] ?? '';
    if (NO_START.has(after) || NO_END.has(before)) breaks.delete(i);
  }
  return breaks;
}

/** The text cut into pieces no line break may fall inside. */
export function pieces(text: string): Piece[] {
  const breaks = [...breakOpportunities(text)].sort((a, b) => a - b);
  const out: Piece[] = [];
  let start = 0;
  for (const at of [...breaks, text.length]) {
    if (at > start) out.push({ text: text.slice(start, at), start });
    start = at;
  }
  return out;
}

const PUNCTUATION = /^[\p{P}\p{S}\s]+$/u;

/** Characters of a string as a reader counts them: punctuation and spaces not included. */
export function charCount(text: string): number {
  let n = 0;
  for (const { segment } of graphemes.segment(text)) if (!PUNCTUATION.test(segment)) n += 1;
  return n;
}

export interface BreakOptions {
  /** Font size in px (1 em). */
  sizePx: number;
  /** Line width in px. */
  width: number;
  /** Width taken on the first line before the text (a paragraph indent, a list marker). */
  firstIndentPx?: number;
  /** Width taken on every following line (a hanging indent under a list item's text). */
  restIndentPx?: number;
  /** Even lines (titles): the narrowest width that keeps the line count. */
  balance?: boolean;
  /** Bold text is drawn a little wider by synthetic emboldening. */
  bold?: boolean;
}

/** Width in px of a text at a size. */
export function measure(text: string, sizePx: number, bold = false): number {
  let em = 0;
  for (const char of text) em += advanceEm(char.codePointAt(0) ?? 32);
  return em * sizePx * (bold ? 1.005 : 1);
}

/** Splits a piece wider than a whole line into per-character pieces. */
function splitWide(piece: Piece): Piece[] {
  const out: Piece[] = [];
  for (const { segment, index } of graphemes.segment(piece.text))
    out.push({ text: segment, start: piece.start + index });
  return out;
}

function greedy(all: Piece[], widthOf: (text: string) => number, first: number, rest: number): Piece[][] {
  const lines: Piece[][] = [];
  let line: Piece[] = [];
  let used = 0;
  let room = first;
  for (const piece of all) {
    const w = widthOf(piece.text);
    // Spaces at a line end take no room (they are trimmed when drawn).
    const fits = used + widthOf(piece.text.trimEnd()) <= room + 0.01;
    if (line.length > 0 && !fits) {
      lines.push(line);
      line = [];
      used = 0;
      room = rest;
    }
    if (piece.text.trim() === '' && line.length === 0 && lines.length > 0) continue;
    line.push(piece);
    used += w;
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

/**
 * Breaks one paragraph (no newlines) into lines. Returns each line's [start, end) offsets
 * into the text, so callers can keep styled spans (bold) across the breaks.
 */
export function breakLines(text: string, options: BreakOptions): Array<[number, number]> {
  if (text.length === 0) return [];
  // 1% to spare: Pango kerns Latin text a little wider than the advances add up to.
  const widthOf = (t: string) => measure(t, options.sizePx, options.bold) * 1.01;
  const first = Math.max(options.sizePx, options.width - (options.firstIndentPx ?? 0));
  const rest = Math.max(options.sizePx, options.width - (options.restIndentPx ?? 0));
  const all = pieces(text).flatMap((piece) =>
    widthOf(piece.text.trimEnd()) > Math.min(first, rest) ? splitWide(piece) : [piece],
  );

  let lines = greedy(all, widthOf, first, rest);
  if (options.balance && lines.length > 1) {
    // The narrowest width giving the same number of lines: every line about as long.
    const target = lines.length;
    let low = 0;
    let high = rest;
    for (let pass = 0; pass < 14; pass++) {
      const mid = (low + high) / 2;
      const scale = mid / rest;
      if (greedy(all, widthOf, first * scale, mid).length <= target) high = mid;
      else low = mid;
    }
    lines = greedy(all, widthOf, first * (high / rest), high);
  }
  // No widow: the last line takes whole pieces from the line above until it has enough characters.
  for (;;) {
    const last = lines.at(-1);
    const above = lines.at(-2);
    if (!last || !above || above.length < 2) break;
    const lastText = last.map((p) => p.text).join('');
    if (charCount(lastText) >= MIN_LAST_LINE) break;
    const moved = above[above.length - 1]!;
    const room = lines.length === 2 ? rest : rest;
    if (widthOf(moved.text + lastText) > room) break;
    above.pop();
    last.unshift(moved);
  }
  return lines.map((line) => {
    const start = line[0]!.start;
    const end = line.at(-1)!.start + line.at(-1)!.text.length;
    return [start, end];
  });
}

/** Convenience: the lines as strings (trailing spaces trimmed). */
export function breakText(text: string, options: BreakOptions): string[] {
  return breakLines(text, options).map(([start, end]) => text.slice(start, end).trimEnd());
}

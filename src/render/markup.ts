// The light markup of a notice body (SPEC §3.1): paragraphs separated by blank lines,
// **bold** spans, and list lines starting with "- " / "• " or "1. ". Anything else is
// literal text, including an unpaired "**" (a body cut short must still parse).
export interface Span {
  text: string;
  bold: boolean;
}

export type Block = { kind: 'paragraph'; lines: Span[][] } | { kind: 'list'; ordered: boolean; items: Span[][] };

const BULLET = /^\s*[-•·*]\s+/;
const NUMBERED = /^\s*\d{1,3}[.、)）]\s*/;

export function parseSpans(line: string): Span[] {
  const spans: Span[] = [];
  let rest = line;
  while (rest.length > 0) {
    const open = rest.indexOf('**');
    const close = open < 0 ? -1 : rest.indexOf('**', open + 2);
    if (open < 0 || close < 0) {
      spans.push({ text: rest, bold: false });
      break;
    }
    if (open > 0) spans.push({ text: rest.slice(0, open), bold: false });
    if (close > open + 2) spans.push({ text: rest.slice(open + 2, close), bold: true });
    rest = rest.slice(close + 2);
  }
  return spans;
}

export function parseBody(body: string): Block[] {
  const blocks: Block[] = [];
  const lines = body.replace(/\r\n?/g, '\n').split('\n');
  let paragraph: Span[][] = [];
  let list: { ordered: boolean; items: Span[][] } | null = null;
  const flush = () => {
    if (paragraph.length > 0) blocks.push({ kind: 'paragraph', lines: paragraph });
    if (list) blocks.push({ kind: 'list', ...list });
    paragraph = [];
    list = null;
  };
  for (const line of lines) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    const bullet = BULLET.exec(line);
    const numbered = bullet ? null : NUMBERED.exec(line);
    const marker = bullet ?? numbered;
    if (marker) {
      const ordered = Boolean(numbered);
      if (paragraph.length > 0 || (list && list.ordered !== ordered)) flush();
      list ??= { ordered, items: [] };
      list.items.push(parseSpans(line.slice(marker[0].length).trim()));
      continue;
    }
    if (list) flush();
    paragraph.push(parseSpans(line.trim()));
  }
  flush();
  return blocks;
}

export function spansToPlain(spans: Span[]): string {
  return spans.map((span) => span.text).join('');
}

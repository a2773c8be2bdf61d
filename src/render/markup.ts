// The ONE light-markup parser of a notice body (SPEC §3.1), shared by text cards, image cards,
// the residents' page and the console's previews (through the preview API): paragraphs
// separated by blank lines, **bold** spans, and list lines starting with "- " / "• " or "1. ".
// A heading line someone typed the markdown way ("### 注意") is a bold line, its "#"s
// dropped, so no reader ever sees them. Anything else is literal text, including an unpaired
// "**" (a body cut short must still parse).
export interface Span {
  text: string;
  bold: boolean;
}

export type Block = { kind: 'paragraph'; lines: Span[][] } | { kind: 'list'; ordered: boolean; items: Span[][] };

const BULLET = /^\s*[-•·*]\s+/;
const NUMBERED = /^\s*\d{1,3}[.、)）]\s*/;
const HEADING = /^\s*#{1,6}\s+/;

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
    const heading = HEADING.exec(line);
    if (heading) {
      const text = spansToPlain(parseSpans(line.slice(heading[0].length).trim()));
      paragraph.push([{ text, bold: true }]);
      continue;
    }
    paragraph.push(parseSpans(line.trim()));
  }
  flush();
  return blocks;
}

export function spansToPlain(spans: Span[]): string {
  return spans.map((span) => span.text).join('');
}

/** The body as plain text, for chats that show no markup: no "**", lists with • and 1. markers. */
export function bodyToPlain(body: string): string {
  return parseBody(body)
    .map((block) =>
      block.kind === 'paragraph'
        ? block.lines.map(spansToPlain).join('\n')
        : block.items.map((item, i) => `${block.ordered ? `${i + 1}. ` : '• '}${spansToPlain(item)}`).join('\n'),
    )
    .join('\n');
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
const spansHtml = (spans: Span[]) =>
  spans.map((span) => (span.bold ? `<strong>${escapeHtml(span.text)}</strong>` : escapeHtml(span.text))).join('');

/**
 * The body as safe HTML (residents' page, console previews): <p>, <strong>, <ul>/<ol>. `line`
 * renders one line's spans (the residents' page keeps words whole: typeset/html.ts); it must escape.
 */
export function bodyToHtml(body: string, line: (spans: Span[]) => string = spansHtml): string {
  return parseBody(body)
    .map((block) => {
      if (block.kind === 'paragraph') return `<p>${block.lines.map(line).join('<br>')}</p>`;
      const tag = block.ordered ? 'ol' : 'ul';
      return `<${tag}>${block.items.map((item) => `<li>${line(item)}</li>`).join('')}</${tag}>`;
    })
    .join('');
}

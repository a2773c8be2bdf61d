// How a chat app shows a card the service posts: the API renders the card (one parser of the
// notice's light markup, server side); this only reads the channel's own message format back
// into what the app displays — a WeCom/DingTalk markdown message shows bold text, not "**";
// a heading, not "###"; a link's words, not "](" — so a preview never shows markup the
// residents will not see. Nothing here interprets the notice body's light markup.

export interface Inline {
  text: string;
  bold?: boolean;
  /** A link's target (shown as its words in link colour). */
  href?: string;
  /** WeCom <font color="info|comment|warning">. */
  tone?: 'info' | 'comment' | 'warning';
}

export interface DisplayLine {
  kind: 'heading' | 'quote' | 'paragraph' | 'bullet' | 'number' | 'blank';
  /** For numbered items: the number as the app shows it. */
  marker?: string;
  inlines: Inline[];
}

const URL_RE = /(https?:\/\/[^\s)）]+)/g;

/** Markdown escapes (`\*`) and the entity the service writes for "<" become the characters themselves. */
function unescapeMarkdown(text: string): string {
  return text.replace(/\\([\\`*_[\]#>|()-])/g, '$1').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Plain text as a chat app shows it: web addresses become links. */
export function plainInlines(text: string): Inline[] {
  const out: Inline[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    if (match.index > last) out.push({ text: text.slice(last, match.index) });
    out.push({ text: match[0], href: match[0] });
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/** One line of a markdown message: **bold**, [words](url), <font color>, escapes. */
function markdownInlines(line: string, bold = false): Inline[] {
  const out: Inline[] = [];
  // Tokens the chat apps' markdown knows; everything between is text.
  const token = /\*\*((?:\\.|[^*])+?)\*\*|\[((?:\\.|[^\]])*)\]\(([^)\s]+)\)|<font color="(info|comment|warning)">(.*?)<\/font>/g;
  let last = 0;
  for (const match of line.matchAll(token)) {
    if (match.index > last) out.push(...plainInlines(unescapeMarkdown(line.slice(last, match.index))).map((i) => ({ ...i, bold: bold || undefined })));
    if (match[1] !== undefined) out.push(...markdownInlines(match[1], true));
    else if (match[2] !== undefined) out.push({ text: unescapeMarkdown(match[2]), href: match[3], bold: bold || undefined });
    else out.push({ text: unescapeMarkdown(match[5] ?? ''), tone: match[4] as Inline['tone'], bold: bold || undefined });
    last = match.index + match[0].length;
  }
  if (last < line.length) out.push(...plainInlines(unescapeMarkdown(line.slice(last))).map((i) => ({ ...i, bold: bold || undefined })));
  return out;
}

/** A markdown message (WeCom 群机器人 markdown, DingTalk markdown) as its app displays it. */
export function markdownDisplay(source: string): DisplayLine[] {
  return source
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map<DisplayLine>((line) => {
      if (line.trim() === '') return { kind: 'blank', inlines: [] };
      const heading = /^\s*#{1,6}\s+(.*)$/.exec(line);
      if (heading) return { kind: 'heading', inlines: markdownInlines(heading[1]!, true) };
      const quote = /^\s*>\s?(.*)$/.exec(line);
      if (quote) return { kind: 'quote', inlines: markdownInlines(quote[1]!) };
      const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
      if (bullet) return { kind: 'bullet', inlines: markdownInlines(bullet[1]!) };
      const numbered = /^\s*(\d{1,3})\.\s+(.*)$/.exec(line);
      if (numbered) return { kind: 'number', marker: `${numbered[1]}.`, inlines: markdownInlines(numbered[2]!) };
      return { kind: 'paragraph', inlines: markdownInlines(line) };
    });
}

/** A plain-text message: lines as they are, addresses as links. */
export function textDisplay(source: string): DisplayLine[] {
  return source
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => (line.trim() === '' ? { kind: 'blank', inlines: [] } : { kind: 'paragraph', inlines: plainInlines(line) }));
}

/** Characters as people count them (字), not bytes. */
export function charCount(text: string): number {
  return [...text].length;
}

/** A byte limit in 字 of Chinese text (3 bytes each in UTF-8), as staff think of it. */
export function charLimit(maxBytes: number): number {
  return Math.floor(maxBytes / 3);
}

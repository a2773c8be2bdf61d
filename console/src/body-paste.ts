// Text pasted from Word or a WeChat article, written as the notice body's light markup
// (SPEC §3.1: blank line between paragraphs, **bold**, "- " and "1. " list lines). This
// writes the markup; reading it is the service's one parser (src/render/markup.ts).

const BULLET_CHARS = /^[\s\u3000]*[●•·▪■◆◇○◦∙‧・\-–—*]+[\s\u3000]*/;
const NUMBER_LEAD = /^[\s\u3000]*(\d{1,3})[.、．)）][\s\u3000]*/;

/** One line of plain pasted text: full-width spaces trimmed, bullet characters as "- ". */
function cleanLine(line: string): string {
  const trimmed = line.replace(/[\u00a0\u3000\t]+/g, ' ').trim();
  if (trimmed === '') return '';
  const numbered = NUMBER_LEAD.exec(trimmed);
  if (numbered) return `${numbered[1]}. ${trimmed.slice(numbered[0].length)}`;
  if (BULLET_CHARS.test(trimmed) && !/^\*\*/.test(trimmed)) return `- ${trimmed.replace(BULLET_CHARS, '')}`;
  return trimmed;
}

/** Plain pasted text, cleaned line by line; runs of blank lines become one. */
export function cleanPlainText(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map(cleanLine)
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function isBold(el: Element): boolean {
  const tag = el.tagName.toLowerCase();
  if (tag === 'b' || tag === 'strong') return true;
  const weight = (el as HTMLElement).style?.fontWeight ?? '';
  return weight === 'bold' || Number(weight) >= 600;
}

const BLOCKS = new Set(['p', 'div', 'section', 'article', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'table', 'tr']);

/** Inline text of a node with **bold** spans; bold inside bold is not doubled. */
function inline(node: Node, bold: boolean): string {
  if (node.nodeType === Node.TEXT_NODE) {
    const text = (node.textContent ?? '').replace(/[\s\u00a0]+/g, ' ');
    return text;
  }
  if (node.nodeType !== Node.ELEMENT_NODE) return '';
  const el = node as Element;
  const tag = el.tagName.toLowerCase();
  if (tag === 'br') return '\n';
  if (tag === 'style' || tag === 'script' || tag === 'head' || tag === 'title' || tag.includes(':')) return '';
  const strong = !bold && (isBold(el) || /^h[1-6]$/.test(tag));
  const inner = [...el.childNodes].map((child) => inline(child, bold || strong)).join('');
  if (!strong) return inner;
  const text = inner.trim();
  return text ? `**${text}**` : '';
}

/** Blocks of an HTML fragment as markup paragraphs and list lines. */
function blocks(root: Element, out: string[]): void {
  let pending = '';
  const flush = () => {
    for (const line of pending.split('\n')) if (line.trim()) out.push(cleanLine(line));
    pending = '';
  };
  for (const node of [...root.childNodes]) {
    if (node.nodeType === Node.ELEMENT_NODE) {
      const el = node as Element;
      const tag = el.tagName.toLowerCase();
      if (tag === 'ul' || tag === 'ol') {
        flush();
        out.push('');
        [...el.children]
          .filter((li) => li.tagName.toLowerCase() === 'li')
          .forEach((li, i) => {
            const text = inline(li, false).replace(/\s*\n\s*/g, ' ').trim();
            if (text) out.push(`${tag === 'ol' ? `${i + 1}. ` : '- '}${text.replace(BULLET_CHARS, '')}`);
          });
        out.push('');
        continue;
      }
      if (BLOCKS.has(tag) || tag === 'li') {
        flush();
        // A block holding other blocks (WeChat wraps everything in <section>s): go inside.
        if ([...el.children].some((c) => BLOCKS.has(c.tagName.toLowerCase()) || ['ul', 'ol'].includes(c.tagName.toLowerCase()))) {
          blocks(el, out);
        } else {
          const text = inline(el, false);
          // Word writes list items as paragraphs whose class names them (MsoListParagraph).
          const listLike = tag === 'li' || /MsoList/i.test(el.getAttribute('class') ?? '');
          for (const line of text.split('\n')) {
            const cleaned = cleanLine(line);
            if (cleaned) out.push(listLike && !/^(- |\d+\. )/.test(cleaned) ? `- ${cleaned}` : cleaned);
          }
          if (!listLike) out.push('');
        }
        continue;
      }
    }
    pending += inline(node, false);
  }
  flush();
}

/** HTML from the clipboard (Word, WeChat, a web page) as light markup. */
export function htmlToMarkup(html: string): string {
  const doc = new DOMParser().parseFromString(html.replace(/<!--[\s\S]*?-->/g, ''), 'text/html');
  const out: string[] = [];
  blocks(doc.body, out);
  // List lines stay together; other lines are paragraphs separated by one blank line.
  const lines: string[] = [];
  for (const line of out) {
    const isList = /^(- |\d+\. )/.test(line);
    const prev = lines.at(-1);
    if (line === '') {
      if (prev !== undefined && prev !== '') lines.push('');
      continue;
    }
    if (prev !== undefined && prev !== '' && !(isList && /^(- |\d+\. )/.test(prev))) lines.push('');
    lines.push(line);
  }
  return lines.join('\n').replace(/\*\*\s*\*\*/g, '').trim();
}

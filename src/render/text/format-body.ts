// Notice body blocks → the text a channel format shows.
import { type Block, type Span, parseBody, spansToPlain } from '../markup.js';

export type BodyFormat = 'text' | 'markdown';

// Characters with a meaning in the robots' markdown subsets are shown literally.
export function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_[\]#>|])/g, '\\$1').replace(/</g, '&lt;');
}

function markdownSpans(spans: Span[]): string {
  return spans.map((span) => (span.bold ? `**${escapeMarkdown(span.text)}**` : escapeMarkdown(span.text))).join('');
}

function plainBlock(block: Block): string {
  if (block.kind === 'paragraph') return block.lines.map(spansToPlain).join('\n');
  return block.items.map((item, i) => `${block.ordered ? `${i + 1}. ` : '• '}${spansToPlain(item)}`).join('\n');
}

function markdownBlock(block: Block): string {
  if (block.kind === 'paragraph') return block.lines.map(markdownSpans).join('\n');
  return block.items.map((item, i) => `${block.ordered ? `${i + 1}. ` : '- '}${markdownSpans(item)}`).join('\n');
}

export function formatBody(body: string, format: BodyFormat): string {
  const blocks = parseBody(body);
  return format === 'markdown' ? blocks.map(markdownBlock).join('\n\n') : blocks.map(plainBlock).join('\n');
}

/** The body as one line of plain text, for link-card descriptions. */
export function plainExcerpt(body: string): string {
  return parseBody(body).map(plainBlock).join(' ');
}

// Byte counting and cutting on user-perceived characters: a cut never splits a UTF-8
// sequence, a surrogate pair, or an emoji made of several code points.
const segmenter = new Intl.Segmenter('zh', { granularity: 'grapheme' });

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

export function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (segment) => segment.segment);
}

/** The longest prefix of whole characters that fits in maxBytes of UTF-8. */
export function cutToBytes(text: string, maxBytes: number): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  let used = 0;
  let out = '';
  for (const g of graphemes(text)) {
    const size = utf8Bytes(g);
    if (used + size > maxBytes) break;
    used += size;
    out += g;
  }
  return out;
}

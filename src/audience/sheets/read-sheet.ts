// Reads an uploaded sheet (.xlsx or .csv) into rows of text cells with the row numbers
// staff see in Excel. The type is decided by the bytes, never by the file name.
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { InvalidInput } from '../../lib/errors.js';
import { MAX_SHEET_ROWS, readXlsxRows } from './read-xlsx.js';

export interface SheetRow {
  /** 1-based, as Excel (or a text editor, for CSV) shows it. */
  number: number;
  cells: string[];
  /** A cell of the row is a SUM(…) formula: a total row of the staff's sheet. */
  sums?: boolean;
}

/**
 * Limits on what one sheet may hold. A ledger has a dozen columns and short cells; a cell in
 * column XFD made the reader build 16,384 cells for every row, and one huge cell fed every
 * text function of the import.
 */
export const MAX_SHEET_COLUMNS = 100;
export const MAX_CELL_CHARS = 2_000;

/** Excel's column letters: 1 → A, 28 → AB. */
export function columnLetter(column: number): string {
  let letters = '';
  for (let n = column; n > 0; n = Math.floor((n - 1) / 26))
    letters = String.fromCharCode(65 + ((n - 1) % 26)) + letters;
  return letters;
}

function checkCell(text: string, row: number, column: number): void {
  if (column > MAX_SHEET_COLUMNS) {
    throw new InvalidInput(
      `第 ${row} 行 ${columnLetter(column)} 列有内容：表格最多 ${MAX_SHEET_COLUMNS} 列，请删去多余的列后重试`,
      'file',
    );
  }
  if (text.length > MAX_CELL_CHARS) {
    throw new InvalidInput(
      `第 ${row} 行 ${columnLetter(column)} 列的内容有 ${text.length} 个字符，超过上限 ${MAX_CELL_CHARS}`,
      'file',
    );
  }
}

const ZIP = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const OLE = Buffer.from([0xd0, 0xcf, 0x11, 0xe0]);

async function readXlsx(data: Buffer): Promise<SheetRow[]> {
  const rows = await readXlsxRows(data, { maxColumns: MAX_SHEET_COLUMNS, checkCell });
  return rows.map(({ number, cells, sums }) => {
    const list: string[] = [];
    for (const [column, text] of cells) list[column - 1] = text;
    return { number, cells: Array.from(list, (cell) => cell ?? ''), ...(sums ? { sums } : {}) };
  });
}

/** UTF-8 (with or without BOM); Excel's "CSV" on Chinese Windows writes GB18030, so that is tried next. */
function decodeText(data: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data).replace(/^\uFEFF/, '');
  } catch {
    return new TextDecoder('gb18030').decode(data);
  }
}

const CSV_CHUNK_CHARS = 256 * 1024;

/** The text in slices, with a turn of the event loop between them: other requests go on. */
async function* slices(text: string): AsyncGenerator<string> {
  for (let at = 0; at < text.length; at += CSV_CHUNK_CHARS) {
    yield text.slice(at, at + CSV_CHUNK_CHARS);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function readCsv(data: Buffer): Promise<SheetRow[]> {
  const parser = Readable.from(slices(decodeText(data))).pipe(
    parse({
      relax_column_count: true,
      relax_quotes: true,
      info: true,
      // Blank lines (and lines of bare commas) are skipped before they count: 20 MB of
      // newlines is 20 million records otherwise.
      skip_empty_lines: true,
      skip_records_with_empty_values: true,
      // A record (one line) can hold a ledger row; far beyond that is not a staff sheet.
      max_record_size: MAX_CELL_CHARS * 4,
    }),
  );
  const rows: SheetRow[] = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (rows.length === MAX_SHEET_ROWS) {
        throw new InvalidInput(
          `表格超过 ${MAX_SHEET_ROWS} 行（第 ${info.lines} 行起），请按乡镇拆分后分批导入`,
          'file',
        );
      }
      record.forEach((cell, index) => {
        if (cell) checkCell(cell, info.lines, index + 1);
      });
      rows.push({ number: info.lines, cells: record });
    }
  } catch (error) {
    if (error instanceof InvalidInput) throw error;
    if ((error as { code?: string }).code === 'CSV_MAX_RECORD_SIZE') {
      const line = (error as { lines?: number }).lines;
      throw new InvalidInput(
        `CSV 文件${line ? `第 ${line} 行` : '中有一行'}内容过长（超过 ${MAX_CELL_CHARS * 4} 个字符）`,
        'file',
      );
    }
    throw new InvalidInput(`CSV 文件格式有误：${(error as Error).message.slice(0, 120)}`, 'file');
  } finally {
    parser.destroy();
  }
  return rows;
}

export async function readSheet(data: Buffer, filename: string): Promise<SheetRow[]> {
  if (data.length === 0) throw new InvalidInput('上传的文件是空的', 'file');
  const head = data.subarray(0, 4);
  if (head.equals(ZIP)) return readXlsx(data);
  if (head.equals(OLE))
    throw new InvalidInput('这是旧版 Excel (.xls) 文件，请在 Excel 中另存为 .xlsx 后再导入', 'file');
  if (/\.xls[xm]?$/i.test(filename)) {
    throw new InvalidInput(`文件“${filename}”的扩展名是 Excel，但内容不是 Excel 文件，请确认上传了正确的文件`, 'file');
  }
  if (data.subarray(0, 8192).includes(0))
    throw new InvalidInput('无法识别的文件类型，请上传 .xlsx 或 .csv 文件', 'file');
  return readCsv(data);
}

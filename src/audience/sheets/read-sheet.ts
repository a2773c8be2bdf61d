// Reads an uploaded sheet (.xlsx or .csv) into rows of text cells with the row numbers
// staff see in Excel. The type is decided by the bytes, never by the file name.
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { InvalidInput } from '../../lib/errors.js';

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

function cellText(value: ExcelJS.CellValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    if ('richText' in value) return value.richText.map((run) => run.text).join('');
    if ('result' in value) return cellText((value as { result?: ExcelJS.CellValue }).result ?? null);
    if ('formula' in value || 'sharedFormula' in value) return '';
    if ('text' in value) return String((value as { text: unknown }).text ?? '');
    if ('error' in value) return '';
  }
  return String(value);
}

async function readXlsx(data: Buffer): Promise<SheetRow[]> {
  const workbook = new ExcelJS.Workbook();
  try {
    await workbook.xlsx.load(data as unknown as ArrayBuffer);
  } catch {
    throw new InvalidInput('无法读取该 Excel 文件（文件可能已损坏或被加密），请在 Excel 中另存为 .xlsx 后重试', 'file');
  }
  const sheet = workbook.worksheets.find((ws) => ws.state !== 'hidden' && ws.actualRowCount > 0);
  if (!sheet) throw new InvalidInput('Excel 文件中没有数据', 'file');
  const rows: SheetRow[] = [];
  sheet.eachRow({ includeEmpty: false }, (row, number) => {
    const cells: string[] = [];
    let sums = false;
    // Only the cells the row holds: merged cells report their master's value in every
    // covered cell (so a township merged down a column applies to each row), and a stray
    // cell far to the right does not make every row that wide.
    row.eachCell({ includeEmpty: false }, (cell, column) => {
      const text = cellText(cell.value);
      const formula = (cell.value as { formula?: unknown } | null)?.formula;
      if (typeof formula === 'string' && /^\s*SUM\s*\(/i.test(formula)) sums = true;
      if (!text) return;
      checkCell(text, number, column);
      cells[column - 1] = text;
    });
    rows.push({ number, cells: Array.from(cells, (cell) => cell ?? ''), ...(sums ? { sums } : {}) });
  });
  return rows;
}

/** UTF-8 (with or without BOM); Excel's "CSV" on Chinese Windows writes GB18030, so that is tried next. */
function decodeText(data: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data).replace(/^\uFEFF/, '');
  } catch {
    return new TextDecoder('gb18030').decode(data);
  }
}

function readCsv(data: Buffer): SheetRow[] {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(decodeText(data), {
      relax_column_count: true,
      relax_quotes: true,
      info: true,
      skip_empty_lines: false,
      // A record (one line) can hold a ledger row; far beyond that is not a staff sheet.
      max_record_size: MAX_CELL_CHARS * 4,
    }) as unknown as typeof records;
  } catch (error) {
    if ((error as { code?: string }).code === 'CSV_MAX_RECORD_SIZE') {
      const line = (error as { lines?: number }).lines;
      throw new InvalidInput(
        `CSV 文件${line ? `第 ${line} 行` : '中有一行'}内容过长（超过 ${MAX_CELL_CHARS * 4} 个字符）`,
        'file',
      );
    }
    throw new InvalidInput(`CSV 文件格式有误：${(error as Error).message.slice(0, 120)}`, 'file');
  }
  return records.map(({ record, info }) => {
    record.forEach((cell, index) => {
      if (cell) checkCell(cell, info.lines, index + 1);
    });
    return { number: info.lines, cells: record };
  });
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

// Row-by-row spreadsheet writers (.xlsx through exceljs's streaming WorkbookWriter, .csv by
// hand) that wait for the consumer, so a million-row export holds a few rows in memory.
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { exceljs } from '../lib/excel.js';

export type Cell = string | number | Date | null;
export type SheetFormat = 'xlsx' | 'csv';

export const CONTENT_TYPES: Record<SheetFormat, string> = {
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  csv: 'text/csv; charset=utf-8',
};

/** Text a spreadsheet would run as a formula (= + - @, and tab/CR tricks) gets a leading apostrophe. */
export function neutralise(cell: Cell): Cell {
  if (typeof cell === 'string' && /^[=+\-@\t\r]/.test(cell)) return `'${cell}`;
  return cell;
}

function csvField(cell: Cell): string {
  if (cell === null) return '';
  const text = cell instanceof Date ? cell.toISOString() : String(cell);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export interface SheetWriter {
  readonly stream: PassThrough;
  row(cells: Cell[]): Promise<void>;
  end(): Promise<void>;
}

export function openSheet(format: SheetFormat, sheetName: string, headers: string[]): SheetWriter {
  const stream = new PassThrough();
  const drain = async () => {
    if (stream.writableNeedDrain) await once(stream, 'drain');
  };
  if (format === 'csv') {
    // The BOM makes Excel read the file as UTF-8 (Chinese headers).
    stream.write(`\uFEFF${headers.map(csvField).join(',')}\r\n`);
    return {
      stream,
      async row(cells) {
        stream.write(`${cells.map((c) => csvField(neutralise(c))).join(',')}\r\n`);
        await drain();
      },
      async end() {
        stream.end();
      },
    };
  }
  const workbook = new (exceljs()).stream.xlsx.WorkbookWriter({ stream, useSharedStrings: false, useStyles: false });
  const sheet = workbook.addWorksheet(sheetName);
  sheet.addRow(headers).commit();
  return {
    stream,
    async row(cells) {
      sheet.addRow(cells.map(neutralise)).commit();
      await drain();
    },
    async end() {
      sheet.commit();
      await workbook.commit();
    },
  };
}

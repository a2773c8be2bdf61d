// A .csv written in the browser (templates, the audit export): UTF-8 with a BOM so Excel
// opens the Chinese intact, CRLF lines, cells quoted where they need it, formulas neutralised
// (csv-text.ts).
import { csvText } from './csv-text';

export function saveCsv(filename: string, rows: string[][]): void {
  const csv = csvText(rows);
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

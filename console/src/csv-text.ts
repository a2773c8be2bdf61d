// The text of a .csv the console writes (no DOM here, so tests import it): UTF-8 BOM so Excel
// opens the Chinese intact, CRLF lines, cells quoted where they need it, and formulas
// neutralised: a cell starting with = + - @ (or a tab or CR) is a formula to Excel and WPS, so
// an audit detail such as `=HYPERLINK(…)` typed by anyone gets a leading ' (issue 26.12).
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvText(rows: string[][]): string {
  return `\ufeff${rows.map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

// A .csv written in the browser (templates, the audit export): UTF-8 with a BOM so Excel
// opens the Chinese intact, CRLF lines, cells quoted where they need it.
export function saveCsv(filename: string, rows: string[][]): void {
  const cell = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const csv = `\ufeff${rows.map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`;
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// The import report as an .xlsx the desk can keep, print and work through: the one-line
// summary and the problems grouped by cause, the township names to confirm, the villages to
// create or confirm, then every row's problems. Cells are neutralised like every export.
import { neutraliseFormula } from './normalise.js';
import type { ImportReport } from './report.js';
import { exceljs } from '../../lib/excel.js';

type Cell = string | number;

export async function importReportSheet(report: ImportReport): Promise<Buffer> {
  const workbook = new (exceljs()).Workbook();
  const sheet = (name: string, header: string[], rows: Cell[][], widths: number[]) => {
    const ws = workbook.addWorksheet(name);
    ws.addRow(header).font = { bold: true };
    for (const row of rows) ws.addRow(row.map((c) => (typeof c === 'number' ? c : neutraliseFormula(c))));
    ws.columns = widths.map((width) => ({ width }));
    return ws;
  };
  const rowList = (rows: number[], count: number) =>
    rows.join('、') + (count > rows.length ? ` 等（共 ${count} 行）` : '');

  const summary = sheet(
    '汇总',
    ['问题', '行数', '行号', '示例'],
    (report.problems ?? []).map((p) => [p.warning ? `（提示）${p.title}` : p.title, p.count, rowList(p.rows, p.count), p.example]),
    [44, 8, 50, 70],
  );
  summary.spliceRows(1, 0, [report.summary ?? `共 ${report.rows} 行，有问题 ${report.rejected} 行`], []);
  summary.getRow(1).font = { bold: true, size: 13 };

  sheet(
    '乡镇名称核对',
    ['表中乡镇名称', '行数', '候选乡镇（最可能的在前）'],
    (report.townships ?? []).map((t) => [t.name, t.rows, t.candidates.map((c) => `${c.name}（${c.code}）`).join('、')]),
    [20, 8, 70],
  );
  sheet(
    '村（社区）',
    ['乡镇', '表中村名', '行数', '处理', '代码或候选'],
    (report.villages ?? []).map((v) => [
      v.township.name,
      v.name,
      v.rows,
      v.action === 'create' ? '将新建' : '需确认',
      v.action === 'create' ? (v.code ?? '') : v.candidates.map((c) => `${c.name}（${c.code}）`).join('、'),
    ]),
    [16, 16, 8, 10, 60],
  );
  sheet(
    '逐行问题',
    ['行号', '列', '问题'],
    [
      ...report.errors.map((e) => [e.row, e.column ?? '', e.message]),
      ...(report.warnings ?? []).map((e) => [e.row, e.column ?? '', `（提示）${e.message}`]),
    ].sort((a, b) => (a[0] as number) - (b[0] as number)),
    [8, 16, 100],
  );
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

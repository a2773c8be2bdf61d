// The group import template (.xlsx): the ledger's columns with an example row named, not coded
// (most ledgers carry no codes), and a second sheet
// listing every column name the import accepts (from GROUP_COLUMNS, the one list).
import { GROUP_COLUMNS } from './columns.js';
import { exceljs } from '../../lib/excel.js';

const EXAMPLE: Record<string, string | number> = {
  乡镇: '东庄镇',
  '村（社区）': '东台头村',
  群名称: '东台头村民声微信群',
  群人数: 356,
  负责民警: '张警官',
  民警电话: '13800138000',
  渠道: '人工转发',
  标签: '重点村',
  启用: '是',
  备注: '群主为村支书',
};

export async function groupImportTemplate(): Promise<Buffer> {
  const columns = GROUP_COLUMNS.filter((c) => c.key !== 'info');
  const workbook = new (exceljs()).Workbook();
  const sheet = workbook.addWorksheet('群台账');
  sheet.addRow(['XX县民声微信群台账（标题行可有可无，表头可在前 10 行任意一行）']);
  sheet.mergeCells(1, 1, 1, columns.length);
  sheet.addRow(columns.map((c) => c.label)).font = { bold: true };
  sheet.addRow(columns.map((c) => EXAMPLE[c.label] ?? ''));
  // Codes are text (Excel would show 4.10527E+11); the example has none: names are enough.
  sheet.getColumn(columns.findIndex((c) => c.key === 'regionCode') + 1).numFmt = '@';
  sheet.columns.forEach((column) => {
    column.width = 16;
  });

  const help = workbook.addWorksheet('列名说明');
  help.addRow(['列名', '是否必填', '也可写作', '填写说明']).font = { bold: true };
  for (const column of GROUP_COLUMNS) {
    help.addRow([
      column.label,
      column.required ? '必填' : column.key === 'regionCode' ? '代码或乡镇 + 村名二选一' : '',
      column.aliases.filter((a) => a !== column.label && !/^[a-z]+$/.test(a)).join('、'),
      column.key === 'info' ? '可保留在表中，导入时不读取' : (column.help ?? ''),
    ]);
  }
  help.addRow([]);
  help.addRow(['列名不区分空格、全角半角和括号，结尾的单位如“（人）”会被忽略；“合计”行会被识别为合计，不作为错误。']);
  help.addRow([
    '村（社区）按“乡镇 + 村名”在所选的县里找，代码可以不填；填了代码，代码须与名称一致（不一致的行会列出，不导入）。',
  ]);
  help.addRow(['乡镇名称与本县名单不一致（如旧名“城关镇”“亳城乡”）时，试导入会列出，每个名称确认一次，系统会记住。']);
  help.columns = [{ width: 16 }, { width: 22 }, { width: 60 }, { width: 60 }];
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

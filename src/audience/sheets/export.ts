// Exports of the directory as .xlsx or .csv (UTF-8 with BOM, so Excel shows the Chinese).
// No credentials are ever exported. Cells that a spreadsheet would run as a formula are
// neutralised with a leading apostrophe (the importer removes it again).
import { stringify } from 'csv-stringify/sync';
import { RegionModel } from '../../regions/model.js';
import type { Scope } from '../../regions/scope.js';
import { CHANNEL_LABELS, type ChannelKind } from '../../channels/credentials.js';
import { type GroupDoc, GroupModel } from '../model.js';
import { neutraliseFormula } from './normalise.js';
import { levelLabel, type RegionLevel } from '../../regions/levels.js';
import { exceljs } from '../../lib/excel.js';

export type SheetFormat = 'xlsx' | 'csv';

export const GROUP_EXPORT_HEADER = [
  '县区',
  '乡镇',
  '村（社区）',
  '村（社区）代码',
  '群名称',
  '渠道',
  '群人数',
  '人数更新时间',
  '负责民警',
  '民警电话',
  '标签',
  '启用',
  '故障标记',
  '备注',
];
export const REGION_EXPORT_HEADER = ['区划代码', '名称', '级别', '上级代码', '纬度', '经度'];

/** Numbers stay numbers (Excel sums a column of member counts); text is neutralised. */
type ExportCell = string | number;

async function toFile(sheetName: string, header: string[], rows: ExportCell[][], format: SheetFormat): Promise<Buffer> {
  const safe = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? cell : neutraliseFormula(cell))));
  if (format === 'csv') return Buffer.concat([Buffer.from('\uFEFF'), Buffer.from(stringify([header, ...safe]))]);
  const workbook = new (exceljs()).Workbook();
  const sheet = workbook.addWorksheet(sheetName);
  sheet.addRow(header).font = { bold: true };
  for (const row of safe) sheet.addRow(row);
  sheet.columns.forEach((column) => {
    column.width = 16;
  });
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

function shanghaiTime(date: Date | null | undefined): string {
  return date ? date.toLocaleString('sv-SE', { timeZone: 'Asia/Shanghai' }).slice(0, 16) : '';
}

export async function exportGroups(scope: Scope, format: SheetFormat, regionCode?: string): Promise<Buffer> {
  const filter = regionCode ? { $and: [scope.filter(), { regionPath: regionCode }] } : scope.filter();
  const names = new Map<string, string>();
  const regionFilter = { $and: [scope.filter(), { level: { $in: ['county', 'township', 'village'] } }] };
  for await (const region of RegionModel.find(regionFilter, { _id: 0, code: 1, name: 1 })
    .lean<{ code: string; name: string }>()
    .cursor()) {
    names.set(region.code, region.name);
  }
  // Scope may be below the county: ancestors' names are looked up too.
  const rows: ExportCell[][] = [];
  const cursor = GroupModel.find(filter).sort({ regionCode: 1, name: 1 }).lean<GroupDoc>().cursor();
  for await (const group of cursor) {
    for (const code of group.regionPath.slice(3, 5)) {
      if (!names.has(code))
        names.set(code, (await RegionModel.findOne({ code }, { name: 1 }).lean<{ name: string }>())?.name ?? '');
    }
    rows.push([
      names.get(group.regionPath[3] ?? '') ?? '',
      names.get(group.regionPath[4] ?? '') ?? '',
      names.get(group.regionCode) ?? '',
      group.regionCode,
      group.name,
      CHANNEL_LABELS[group.channelKind as ChannelKind],
      group.memberCount,
      shanghaiTime(group.memberCountUpdatedAt),
      group.officerName ?? '',
      group.officerPhone ?? '',
      group.tags.join('、'),
      group.active ? '是' : '否',
      group.flagReason ?? '',
      group.note ?? '',
    ]);
  }
  return toFile('群', GROUP_EXPORT_HEADER, rows, format);
}

export async function exportRegions(scope: Scope, format: SheetFormat): Promise<Buffer> {
  const rows: ExportCell[][] = [];
  // The scope's own region is left out: its parent lies outside the scope, so it could not be re-imported.
  const cursor = RegionModel.find({ ...scope.filter(), code: { $ne: scope.regionCode }, parentCode: { $ne: null } })
    .sort({ code: 1 })
    .lean<{
      code: string;
      name: string;
      level: RegionLevel;
      parentCode: string;
      lat: number | null;
      lng: number | null;
    }>()
    .cursor();
  for await (const region of cursor) {
    rows.push([
      region.code,
      region.name,
      levelLabel(region.level),
      region.parentCode,
      region.lat ?? '',
      region.lng ?? '',
    ]);
  }
  return toFile('地区', REGION_EXPORT_HEADER, rows, format);
}

// Column names as staff write them (Chinese) with English aliases. Matching ignores
// spaces, width and case, so "群 人数", "群人数（人）" and "memberCount" all work.
import { headerKey } from './normalise.js';
import type { SheetRow } from './read-sheet.js';
import { InvalidInput } from '../../lib/errors.js';

export interface ColumnSpec<K extends string> {
  key: K;
  label: string;
  aliases: string[];
  required?: boolean;
  /** What to write, shown in the import template. */
  help?: string;
}

export type GroupColumn =
  | 'name'
  | 'regionCode'
  | 'townshipName'
  | 'villageName'
  | 'channel'
  | 'webhookUrl'
  | 'secret'
  | 'keyword'
  | 'memberCount'
  | 'officerName'
  | 'officerPhone'
  | 'tags'
  | 'active'
  | 'note'
  | 'info';

/**
 * The one list of the column names a county desk uses, in the order of the import template
 * (GET /api/groups/import-template shows every name accepted here). A group needs a name and
 * its village: a 12-digit code, or the township and village names (resolved in the county).
 */
export const GROUP_COLUMNS: ColumnSpec<GroupColumn>[] = [
  {
    key: 'townshipName',
    label: '乡镇',
    aliases: ['乡镇', '乡镇（街道）', '乡镇街道', '街道', '乡镇名称', '所属乡镇', 'township'],
    help: '村（社区）代码为空时，按乡镇 + 村（社区）名称在本县查找',
  },
  {
    key: 'villageName',
    label: '村（社区）',
    aliases: ['村（社区）', '村社区', '村名', '村', '社区', '村居', '村（居）', '行政村', '村（社区）名称', 'village'],
    help: '村（社区）名称；代码在地区树中不存在时，用它在所属乡镇下新建该村',
  },
  {
    key: 'regionCode',
    label: '村（社区）代码',
    aliases: [
      '村（社区）代码',
      '村社区代码',
      '村代码',
      '社区代码',
      '村居代码',
      '区划代码',
      '行政区划代码',
      '统计用区划代码',
      'regioncode',
      'villagecode',
    ],
    help: '12 位统计用区划代码，如 410527101201',
  },
  {
    key: 'name',
    label: '群名称',
    aliases: ['群名称', '群名', '微信群名称', '微信群名', '群聊名称', 'name', 'groupname', 'group'],
    required: true,
  },
  {
    key: 'memberCount',
    label: '群人数',
    aliases: ['群人数', '人数', '成员数', '群成员数', '成员人数', '入群人数', 'membercount', 'members'],
    help: '整数；空白表示未统计（新群记为 0，已有的群保留原人数）',
  },
  {
    key: 'officerName',
    label: '负责民警',
    aliases: [
      '负责民警',
      '包村民警',
      '驻村民警',
      '社区民警',
      '责任民警',
      '民警',
      '民警姓名',
      '包村干警',
      'officer',
      'officername',
    ],
  },
  {
    key: 'officerPhone',
    label: '民警电话',
    aliases: ['民警电话', '联系电话', '电话', '手机', '手机号', '手机号码', '联系方式', 'officerphone', 'phone'],
    help: '11 位手机号（如 13800138000）或带区号的座机（如 0372-7221234）',
  },
  {
    key: 'channel',
    label: '渠道',
    aliases: ['渠道', '发送渠道', '通道', '平台', 'channel', 'channelkind'],
    help: '企业微信、钉钉、飞书、自建平台、人工转发；表中没有渠道列时，新群按个人微信群（人工转发）导入',
  },
  {
    key: 'webhookUrl',
    label: '机器人地址',
    aliases: ['机器人地址', 'webhook地址', 'webhook', '机器人webhook', '推送地址', 'webhookurl', 'url'],
  },
  { key: 'secret', label: '加签密钥', aliases: ['加签密钥', '签名密钥', '密钥', 'secret'] },
  { key: 'keyword', label: '关键词', aliases: ['关键词', '安全关键词', 'keyword'] },
  { key: 'tags', label: '标签', aliases: ['标签', '分类', 'tags', 'tag'], help: '多个标签用顿号分隔，如 重点村、学校' },
  { key: 'active', label: '启用', aliases: ['启用', '是否启用', '状态', 'active', 'enabled'], help: '是/否，空白为是' },
  { key: 'note', label: '备注', aliases: ['备注', '说明', '备注说明', 'note', 'remark'] },
  // Columns staff sheets (and our export) carry that are accepted and not imported.
  {
    key: 'info',
    label: '说明列（不导入）',
    aliases: ['序号', '编号', '县区', '县（区）', '群主', '群主姓名', '人数更新时间', '故障标记', 'county', 'no'],
  },
];

export type RegionColumn = 'code' | 'name' | 'parentCode' | 'lat' | 'lng' | 'info';

export const REGION_COLUMNS: ColumnSpec<RegionColumn>[] = [
  {
    key: 'code',
    label: '区划代码',
    aliases: ['区划代码', '行政区划代码', '代码', '统计用区划代码', 'code'],
    required: true,
  },
  { key: 'name', label: '名称', aliases: ['名称', '地区名称', '区划名称', 'name'], required: true },
  {
    key: 'parentCode',
    label: '上级代码',
    aliases: ['上级代码', '上级区划代码', '父级代码', 'parentcode', 'parent'],
    required: true,
  },
  { key: 'lat', label: '纬度', aliases: ['纬度', 'lat', 'latitude'] },
  { key: 'lng', label: '经度', aliases: ['经度', 'lng', 'lon', 'longitude'] },
  { key: 'info', label: '说明列', aliases: ['级别', 'level'] },
];

export interface HeaderMatch<K extends string> {
  headerRow: number;
  /** Column index → key. */
  columns: Map<number, K>;
  ignored: string[];
  /** Rows after the header. */
  rows: SheetRow[];
}

const HEADER_SEARCH_ROWS = 10;

const OPENING = new Set(['(', '（']);
const CLOSING = new Set([')', '）']);

/**
 * "群人数（人）" → "群人数": drops a bracketed part that ends the cell. The same as
 * `replace(/[（(][^）)]*[）)]\s*$/, '')`, in one pass: that regex retries from every opening
 * bracket, so a header cell of 30,000 "(" took half a second (a 3 MB cell, about an hour).
 */
export function withoutTrailingUnit(cell: string): string {
  let close = cell.length - 1;
  while (close >= 0 && /\s/.test(cell[close]!)) close -= 1;
  if (close < 0 || !CLOSING.has(cell[close]!)) return cell;
  // The unit starts at the first opening bracket after the previous closing one.
  let start = -1;
  for (let i = close - 1; i >= 0 && !CLOSING.has(cell[i]!); i -= 1) if (OPENING.has(cell[i]!)) start = i;
  return start < 0 ? cell : cell.slice(0, start);
}

/** Finds the header row (staff sheets often start with a merged title line) and maps its columns. */
export function matchHeader<K extends string>(rows: SheetRow[], specs: ColumnSpec<K>[]): HeaderMatch<K> {
  const aliases = new Map<string, K>();
  for (const spec of specs) for (const alias of spec.aliases) aliases.set(headerKey(alias), spec.key);
  // "群人数（人）": a unit in trailing brackets is dropped when the full text is not a known name.
  const keyOf = (cell: string) => aliases.get(headerKey(cell)) ?? aliases.get(headerKey(withoutTrailingUnit(cell)));
  const lookup = { has: (cell: string) => keyOf(cell) !== undefined, get: keyOf };
  const candidates = rows.filter((row) => row.cells.some((cell) => cell.trim())).slice(0, HEADER_SEARCH_ROWS);
  const header = candidates.find((row) => row.cells.filter((cell) => lookup.has(cell)).length >= 2);
  const expected = specs
    .filter((s) => s.required)
    .map((s) => s.label)
    .join('、');
  if (!header)
    throw new InvalidInput(
      `找不到表头：前 ${HEADER_SEARCH_ROWS} 行里没有可识别的列名（至少需要：${expected}）`,
      'file',
    );
  const columns = new Map<number, K>();
  const ignored: string[] = [];
  const seen = new Map<K, string>();
  header.cells.forEach((cell, index) => {
    if (!cell.trim()) return;
    const key = lookup.get(cell);
    if (!key) {
      ignored.push(cell.trim());
      return;
    }
    if (key !== ('info' as K) && seen.has(key)) {
      throw new InvalidInput(
        `第 ${header.number} 行表头中“${seen.get(key)}”与“${cell.trim()}”是同一列，请删去一列`,
        'file',
      );
    }
    seen.set(key, cell.trim());
    columns.set(index, key);
  });
  for (const spec of specs.filter((s) => s.required)) {
    if (!seen.has(spec.key)) {
      const near = ignored.length ? `；未识别的列：${ignored.join('、')}` : '';
      throw new InvalidInput(
        `缺少必填列“${spec.label}”（可写作：${spec.aliases.slice(0, 4).join('、')}）${near}`,
        'file',
      );
    }
  }
  return { headerRow: header.number, columns, ignored, rows: rows.filter((row) => row.number > header.number) };
}

/** The row's cells by key; null for a row with nothing in it. */
export function rowValues<K extends string>(row: SheetRow, columns: Map<number, K>): Partial<Record<K, string>> | null {
  const values: Partial<Record<K, string>> = {};
  let any = false;
  for (const [index, key] of columns) {
    const cell = row.cells[index] ?? '';
    if (cell.trim()) any = true;
    values[key] = cell;
  }
  return any ? values : null;
}

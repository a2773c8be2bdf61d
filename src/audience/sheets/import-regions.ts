// Region sheet import: code, name, parent code (and optional coordinates). Parents may come
// later in the sheet than their children; rows are resolved level by level. Keyed on the
// region code (existing codes read once, new ones inserted), so a second import changes nothing. A region never moves to
// another parent through an import.
import type { AnyBulkWriteOperation } from 'mongoose';
import { type RegionLevel, canonicalRegionCode, childLevel, codeFitsParent, levelLabel } from '../../regions/levels.js';
import { RegionModel } from '../../regions/model.js';
import type { Scope } from '../../regions/scope.js';
import { REGION_COLUMNS, matchHeader, rowValues } from './columns.js';
import { cleanText, compactText } from './normalise.js';
import type { SheetRow } from './read-sheet.js';
import { type ImportOptions, type ImportReport, MAX_REPORTED_ERRORS, type RowError } from './report.js';
import { MAX_UPDATES_PER_COMMAND } from '../../db/bulk.js';

interface RegionRow {
  row: number;
  rawCode: string;
  name: string;
  parentRaw: string;
  lat: number | null;
  lng: number | null;
}

interface Known {
  code: string;
  level: RegionLevel;
  regionPath: string[];
  parentCode: string | null;
  name?: string;
  lat?: number | null;
  lng?: number | null;
}

function coordinate(raw: string | undefined, min: number, max: number): number | null | 'bad' {
  const text = compactText(raw ?? '');
  if (!text) return null;
  const value = Number(text);
  return Number.isFinite(value) && value >= min && value <= max ? value : 'bad';
}

/** A code as the sheet wrote it, for any level: 12-digit padded codes are shortened. */
function anyLevelCode(raw: string): string[] {
  const levels: RegionLevel[] = ['province', 'township', 'village'];
  return [...new Set(levels.map((level) => canonicalRegionCode(raw, level)).filter((c): c is string => Boolean(c)))];
}

export async function importRegions(scope: Scope, rows: SheetRow[], options: ImportOptions): Promise<ImportReport> {
  const header = matchHeader(rows, REGION_COLUMNS);
  const errors: RowError[] = [];
  const pending: RegionRow[] = [];
  const seen = new Map<string, number>();
  let total = 0;
  for (const row of header.rows) {
    const values = rowValues(row, header.columns);
    if (!values) continue;
    total += 1;
    const rawCode = compactText(values.code ?? '');
    const name = cleanText(values.name ?? '');
    const parentRaw = compactText(values.parentCode ?? '');
    const lat = coordinate(values.lat, -90, 90);
    const lng = coordinate(values.lng, -180, 180);
    if (!/^\d{6,12}$/.test(rawCode))
      errors.push({ row: row.number, column: '区划代码', message: `“${rawCode}”不是区划代码（6–12 位数字）` });
    else if (!name) errors.push({ row: row.number, column: '名称', message: '名称为空' });
    else if (name.length > 64) errors.push({ row: row.number, column: '名称', message: '名称超过 64 个字符' });
    else if (!/^\d{6,12}$/.test(parentRaw))
      errors.push({ row: row.number, column: '上级代码', message: `上级代码“${parentRaw}”无效` });
    else if (lat === 'bad' || lng === 'bad')
      errors.push({ row: row.number, column: '纬度', message: '经纬度超出范围' });
    else if ((lat === null) !== (lng === null))
      errors.push({ row: row.number, column: '纬度', message: '经纬度需同时填写' });
    else if (seen.has(rawCode))
      errors.push({ row: row.number, column: '区划代码', message: `与第 ${seen.get(rawCode)} 行重复` });
    else {
      seen.set(rawCode, row.number);
      pending.push({ row: row.number, rawCode, name, parentRaw, lat, lng });
    }
  }

  const candidates = new Set(pending.flatMap((r) => [...anyLevelCode(r.rawCode), ...anyLevelCode(r.parentRaw)]));
  const known = new Map<string, Known>();
  const existing = await RegionModel.find({ code: { $in: [...candidates] } }).lean<Known[]>();
  for (const region of existing) known.set(region.code, region);
  const existingCodes = new Set(known.keys());

  const operations: AnyBulkWriteOperation[] = [];
  let created = 0;
  let updated = 0;
  let unchanged = 0;
  let remaining = pending;
  // Resolve level by level: each pass places rows whose parent is now known.
  for (let pass = 0; pass < 6 && remaining.length; pass += 1) {
    const next: RegionRow[] = [];
    for (const item of remaining) {
      const parent = anyLevelCode(item.parentRaw)
        .map((c) => known.get(c))
        .find(Boolean);
      if (!parent) {
        next.push(item);
        continue;
      }
      const level = childLevel(parent.level);
      const code = level ? canonicalRegionCode(item.rawCode, level) : undefined;
      if (!level || !code || !codeFitsParent(code, parent.code, parent.level)) {
        errors.push({
          row: item.row,
          column: '区划代码',
          message: level
            ? `代码 ${item.rawCode} 不是 ${parent.code} 下的${levelLabel(level)}级代码`
            : `${levelLabel(parent.level)}级地区下不能再建下级`,
        });
        continue;
      }
      if (!scope.contains(parent.regionPath)) {
        errors.push({ row: item.row, column: '上级代码', message: `上级地区 ${parent.code} 不在您的管辖范围内` });
        continue;
      }
      const current = existingCodes.has(code) ? known.get(code)! : null;
      if (current && current.parentCode !== parent.code) {
        errors.push({
          row: item.row,
          column: '上级代码',
          message: `${code} 已属于 ${current.parentCode}，导入不能移动地区`,
        });
        continue;
      }
      const regionPath = [...parent.regionPath, code];
      known.set(code, { code, level, regionPath, parentCode: parent.code });
      if (!current) {
        created += 1;
        // A plain insert: existing codes were read above, and an upsert keyed on anything but
        // _id scans the collection on FerretDB. A parallel import of the same code loses on
        // the unique index and is reported as a conflict.
        operations.push({
          insertOne: {
            document: {
              code,
              name: item.name,
              level,
              parentCode: parent.code,
              regionPath,
              lat: item.lat,
              lng: item.lng,
            },
          },
        });
      } else if (
        current.name !== item.name ||
        (current.lat ?? null) !== item.lat ||
        (current.lng ?? null) !== item.lng
      ) {
        updated += 1;
        operations.push({
          updateOne: { filter: { code }, update: { $set: { name: item.name, lat: item.lat, lng: item.lng } } },
        });
      } else unchanged += 1;
    }
    if (next.length === remaining.length) break;
    remaining = next;
  }
  for (const item of remaining.filter((r) => !known.has(anyLevelCode(r.rawCode)[0] ?? ''))) {
    if (!anyLevelCode(item.parentRaw).some((c) => known.has(c))) {
      errors.push({ row: item.row, column: '上级代码', message: `上级地区 ${item.parentRaw} 不存在（也不在本表中）` });
    }
  }

  errors.sort((a, b) => a.row - b.row);
  const apply = !options.dryRun && (errors.length === 0 || options.partial);
  if (apply && operations.length) {
    // Ordered: parents are written before their children.
    for (let i = 0; i < operations.length; i += MAX_UPDATES_PER_COMMAND) {
      await RegionModel.bulkWrite(operations.slice(i, i + MAX_UPDATES_PER_COMMAND) as never, { ordered: true });
      options.onProgress?.(Math.min(i + MAX_UPDATES_PER_COMMAND, operations.length), operations.length);
    }
  }
  return {
    dryRun: options.dryRun,
    applied: apply,
    rows: total,
    created,
    updated,
    unchanged,
    rejected: new Set(errors.map((e) => e.row)).size,
    errors: errors.slice(0, MAX_REPORTED_ERRORS),
    ignoredColumns: header.ignored,
  };
}

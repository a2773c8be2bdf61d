// Group sheet import: validate every row first (per-row errors with Excel row numbers),
// then write only what changed, keyed on group identity (village code + group name), so
// importing the same sheet twice changes nothing. Nothing is written while any row has an
// error unless the caller asks for a partial import. Empty credential cells keep the
// stored credentials, so a sheet exported by Jingxun (which never contains secrets)
// re-imports unchanged.
import type { AnyBulkWriteOperation } from 'mongoose';
import type { Clock } from '../../lib/clock.js';
import { DomainError, InvalidInput } from '../../lib/errors.js';
import { canonicalRegionCode } from '../../regions/levels.js';
import { RegionModel } from '../../regions/model.js';
import type { Scope } from '../../regions/scope.js';
import {
  type ChannelCredentials,
  type ChannelInput,
  type ChannelKind,
  parseChannelInput,
} from '../../channels/credentials.js';
import { type GroupService, checkOfficer, normaliseTags } from '../groups.js';
import { type GroupDoc, GroupModel } from '../model.js';
import { GROUP_COLUMNS, type GroupColumn, matchHeader, rowValues } from './columns.js';
import { cleanText, compactText } from './normalise.js';
import type { SheetRow } from './read-sheet.js';
import { type ImportOptions, type ImportReport, MAX_REPORTED_ERRORS, type RowError } from './report.js';

const CHANNEL_WORDS: Record<string, ChannelKind> = {
  企业微信: 'wecom',
  企微: 'wecom',
  wecom: 'wecom',
  wework: 'wecom',
  钉钉: 'dingtalk',
  dingtalk: 'dingtalk',
  飞书: 'feishu',
  feishu: 'feishu',
  lark: 'feishu',
  自建平台: 'webhook',
  自建: 'webhook',
  webhook: 'webhook',
  人工转发: 'manual',
  人工: 'manual',
  个人微信: 'manual',
  微信: 'manual',
  manual: 'manual',
};

const YES = new Set(['是', '启用', '正常', 'true', 'yes', 'y', '1']);
const NO = new Set(['否', '停用', '禁用', 'false', 'no', 'n', '0']);

function kindFromUrl(url: string): ChannelKind | null {
  if (/qyapi\.weixin\.qq\.com/i.test(url)) return 'wecom';
  if (/oapi\.dingtalk\.com/i.test(url)) return 'dingtalk';
  if (/open\.(feishu\.cn|larksuite\.com)/i.test(url)) return 'feishu';
  return null;
}

interface ParsedRow {
  row: number;
  name: string;
  regionCode: string;
  kind: ChannelKind | null;
  channel: ChannelInput | null;
  memberCount: number;
  officerName: string | null;
  officerPhone: string | null;
  tags: string[];
  active: boolean;
}

class RowProblem extends Error {
  constructor(
    readonly column: string,
    message: string,
  ) {
    super(message);
  }
}

const label = (key: GroupColumn) => GROUP_COLUMNS.find((c) => c.key === key)!.label;

function parseRow(row: SheetRow, values: Partial<Record<GroupColumn, string>>): ParsedRow {
  const name = cleanText(values.name ?? '');
  if (!name) throw new RowProblem(label('name'), '群名称为空');
  if (name.length > 64) throw new RowProblem(label('name'), '群名称超过 64 个字符');
  const rawCode = compactText(values.regionCode ?? '');
  if (!rawCode) throw new RowProblem(label('regionCode'), '村（社区）代码为空');
  const regionCode = canonicalRegionCode(rawCode, 'village');
  if (!regionCode) throw new RowProblem(label('regionCode'), `“${rawCode}”不是 12 位村（社区）代码`);

  const count = compactText(values.memberCount ?? '')
    .replace(/,/g, '')
    .replace(/人$/, '');
  if (!count) throw new RowProblem(label('memberCount'), '群人数为空');
  if (/^-\d/.test(count)) throw new RowProblem(label('memberCount'), `群人数不能为负数（${count}）`);
  if (!/^\d+(\.0+)?$/.test(count)) throw new RowProblem(label('memberCount'), `群人数“${count}”不是整数`);
  const memberCount = Number.parseInt(count, 10);
  if (memberCount > 100_000) throw new RowProblem(label('memberCount'), `群人数 ${memberCount} 超过上限 100000`);

  const webhookUrl = cleanText(values.webhookUrl ?? '') || null;
  const secret = compactText(values.secret ?? '') || null;
  const keyword = cleanText(values.keyword ?? '') || null;
  const channelWord = compactText(values.channel ?? '').toLowerCase();
  let kind: ChannelKind | null = null;
  if (channelWord) {
    kind = CHANNEL_WORDS[channelWord] ?? null;
    if (!kind)
      throw new RowProblem(
        label('channel'),
        `无法识别渠道“${channelWord}”（可填：企业微信、钉钉、飞书、自建平台、人工转发）`,
      );
  } else if (webhookUrl) {
    kind = kindFromUrl(webhookUrl);
    if (!kind) throw new RowProblem(label('channel'), '请填写渠道（无法从机器人地址判断）');
  }
  const hasCredentials = Boolean(webhookUrl || secret || keyword);
  const channel: ChannelInput | null =
    kind && (hasCredentials || kind === 'manual')
      ? { kind, webhookUrl, secret, keyword, ...(kind === 'webhook' ? { url: webhookUrl } : {}) }
      : null;

  const officerName = cleanText(values.officerName ?? '') || null;
  const officerPhone = compactText(values.officerPhone ?? '') || null;
  if (officerPhone && !officerName) throw new RowProblem(label('officerName'), '填写了民警电话但没有民警姓名');
  let tags: string[];
  try {
    tags = normaliseTags(cleanText(values.tags ?? '').split(/[、,，;；|\s]+/));
    checkOfficer(officerName ? { name: officerName, phone: officerPhone } : null);
  } catch (error) {
    throw new RowProblem(
      error instanceof DomainError && error.field === 'tags' ? label('tags') : label('officerPhone'),
      (error as Error).message,
    );
  }
  const activeWord = compactText(values.active ?? '').toLowerCase();
  if (activeWord && !YES.has(activeWord) && !NO.has(activeWord)) {
    throw new RowProblem(label('active'), `“${activeWord}”应为 是/否`);
  }
  return {
    row: row.number,
    name,
    regionCode,
    kind,
    channel,
    memberCount,
    officerName,
    officerPhone,
    tags,
    active: !NO.has(activeWord),
  };
}

function sameCredentials(a: ChannelCredentials, b: ChannelCredentials): boolean {
  return JSON.stringify(a, Object.keys(a).sort()) === JSON.stringify(b, Object.keys(b).sort());
}

const WRITE_BATCH = 1_000;

export async function importGroups(
  groups: GroupService,
  clock: Clock,
  scope: Scope,
  rows: SheetRow[],
  options: ImportOptions,
): Promise<ImportReport> {
  const header = matchHeader(rows, GROUP_COLUMNS);
  const errors: RowError[] = [];
  const problem = (row: number, column: string | undefined, message: string) => {
    errors.push({ row, ...(column ? { column } : {}), message });
  };
  const parsed: ParsedRow[] = [];
  const firstRowOf = new Map<string, number>();
  let total = 0;
  for (const row of header.rows) {
    const values = rowValues(row, header.columns);
    if (!values) continue; // blank lines between blocks are normal in staff sheets
    total += 1;
    try {
      const item = parseRow(row, values);
      const identity = `${item.regionCode}\u0000${item.name}`;
      const first = firstRowOf.get(identity);
      if (first !== undefined) {
        problem(row.number, label('name'), `与第 ${first} 行重复（同一村（社区）下同名的群）`);
        continue;
      }
      firstRowOf.set(identity, row.number);
      parsed.push(item);
    } catch (error) {
      if (error instanceof RowProblem) problem(row.number, error.column, error.message);
      else throw error;
    }
  }

  // Villages: must exist, be villages, and lie inside the caller's scope.
  const codes = [...new Set(parsed.map((p) => p.regionCode))];
  const villages = new Map<string, { regionPath: string[]; level: string }>();
  for (let i = 0; i < codes.length; i += 20_000) {
    const found = await RegionModel.find(
      { code: { $in: codes.slice(i, i + 20_000) } },
      { _id: 0, code: 1, regionPath: 1, level: 1 },
    ).lean<{ code: string; regionPath: string[]; level: string }[]>();
    for (const region of found) villages.set(region.code, region);
  }
  const existing = new Map<string, GroupDoc>();
  for (let i = 0; i < codes.length; i += 20_000) {
    const docs = await GroupModel.find({ regionCode: { $in: codes.slice(i, i + 20_000) }, ...scope.filter() }).lean<
      GroupDoc[]
    >();
    for (const doc of docs) existing.set(`${doc.regionCode}\u0000${doc.name}`, doc);
  }

  const now = clock.now();
  const operations: AnyBulkWriteOperation[] = [];
  let created = 0;
  let updated = 0;
  let unchanged = 0;
  for (const item of parsed) {
    const village = villages.get(item.regionCode);
    if (!village || !scope.contains(village.regionPath)) {
      problem(item.row, label('regionCode'), `村（社区）代码 ${item.regionCode} 不存在或不在您的管辖范围内`);
      continue;
    }
    if (village.level !== 'village') {
      problem(item.row, label('regionCode'), `${item.regionCode} 不是村（社区）级代码`);
      continue;
    }
    const current = existing.get(`${item.regionCode}\u0000${item.name}`);
    let credentials: ChannelCredentials | null = null;
    try {
      if (item.channel) credentials = parseChannelInput(item.channel, 'sheet');
    } catch (error) {
      if (!(error instanceof InvalidInput)) throw error;
      const column = error.field?.endsWith('secret')
        ? label('secret')
        : error.field?.endsWith('keyword')
          ? label('keyword')
          : label('webhookUrl');
      problem(item.row, column, error.message);
      continue;
    }
    if (!current) {
      if (!item.kind) {
        problem(item.row, label('channel'), '新群需填写渠道');
        continue;
      }
      if (!credentials) {
        problem(item.row, label('webhookUrl'), '新群需填写机器人地址（人工转发除外）');
        continue;
      }
      created += 1;
      operations.push({
        insertOne: {
          document: {
            name: item.name,
            regionCode: item.regionCode,
            regionPath: village.regionPath,
            channelKind: credentials.kind,
            credentialsSealed: groups.sealCredentials(credentials),
            memberCount: item.memberCount,
            memberCountUpdatedAt: now,
            officerName: item.officerName,
            officerPhone: item.officerPhone,
            tags: item.tags,
            active: item.active,
            flaggedAt: null,
            flagReason: null,
          },
        },
      });
      continue;
    }
    const set: Record<string, unknown> = {};
    if (credentials) {
      if (
        credentials.kind !== current.channelKind ||
        !sameCredentials(credentials, groups.openCredentials(current.credentialsSealed))
      ) {
        set.channelKind = credentials.kind;
        set.credentialsSealed = groups.sealCredentials(credentials);
        set.flaggedAt = null;
        set.flagReason = null;
      }
    } else if (item.kind && item.kind !== current.channelKind) {
      problem(item.row, label('webhookUrl'), '更换渠道时需填写新的机器人地址');
      continue;
    }
    if (item.memberCount !== current.memberCount) {
      set.memberCount = item.memberCount;
      set.memberCountUpdatedAt = now;
    }
    if (item.officerName !== (current.officerName ?? null)) set.officerName = item.officerName;
    if (item.officerPhone !== (current.officerPhone ?? null)) set.officerPhone = item.officerPhone;
    if (JSON.stringify(item.tags) !== JSON.stringify(current.tags)) set.tags = item.tags;
    if (item.active !== current.active) set.active = item.active;
    if (Object.keys(set).length === 0) {
      unchanged += 1;
      continue;
    }
    updated += 1;
    operations.push({ updateOne: { filter: { _id: current._id }, update: { $set: set } } });
  }

  errors.sort((a, b) => a.row - b.row);
  const rejectedRows = new Set(errors.map((e) => e.row)).size;
  const apply = !options.dryRun && (errors.length === 0 || options.partial);
  if (apply) {
    for (let i = 0; i < operations.length; i += WRITE_BATCH) {
      await GroupModel.bulkWrite(operations.slice(i, i + WRITE_BATCH) as never, { ordered: false });
      options.onProgress?.(Math.min(i + WRITE_BATCH, operations.length), operations.length);
    }
  }
  return {
    dryRun: options.dryRun,
    applied: apply,
    rows: total,
    created,
    updated,
    unchanged,
    rejected: rejectedRows,
    errors: errors.slice(0, MAX_REPORTED_ERRORS),
    ignoredColumns: header.ignored,
  };
}

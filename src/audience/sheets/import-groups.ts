// Group sheet import: the ledger as a county desk keeps it, in one step. Every row is
// checked completely (all of a row's errors are reported at once, with Excel row numbers),
// then only what changed is written, keyed on group identity (village code + group name),
// so importing the same sheet twice changes nothing. Nothing is written while any row has
// an error unless the caller asks for a partial import. Empty credential cells keep the
// stored credentials, so a sheet exported by Jingxun (which never contains secrets)
// re-imports unchanged.
//
// Villages are found by their 12-digit code or, without one, by township + village name
// inside the county; a code the tree lacks is created under its township (the sheet names
// it). A sheet without a channel column lists personal WeChat groups: new groups get the
// default channel (manual forwarding unless configured). Total rows (合计, or a SUM
// formula) are reported as totals, not as errors.
import type { AnyBulkWriteOperation } from 'mongoose';
import type { Clock } from '../../lib/clock.js';
import { DomainError, InvalidInput } from '../../lib/errors.js';
import { canonicalRegionCode } from '../../regions/levels.js';
import type { Scope } from '../../regions/scope.js';
import {
  type ChannelCredentials,
  type ChannelInput,
  type ChannelKind,
  parseChannelInput,
} from '../../channels/credentials.js';
import { type GroupService, checkOfficer, normaliseTags, sharedRobotKey } from '../groups.js';
import { type GroupDoc, GroupModel } from '../model.js';
import { GROUP_COLUMNS, type GroupColumn, matchHeader, rowValues } from './columns.js';
import { cleanText, compactText } from './normalise.js';
import type { SheetRow } from './read-sheet.js';
import {
  type ImportOptions,
  type ImportReport,
  MAX_REPORTED_ERRORS,
  type RowError,
  type TotalRow,
  type VillageListing,
  groupProblems,
  summaryLine,
} from './report.js';
import {
  type PlaceMappings,
  type VillageCreation,
  type VillageDirectory,
  loadVillageDirectory,
} from './villages.js';

export const CHANNEL_WORDS: Record<string, ChannelKind> = {
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
const TOTAL_WORD = /^(合计|总计|小计|共计|总数|全县合计)[:：]?$/;
const MAX_NOTE_CHARS = 500;

export interface GroupImportOptions extends ImportOptions {
  /** Channel of new groups in a sheet without a channel column (default: manual forwarding). */
  defaultChannel?: ChannelKind;
  /** Where villages named without a code are looked for (a county); default: the sheet's county. */
  regionCode?: string;
  /** The admin's answers: sheet township name → township code or "new"; "乡镇/村" → village code or "new". */
  mappings?: PlaceMappings;
}

function kindFromUrl(url: string): ChannelKind | null {
  if (/qyapi\.weixin\.qq\.com/i.test(url)) return 'wecom';
  if (/oapi\.dingtalk\.com/i.test(url)) return 'dingtalk';
  if (/open\.(feishu\.cn|larksuite\.com)/i.test(url)) return 'feishu';
  return null;
}

interface ParsedRow {
  row: number;
  name: string;
  /** From the code column; null when the row names its village instead. */
  code: string | null;
  townshipName: string;
  villageName: string;
  kind: ChannelKind | null;
  credentials: ChannelCredentials | null;
  /** null: blank in the sheet (unknown). */
  memberCount: number | null;
  officerName: string | null;
  officerPhone: string | null;
  tags: string[];
  note: string | null;
  active: boolean;
  problems: RowError[];
}

const label = (key: GroupColumn) => GROUP_COLUMNS.find((c) => c.key === key)!.label;

function parseMemberCount(raw: string, problem: (message: string) => void): number | null {
  const count = compactText(raw).replace(/,/g, '').replace(/人$/, '');
  if (!count) return null;
  if (/^-\d/.test(count)) problem(`群人数不能为负数（${count}）`);
  else if (!/^\d+(\.0+)?$/.test(count)) problem(`群人数“${count}”不是整数`);
  else {
    const value = Number.parseInt(count, 10);
    if (value <= 100_000) return value;
    problem(`群人数 ${value} 超过上限 100000`);
  }
  return null;
}

/** Every problem of the row's own cells; the village is resolved later. */
function parseRow(row: SheetRow, values: Partial<Record<GroupColumn, string>>): ParsedRow {
  const problems: RowError[] = [];
  const problem = (key: GroupColumn, message: string) =>
    problems.push({ row: row.number, column: label(key), message, cause: key });

  const name = cleanText(values.name ?? '');
  if (!name) problem('name', '群名称为空');
  else if (name.length > 64) problem('name', '群名称超过 64 个字符');

  const rawCode = compactText(values.regionCode ?? '');
  const townshipName = cleanText(values.townshipName ?? '');
  const villageName = cleanText(values.villageName ?? '');
  let code: string | null = null;
  if (rawCode) {
    code = canonicalRegionCode(rawCode, 'village') ?? null;
    if (!code) problem('regionCode', `“${rawCode}”不是 12 位村（社区）代码`);
  } else if (!villageName) {
    problem('regionCode', '村（社区）代码为空（也可填写乡镇和村（社区）名称）');
  }

  const memberCount = parseMemberCount(values.memberCount ?? '', (message) => problem('memberCount', message));

  const webhookUrl = cleanText(values.webhookUrl ?? '') || null;
  const secret = compactText(values.secret ?? '') || null;
  const keyword = cleanText(values.keyword ?? '') || null;
  const channelWord = compactText(values.channel ?? '').toLowerCase();
  let kind: ChannelKind | null = null;
  if (channelWord) {
    kind = CHANNEL_WORDS[channelWord] ?? null;
    if (!kind) problem('channel', `无法识别渠道“${channelWord}”（可填：企业微信、钉钉、飞书、自建平台、人工转发）`);
  } else if (webhookUrl) {
    kind = kindFromUrl(webhookUrl);
    if (!kind) problem('channel', '请填写渠道（无法从机器人地址判断）');
  }
  let credentials: ChannelCredentials | null = null;
  if (kind && (webhookUrl || secret || keyword || kind === 'manual')) {
    const input: ChannelInput = {
      kind,
      webhookUrl,
      secret,
      keyword,
      ...(kind === 'webhook' ? { url: webhookUrl } : {}),
    };
    try {
      credentials = parseChannelInput(input, 'sheet');
    } catch (error) {
      if (!(error instanceof InvalidInput)) throw error;
      const field = error.field ?? '';
      problem(
        field.endsWith('secret') ? 'secret' : field.endsWith('keyword') ? 'keyword' : 'webhookUrl',
        error.message,
      );
    }
  }

  const officerName = cleanText(values.officerName ?? '') || null;
  const officerPhone = compactText(values.officerPhone ?? '') || null;
  if (officerPhone && !officerName) problem('officerName', '填写了民警电话但没有民警姓名');
  try {
    checkOfficer(officerName ? { name: officerName, phone: officerPhone } : null);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    problem('officerPhone', error.message);
  }
  let tags: string[] = [];
  try {
    tags = normaliseTags(cleanText(values.tags ?? '').split(/[、,，;；|\s]+/));
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    problem('tags', error.message);
  }
  const activeWord = compactText(values.active ?? '').toLowerCase();
  if (activeWord && !YES.has(activeWord) && !NO.has(activeWord)) problem('active', `“${activeWord}”应为 是/否`);
  const note = cleanText(values.note ?? '') || null;
  if (note && note.length > MAX_NOTE_CHARS) problem('note', `备注超过 ${MAX_NOTE_CHARS} 个字符`);
  return {
    row: row.number,
    name,
    code,
    townshipName,
    villageName,
    kind,
    credentials,
    memberCount,
    officerName,
    officerPhone,
    tags,
    note,
    active: !NO.has(activeWord),
    problems,
  };
}

/** A staff sheet's total line: a cell that says 合计 (or the like), or a SUM formula without a group name. */
function isTotalRow(row: SheetRow, values: Partial<Record<GroupColumn, string>>): boolean {
  if (row.cells.some((cell) => TOTAL_WORD.test(compactText(cell)))) return true;
  return Boolean(row.sums) && !cleanText(values.name ?? '');
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
  options: GroupImportOptions,
): Promise<ImportReport> {
  const header = matchHeader(rows, GROUP_COLUMNS);
  const mapped = new Set(header.columns.values());
  if (!mapped.has('regionCode') && !mapped.has('villageName')) {
    throw new InvalidInput('缺少村（社区）列：需要“村（社区）代码”（12 位），或“乡镇”和“村（社区）”名称列', 'file');
  }
  const hasChannelColumns = mapped.has('channel') || mapped.has('webhookUrl');
  const defaultKind = options.defaultChannel ?? 'manual';

  const parsed: ParsedRow[] = [];
  const totals: TotalRow[] = [];
  let total = 0;
  for (const row of header.rows) {
    const values = rowValues(row, header.columns);
    if (!values) continue; // blank lines between blocks are normal in staff sheets
    if (isTotalRow(row, values)) {
      const given = compactText(values.memberCount ?? '').replace(/,/g, '');
      totals.push({ row: row.number, memberCount: /^\d+$/.test(given) ? Number(given) : null });
      continue;
    }
    total += 1;
    parsed.push(parseRow(row, values));
  }

  const directory: VillageDirectory = await loadVillageDirectory(scope, parsed, options.regionCode, options.mappings);
  const now = clock.now();
  const errors: RowError[] = [];
  const warnings: RowError[] = [];
  const villageInserts = new Map<string, VillageCreation>();
  const villageRows = new Map<string, number>();
  const firstRowOf = new Map<string, number>();
  const existing = new Map<string, GroupDoc>();
  const resolved = parsed.map((item) => ({ item, village: directory.resolve(item, item.problems, warnings) }));
  const codes = [...new Set(resolved.flatMap(({ village }) => (village ? [village.code] : [])))];
  for (let i = 0; i < codes.length; i += 20_000) {
    const docs = await GroupModel.find({ regionCode: { $in: codes.slice(i, i + 20_000) }, ...scope.filter() }).lean<
      GroupDoc[]
    >();
    for (const doc of docs) existing.set(`${doc.regionCode}\u0000${doc.name}`, doc);
  }

  // Robots already used by groups in scope: a row naming one again is warned about (one chat).
  const sheetRobots = new Map<string, number>();
  const robotKeys = [
    ...new Set(parsed.flatMap((item) => (item.credentials ? [sharedRobotKey(item.credentials)] : [])).filter(Boolean)),
  ] as string[];
  const usedRobots = new Map<string, { name: string; identity: string }[]>();
  if (robotKeys.length > 0) {
    const docs = await GroupModel.find({ robotKey: { $in: robotKeys }, ...scope.filter() }, { name: 1, regionCode: 1, robotKey: 1 }).lean<
      { name: string; regionCode: string; robotKey: string }[]
    >();
    for (const doc of docs) {
      const list = usedRobots.get(doc.robotKey) ?? [];
      list.push({ name: doc.name, identity: `${doc.regionCode}\u0000${doc.name}` });
      usedRobots.set(doc.robotKey, list);
    }
  }

  const operations: AnyBulkWriteOperation[] = [];
  let created = 0;
  let updated = 0;
  let unchanged = 0;
  for (const { item, village } of resolved) {
    const problem = (key: GroupColumn, message: string) =>
      item.problems.push({ row: item.row, column: label(key), message, cause: key });
    const identity = village ? `${village.code}\u0000${item.name}` : null;
    if (identity && item.name) {
      const first = firstRowOf.get(identity);
      if (first !== undefined) problem('name', `与第 ${first} 行重复（同一村（社区）下同名的群）`);
      else firstRowOf.set(identity, item.row);
    }
    const current = identity ? existing.get(identity) : undefined;
    const kind = item.kind ?? (current || hasChannelColumns ? null : defaultKind);
    let credentials = item.credentials;
    if (!current) {
      if (!kind) {
        if (!item.problems.some((p) => p.column === label('channel'))) problem('channel', '新群需填写渠道');
      } else if (!credentials && kind === 'manual') credentials = parseChannelInput({ kind: 'manual' }, 'sheet');
      else if (!credentials && !item.problems.some((p) => p.column === label('webhookUrl')))
        problem('webhookUrl', '新群需填写机器人地址（人工转发除外）');
    } else if (!credentials && item.kind && item.kind !== current.channelKind) {
      problem('webhookUrl', '更换渠道时需填写新的机器人地址');
    }
    if (item.problems.length > 0 || !village) {
      errors.push(...item.problems);
      continue;
    }
    const robotKey = credentials ? sharedRobotKey(credentials) : null;
    if (robotKey && identity) {
      const earlierRow = sheetRobots.get(robotKey);
      const others = (usedRobots.get(robotKey) ?? []).filter((g) => g.identity !== identity);
      const shared = (where: string) =>
        warnings.push({
          row: item.row,
          column: label('webhookUrl'),
          message: `机器人与${where}相同：两群为同一群聊，每次推送只发一次（两群都计为触达）`,
          cause: 'same-robot',
        });
      if (earlierRow !== undefined) shared(`第 ${earlierRow} 行`);
      else if (others.length > 0) shared(`已有的群“${others[0]!.name}”`);
      if (earlierRow === undefined) sheetRobots.set(robotKey, item.row);
    }
    if (village.create) {
      villageInserts.set(village.code, village.create);
      villageRows.set(village.code, (villageRows.get(village.code) ?? 0) + 1);
    }
    if (!current) {
      created += 1;
      operations.push({
        insertOne: {
          document: {
            name: item.name,
            regionCode: village.code,
            regionPath: village.regionPath,
            channelKind: credentials!.kind,
            credentialsSealed: groups.sealCredentials(credentials!),
            robotKey,
            memberCount: item.memberCount ?? 0,
            memberCountUpdatedAt: item.memberCount === null ? null : now,
            officerName: item.officerName,
            officerPhone: item.officerPhone,
            tags: item.tags,
            note: item.note,
            active: item.active,
            flaggedAt: null,
            flagReason: null,
          },
        },
      });
      continue;
    }
    const set: Record<string, unknown> = {};
    if (
      credentials &&
      (credentials.kind !== current.channelKind ||
        !sameCredentials(credentials, groups.openCredentials(current.credentialsSealed)))
    ) {
      set.channelKind = credentials.kind;
      set.credentialsSealed = groups.sealCredentials(credentials);
      set.robotKey = robotKey;
      set.flaggedAt = null;
      set.flagReason = null;
    }
    if (item.memberCount !== null && item.memberCount !== current.memberCount) {
      set.memberCount = item.memberCount;
      set.memberCountUpdatedAt = now;
    }
    if (item.officerName !== (current.officerName ?? null)) set.officerName = item.officerName;
    if (item.officerPhone !== (current.officerPhone ?? null)) set.officerPhone = item.officerPhone;
    if (JSON.stringify(item.tags) !== JSON.stringify(current.tags)) set.tags = item.tags;
    if (item.note !== (current.note ?? null)) set.note = item.note;
    if (item.active !== current.active) set.active = item.active;
    if (Object.keys(set).length === 0) {
      unchanged += 1;
      continue;
    }
    updated += 1;
    operations.push({ updateOne: { filter: { _id: current._id }, update: { $set: set } } });
  }

  errors.sort((a, b) => a.row - b.row);
  warnings.sort((a, b) => a.row - b.row);
  const rejectedRows = new Set(errors.map((e) => e.row)).size;
  const apply = !options.dryRun && (errors.length === 0 || options.partial);
  let made = { townshipsCreated: 0, villagesCreated: villageInserts.size };
  if (apply) {
    // Townships and villages first: a group never points at a region that is not there.
    made = await directory.apply([...villageInserts.values()]);
    for (let i = 0; i < operations.length; i += WRITE_BATCH) {
      await GroupModel.bulkWrite(operations.slice(i, i + WRITE_BATCH) as never, { ordered: false });
      options.onProgress?.(Math.min(i + WRITE_BATCH, operations.length), operations.length);
    }
  }
  const townshipQuestions = directory.townshipQuestions();
  const errorRows = new Set(errors.filter((e) => e.cause !== 'township-unmatched').map((e) => e.row)).size;
  const villages: VillageListing[] = [
    ...directory.villageQuestions(),
    ...[...villageInserts.values()].map((v) => ({
      township: directory.townshipOf(v.parentCode) ?? { code: v.parentCode, name: '' },
      name: v.name,
      rows: villageRows.get(v.code) ?? 0,
      action: 'create' as const,
      code: v.code,
      candidates: [],
    })),
  ];
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
    villagesCreated: made.villagesCreated,
    townshipsCreated: made.townshipsCreated,
    county: directory.county,
    townships: townshipQuestions,
    villages,
    problems: groupProblems(errors, warnings),
    warnings: warnings.slice(0, MAX_REPORTED_ERRORS),
    summary: summaryLine(total - rejectedRows, townshipQuestions.length, errorRows),
    totals: totals.map((t) => ({ ...t, countedMembers: parsed.reduce((sum, p) => sum + (p.memberCount ?? 0), 0) })),
  };
}

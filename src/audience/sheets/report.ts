export interface Candidate {
  code: string;
  name: string;
}

/** A township name of the sheet the county's tree lacks: to map once for the whole sheet. */
export interface TownshipQuestion {
  name: string;
  rows: number;
  candidates: Candidate[];
}

/** A village the township lacks: created on import, or (resembling an official one) to confirm. */
export interface VillageListing {
  township: Candidate;
  name: string;
  rows: number;
  action: 'create' | 'confirm';
  /** The code the new village gets (action create). */
  code?: string;
  candidates: Candidate[];
}

export interface RowError {
  row: number;
  column?: string;
  message: string;
  /** What kind of problem, for grouping the report (township-unmatched, code-conflict, …). */
  cause?: string;
}

export interface ImportReport {
  dryRun: boolean;
  /** False when nothing was written (a dry run, or errors without `partial`). */
  applied: boolean;
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  /** Rows with errors (not written). */
  rejected: number;
  errors: RowError[];
  /** Header cells that matched no known column (not imported). */
  ignoredColumns: string[];
  /** Villages created under their township (group imports): listed in `villages` by the dry run. */
  villagesCreated?: number;
  /** Local townships created for sheet names mapped to "new". */
  townshipsCreated?: number;
  /** The county names were looked up in. */
  county?: { code: string; name: string } | null;
  /** Township names of the sheet the tree lacks, with row counts and candidates (best first). */
  townships?: TownshipQuestion[];
  /** Villages the townships lack: to be created, or (resembling an official one) to confirm. */
  villages?: VillageListing[];
  /** The problems grouped by cause, most rows first. */
  problems?: ProblemGroup[];
  /** Notes that did not stop a row (a code the tree lacks, ignored for the names). */
  warnings?: RowError[];
  /** 可导入 N 行，需确认 M 个乡镇名称，K 行有错误 */
  summary?: string;
  /** The sheet's own total lines (合计, SUM): reported, not imported. */
  totals?: TotalRow[];
}

export interface TotalRow {
  row: number;
  /** The member count the total line gives, if it gives one. */
  memberCount: number | null;
  /** The sum of the member counts of the sheet's group rows, to compare. */
  countedMembers?: number;
}

export interface ImportOptions {
  dryRun: boolean;
  /** Write the good rows even when others have errors. */
  partial: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Errors are listed in full up to this many; the count is always exact. */
export const MAX_REPORTED_ERRORS = 1_000;

export interface ProblemGroup {
  cause: string;
  title: string;
  /** Rows affected (each counted once). */
  count: number;
  /** The rows' numbers, the first MAX_GROUP_ROWS of them. */
  rows: number[];
  /** One of the group's messages, as an example. */
  example: string;
  warning?: boolean;
}

const MAX_GROUP_ROWS = 200;

/** What each cause means, as the report's group titles. */
export const CAUSE_TITLES: Record<string, string> = {
  'township-unmatched': '乡镇名称不在本县名单中，需确认对应哪个乡镇',
  'code-conflict': '代码与乡镇、村名称不一致（未导入；改正代码或删去代码即按名称导入）',
  'code-unknown': '代码在地区树中没有（请填写乡镇和村名）',
  'village-ambiguous': '村名在县内或乡镇内重名，需填写乡镇或代码',
  'village-unknown': '找不到村（社区），请填写乡镇',
  'village-similar': '村名与本乡镇的官方名称相近，需确认',
  'village-elsewhere': '村不在所填乡镇，而在其他乡镇',
  'village-empty': '村（社区）为空',
  'code-ignored': '代码在地区树中没有，已按名称导入（提示）',
  file: '表格',
};

export function groupProblems(errors: RowError[], warnings: RowError[]): ProblemGroup[] {
  const groups = new Map<string, ProblemGroup & { seen: Set<number> }>();
  const add = (error: RowError, warning: boolean) => {
    const cause = error.cause ?? `column:${error.column ?? ''}`;
    let group = groups.get(cause);
    if (!group) {
      const title = CAUSE_TITLES[cause] ?? `${error.column ?? ''}填写有误`;
      group = { cause, title, count: 0, rows: [], example: error.message, seen: new Set(), ...(warning ? { warning } : {}) };
      groups.set(cause, group);
    }
    if (group.seen.has(error.row)) return;
    group.seen.add(error.row);
    group.count += 1;
    if (group.rows.length < MAX_GROUP_ROWS) group.rows.push(error.row);
  };
  for (const error of errors) add(error, false);
  for (const warning of warnings) add(warning, true);
  return [...groups.values()]
    .map(({ seen: _seen, ...group }) => ({ ...group, rows: group.rows.sort((a, b) => a - b) }))
    .sort((a, b) => Number(a.warning ?? false) - Number(b.warning ?? false) || b.count - a.count);
}

export function summaryLine(importable: number, townships: number, errorRows: number): string {
  return `可导入 ${importable} 行，需确认 ${townships} 个乡镇名称，${errorRows} 行有错误`;
}

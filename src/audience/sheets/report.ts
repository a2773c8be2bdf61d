export interface RowError {
  row: number;
  column?: string;
  message: string;
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
  /** Villages the sheet named with a code the tree lacked, created under their township (group imports). */
  villagesCreated?: number;
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

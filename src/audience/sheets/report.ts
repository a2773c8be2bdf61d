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
}

export interface ImportOptions {
  dryRun: boolean;
  /** Write the good rows even when others have errors. */
  partial: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Errors are listed in full up to this many; the count is always exact. */
export const MAX_REPORTED_ERRORS = 1_000;

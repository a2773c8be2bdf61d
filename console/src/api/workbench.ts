// Shapes of GET /api/workbench/counts (src/workbench/schemas.ts).
export interface SetupStep {
  key: 'county' | 'ledger' | 'robot' | 'accounts' | 'notice';
  label: string;
  done: boolean;
  path: string;
}

/** A count is null when the caller's role has no such queue. */
export interface WorkbenchCounts {
  month: string;
  noticesInReview: number | null;
  campaignsInReview: number | null;
  failed: number | null;
  uncertain: number | null;
  awaitingTasks: number | null;
  myTasks: number | null;
  casesToHandle: number | null;
  newTips: number;
  awaitingByOfficer: { name: string; phone: string | null; open: number }[];
  setup: SetupStep[] | null;
}

// GET /api/workbench/counts (src/workbench/schemas.ts), as generated from the OpenAPI document.
import type { ApiReply } from './shapes';

/** A count is null when the caller's role has no such queue. */
export type WorkbenchCounts = ApiReply<'/api/workbench/counts'>;
export type SetupStep = NonNullable<WorkbenchCounts['setup']>[number];

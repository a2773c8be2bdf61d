// The workbench's counts, shared by the home screen and the navigation badges: one request
// (GET /api/workbench/counts) per navigation, however many entries show a count.
import { ref } from 'vue';
import { http, unwrap } from '../api/client';
import type { WorkbenchCounts } from '../api/workbench';

export const workbenchCounts = ref<WorkbenchCounts | null>(null);
let inFlight: Promise<WorkbenchCounts | null> | null = null;

/** Reads the counts again (a request already under way is shared). */
export function refreshWorkbench(): Promise<WorkbenchCounts | null> {
  inFlight ??= unwrap(http.GET('/api/workbench/counts'))
    .then(
      (counts) => {
        workbenchCounts.value = counts;
        return counts;
      },
      () => workbenchCounts.value,
    )
    .finally(() => {
      inFlight = null;
    });
  return inFlight;
}

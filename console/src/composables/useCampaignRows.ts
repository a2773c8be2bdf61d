// A campaign page panel's rows, read from one of the campaign's list endpoints (typed by the
// generated schema): loaded on mount and when the campaign changes, reloadable by the page
// (progress events), with the API's Chinese message (or `failure`) on error.
import { type Ref, onMounted, ref, watch } from 'vue';
import { ApiError, http, unwrap } from '../api/client';
import type { Row } from '../api/shapes';

type RowsPath = '/api/campaigns/{id}/wecom-tasks';

export function useCampaignRows<P extends RowsPath>(campaignId: () => string, path: P, failure: string) {
  const rows = ref([]) as Ref<Row<P>[]>;
  const error = ref('');
  async function load() {
    error.value = '';
    try {
      // One of two typed paths; openapi-fetch cannot take a union of paths in one call.
      const read = http.GET as unknown as (p: RowsPath, init: { params: { path: { id: string } } }) => Promise<{ data?: Row<P>[]; response: Response }>;
      rows.value = await unwrap(read(path, { params: { path: { id: campaignId() } } }));
    } catch (e) {
      error.value = e instanceof ApiError ? e.message : failure;
    }
  }
  onMounted(load);
  watch(campaignId, load);
  return { rows, error, load };
}

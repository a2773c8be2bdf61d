// A campaign page panel's rows, read from one of the campaign's endpoints
// (/api/campaigns/:id/<what>): loaded on mount and when the campaign changes, reloadable by
// the page (progress events), with the API's Chinese message (or `failure`) on error.
import { type Ref, onMounted, ref, watch } from 'vue';
import { ApiError, get } from '../api/client';

export function useCampaignRows<T>(campaignId: () => string, what: string, failure: string) {
  const rows = ref([]) as Ref<T[]>;
  const error = ref('');
  async function load() {
    error.value = '';
    try {
      rows.value = await get<T[]>(`/api/campaigns/${campaignId()}/${what}`);
    } catch (e) {
      error.value = e instanceof ApiError ? e.message : failure;
    }
  }
  onMounted(load);
  watch(campaignId, load);
  return { rows, error, load };
}

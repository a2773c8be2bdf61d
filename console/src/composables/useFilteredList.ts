// A list screen's filters around its keyset list: the query form's values, 搜索 / 重置, 导出 of
// every row the filters select (same filters and sort as the screen), and the page size.
// 通告 and 推送 share it with components/ListQueryForm.vue.
import { reactive, ref } from 'vue';
import { ApiError, download } from '../api/client';
import { dateRangeQuery } from '../labels';
import { useKeysetList } from './useKeysetList';

type QueryValue = string | number | boolean | undefined | null;

/** Every list's form has a text search and a creation-date range; the rest is the screen's. */
export interface ListFilters {
  text: string;
  range: [string, string] | null;
}

export function useFilteredList<T extends { id: string }, F extends ListFilters>(options: {
  /** The API path of the list, e.g. '/api/notices', and of its export. */
  path: string;
  exportPath: string;
  /** The empty form (重置 goes back to it). */
  blank: () => F;
  /** The screen's own filters as API parameters (the text and the range are added). */
  params: (filters: F) => Record<string, QueryValue>;
  exportError?: string;
}) {
  const filters = reactive(options.blank()) as F;
  const params = () => ({ ...options.params(filters), q: filters.text.trim(), ...dateRangeQuery(filters.range) });
  const list = useKeysetList<T>({ path: options.path, query: params });
  const exporting = ref(false);

  function reset() {
    Object.assign(filters, options.blank());
    void list.search();
  }
  async function exportSheet(onError: (message: string) => void) {
    exporting.value = true;
    try {
      await download(options.exportPath, { ...params(), sort: list.sort.value });
    } catch (e) {
      onError(e instanceof ApiError ? e.message : (options.exportError ?? '导出失败，请稍后再试'));
    } finally {
      exporting.value = false;
    }
  }
  function setPageSize(n: number) {
    list.pageSize.value = n;
    void list.search();
  }
  return { filters, list, exporting, reset, exportSheet, setPageSize };
}

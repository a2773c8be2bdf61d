// A list screen's filters around its keyset list: the query form's values, 搜索 / 重置, 导出 of
// every row the filters select (same filters and sort as the screen), and the list (whose pager
// takes it whole). 通告, 推送, 群组 and 用户 share it with components/ListQueryForm.vue.
import { reactive, ref } from 'vue';
import { ApiError, download } from '../api/client';
import { dateRangeQuery } from '../labels';
import { type ListSort, type PageRequest, useList } from './useList';

type QueryValue = string | number | boolean | undefined;

/** Every list's form has a text search and a creation-date range; the rest is the screen's. */
export interface ListFilters {
  text: string;
  range: [string, string] | null;
}

export function useFilteredList<T extends { id: string }, F extends ListFilters, S extends string = ListSort>(options: {
  /** Reads one page with the filters as API parameters (a typed call, e.g. http.GET('/api/notices')). */
  load: (query: Record<string, QueryValue>, page: PageRequest<S>) => Promise<T[]>;
  /** The API path of the export of what the filters select (none: the screen has no such export). */
  exportPath?: string;
  /** The empty form (重置 goes back to it). */
  blank: () => F;
  /** The screen's own filters as API parameters (the text and the range are added). */
  params: (filters: F) => Record<string, QueryValue>;
  exportError?: string;
  /** The first order (default newest first) and page size (default 10). */
  sort?: S;
  pageSize?: number;
}) {
  const filters = reactive(options.blank()) as F;
  const params = (): Record<string, QueryValue> => {
    const all: Record<string, QueryValue | null> = { ...options.params(filters), q: filters.text.trim(), ...dateRangeQuery(filters.range) };
    // Empty filters are left out: the API reads a missing parameter as 全部.
    return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== '' && v !== null && v !== undefined)) as Record<string, QueryValue>;
  };
  const list = useList<T, S>({ load: (page) => options.load(params(), page), sort: options.sort, pageSize: options.pageSize });
  const exporting = ref(false);

  function reset() {
    Object.assign(filters, options.blank());
    void list.search();
  }
  async function exportSheet(onError: (message: string) => void) {
    if (!options.exportPath) return;
    exporting.value = true;
    try {
      await download(options.exportPath, { ...params(), sort: list.sort.value });
    } catch (e) {
      onError(e instanceof ApiError ? e.message : (options.exportError ?? '导出失败，请稍后再试'));
    } finally {
      exporting.value = false;
    }
  }
  return { filters, list, exporting, reset, exportSheet, params };
}
